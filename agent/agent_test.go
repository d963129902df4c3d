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
	"github.com/banfleet/banfleet/coordinator/serve"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/natstest"
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
	go func() { done <- serve.New(ccfg, log, prometheus.NewRegistry()).Run(ctx) }()

	dir := t.TempDir()
	logs := map[string]string{}
	for _, h := range []string{"h1", "h2"} {
		logs[h] = filepath.Join(dir, h+".log")
		require.NoError(t, os.WriteFile(logs[h], nil, 0o600))
		acfg := &config.Agent{Host: h, NATS: config.AgentNATS{URL: ns.URL}, StateDir: filepath.Join(dir, h),
			Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: 200 * time.Millisecond, Reconcile: time.Minute,
			Jails: map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logs[h]}, Ports: []uint16{22}, Protocol: "tcp"}}}
		go func() { done <- agent.New(acfg, log, prometheus.NewRegistry(), "test").Run(ctx) }()
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
	// Let the agents start following (they start at the end of the log).
	time.Sleep(300 * time.Millisecond) // followers start at the end of the log and have no readiness signal
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
}
