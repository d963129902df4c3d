package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// TestAgentToCoordinator runs a real coordinator and two agents (firewall
// backend none) in-process against a real NATS server: failures spread over
// the two hosts' logs make one fleet-wide ban that both agents enforce.
func TestAgentToCoordinator(t *testing.T) {
	ns := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	ccfg := coordConfig(config.CoordNATS{URL: ns.URL}, 3, 10*time.Minute)
	done := make(chan error, 3)
	co := mustServe(t, ccfg, log, prometheus.NewRegistry())
	go func() { done <- co.Run(ctx) }()

	dir := t.TempDir()
	logs := map[string]string{}
	for _, h := range []string{"h1", "h2"} {
		logs[h] = filepath.Join(dir, h+".log")
		require.NoError(t, os.WriteFile(logs[h], nil, 0o600))
		acfg := &config.Agent{Host: h, NATS: config.AgentNATS{URL: ns.URL}, StateDir: filepath.Join(dir, h),
			Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: 200 * time.Millisecond, Reconcile: time.Minute,
			Jails: map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logs[h]}, Ports: []uint16{22}, Protocol: "tcp"}}}
		ag := mustNew(t, acfg, log, prometheus.NewRegistry(), "test")
		go func() { done <- ag.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for range 3 {
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Error("a daemon did not stop within 10s of cancel")
			}
		}
	})

	st := func() *bans.Store {
		var s *bans.Store
		require.Eventually(t, func() bool {
			var err error
			s, err = bans.Open(ctx, ns.JS, false, 0)
			return err == nil
		}, 10*time.Second, 50*time.Millisecond)
		return s
	}()
	// An agent heartbeats once it follows its logs (from their end, on a
	// first run): a line appended after that is read.
	waitHeartbeats(t, ns.JS, "h1", "h2")
	appendLine := func(host string, n int) {
		f, err := os.OpenFile(logs[host], os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		defer f.Close()
		_, err = fmt.Fprintf(f, "%s %s sshd[%d]: Failed password for root from 203.0.113.9 port %d ssh2\n",
			time.Now().Format(time.Stamp), host, 100+n, 40000+n)
		require.NoError(t, err)
	}
	appendLine("h1", 1)
	appendLine("h2", 2)
	time.Sleep(200 * time.Millisecond) // a negative: give two offences time to (not) ban
	_, err := st.Get(ctx, "sshd", netip.MustParseAddr("203.0.113.9"))
	require.ErrorIs(t, err, bans.ErrNotFound, "two offences are below maxretry 3")
	appendLine("h1", 3)
	require.Eventually(t, func() bool {
		b, err := st.Get(ctx, "sshd", netip.MustParseAddr("203.0.113.9"))
		return err == nil && b.Reason.Count == 3 && len(b.Reason.Hosts) == 2
	}, 10*time.Second, 20*time.Millisecond)

	// Asked live, h1 says how it is: well, one file, its two lines read,
	// the ban applied, nothing unsent.
	var h wire.Health
	require.Eventually(t, func() bool {
		msg, err := ns.NC.Request(subject.AgentRequest("h1", "health"), nil, time.Second)
		if err != nil || wire.Decode(msg.Data, &h) != nil {
			return false
		}
		return h.BansApplied == 1 && h.Lines == 2
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, "h1", h.Host)
	require.Equal(t, "test", h.Version)
	require.True(t, h.SourcesReady)
	require.Equal(t, 1, h.Files)
	require.Zero(t, h.Unsent)
	require.False(t, h.LastReconcile.IsZero())
	require.Empty(t, h.FirewallError)
	require.Empty(t, h.Problems)
}

// TestHeartbeatMeansReading: the fleet lists an agent (its heartbeat) only
// once it follows its logs. Here the follower is slow to start; a line
// appended the moment the heartbeat arrives is still read (on a first run
// the follower starts at the end of the file, so a heartbeat sent before it
// had looked would let that line slip by).
func TestHeartbeatMeansReading(t *testing.T) {
	ns := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	done := make(chan error, 2)
	co := mustServe(t, coordConfig(config.CoordNATS{URL: ns.URL}, 1, time.Hour), log, prometheus.NewRegistry())
	go func() { done <- co.Run(ctx) }()
	logPath := filepath.Join(t.TempDir(), "auth.log")
	require.NoError(t, os.WriteFile(logPath, []byte("Nov 26 06:00:00 h1 sshd[1]: Server listening on 0.0.0.0 port 22.\n"), 0o600))
	acfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: ns.URL}, StateDir: t.TempDir(),
		Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: 100 * time.Millisecond, Reconcile: time.Minute,
		Jails: map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logPath}, Ports: []uint16{22}, Protocol: "tcp"}}}
	reg := prometheus.NewRegistry()
	ag := mustNew(t, acfg, log, reg, "test")
	agent.SetBeforeFollow(ag, func() { time.Sleep(500 * time.Millisecond) })
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Error("a daemon did not stop within 10s of cancel")
			}
		}
	})

	waitHeartbeats(t, ns.JS, "h1")
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "%s h1 sshd[7]: Failed password for root from 203.0.113.9 port 1 ssh2\n", time.Now().Format(time.Stamp))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Eventually(t, func() bool {
		st, err := bans.Open(ctx, ns.JS, false, 0)
		if err != nil {
			return false
		}
		_, err = st.Get(ctx, "sshd", netip.MustParseAddr("203.0.113.9"))
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the line appended right after the heartbeat was read and banned")
	waitGauge(t, reg, "banfleet_agent_sources_ready", 1)
}
