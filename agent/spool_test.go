package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/coordinator/natsd"
	"github.com/banfleet/banfleet/shared/subject"
)

// TestOffenceSurvivesOutageAndRestart: with NATS away, an offence cannot be
// stored; the agent stops; its saved position stays before that line; once
// NATS is back, the restarted agent reads the line again and publishes it.
func TestOffenceSurvivesOutageAndRestart(t *testing.T) {
	addr := freeAddr(t) // nothing listens there yet

	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	require.NoError(t, os.WriteFile(logPath, []byte("Nov 26 06:00:00 h1 sshd[1]: Server listening\n"), 0o600))
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: "nats://" + addr}, StateDir: filepath.Join(dir, "state"),
		Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: time.Second, Reconcile: time.Minute,
		Jails: map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logPath}, Ports: []uint16{22}, Protocol: "tcp"}}}

	run := func(reg *prometheus.Registry) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- agent.New(cfg, slog.New(slog.DiscardHandler), reg, "test").Run(ctx) }()
		return func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(15 * time.Second):
				t.Fatal("agent did not stop")
			}
		}
	}

	reg := prometheus.NewRegistry()
	stop := run(reg)
	waitGauge(t, reg, "banfleet_agent_sources_ready", 1) // following auth.log from its end
	line := fmt.Sprintf("%s h1 sshd[7]: Failed password for root from 203.0.113.9 port 4242 ssh2\n", time.Now().Format(time.Stamp))
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(line)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Eventually(t, func() bool { return counter(t, reg, "banfleet_agent_failures_total") == 1 }, 10*time.Second, 20*time.Millisecond)
	stop()
	state, err := os.ReadFile(filepath.Join(dir, "state", "positions.json"))
	require.NoError(t, err)
	start := len("Nov 26 06:00:00 h1 sshd[1]: Server listening\n")
	require.Contains(t, string(state), fmt.Sprintf(`"offset": %d`, start), "the saved position stays before the unsent offence")

	// NATS comes back (with the stream the coordinator would make).
	srv, err := natsd.Start(natsd.Options{Listen: addr, StoreDir: t.TempDir(), Name: "back"})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}})
	require.NoError(t, err)

	stop = run(prometheus.NewRegistry())
	defer stop()
	require.Eventually(t, func() bool {
		info, err := st.Info(context.Background())
		return err == nil && info.State.Msgs == 1
	}, 15*time.Second, 50*time.Millisecond, "the restarted agent read the line again and published it")
	msg, err := st.GetMsg(context.Background(), 1)
	require.NoError(t, err)
	require.True(t, strings.Contains(string(msg.Data), "203.0.113.9"))
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}

// TestReadsOnWhileNATSAway: NATS is away and the offence queue (4 here) is
// full; the agent reads on for its own decisions — an attacker after 12
// other offences is still banned locally — and once NATS is back it reads
// the deferred offences again and sends every offence exactly once.
func TestReadsOnWhileNATSAway(t *testing.T) {
	addr := freeAddr(t) // nothing listens there yet
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	require.NoError(t, os.WriteFile(logPath, []byte("Nov 26 06:00:00 h1 sshd[1]: Server listening\n"), 0o600))
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: "nats://" + addr}, StateDir: filepath.Join(dir, "state"),
		Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: time.Second, Reconcile: time.Minute,
		Offline: config.Offline{Ban: true, After: time.Second},
		Jails:   map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logPath}, Ports: []uint16{22}, Protocol: "tcp", MaxRetry: 2}}}
	reg := prometheus.NewRegistry()
	a := agent.New(cfg, slog.New(slog.DiscardHandler), reg, "test")
	agent.SetQueue(a, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("agent did not stop")
		}
	})
	waitGauge(t, reg, "banfleet_agent_sources_ready", 1)
	waitGauge(t, reg, "banfleet_agent_nats_unreachable", 1)

	// 12 offences from 12 addresses (one each: no local ban), then two from
	// the attacker.
	var lines strings.Builder
	now := time.Now().Format(time.Stamp)
	for i := range 12 {
		fmt.Fprintf(&lines, "%s h1 sshd[%d]: Failed password for root from 198.51.100.%d port %d ssh2\n", now, 100+i, i+1, 40000+i)
	}
	for i := range 2 {
		fmt.Fprintf(&lines, "%s h1 sshd[%d]: Failed password for root from 203.0.113.9 port %d ssh2\n", now, 200+i, 50000+i)
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(lines.String())
	require.NoError(t, err)
	require.NoError(t, f.Close())

	require.Eventually(t, func() bool { return counter(t, reg, "banfleet_agent_local_bans_total") == 1 }, 10*time.Second, 20*time.Millisecond,
		"the attacker, 13th and 14th offences, is banned locally although the queue holds 4")
	require.Positive(t, counter(t, reg, "banfleet_agent_offences_deferred_total"))
	// Reading on moved nothing that is saved: the position kept for a
	// restart is still before the first unsent offence.
	first := fmt.Sprintf(`"offset": %d`, len("Nov 26 06:00:00 h1 sshd[1]: Server listening\n"))
	require.Eventually(t, func() bool {
		state, err := os.ReadFile(filepath.Join(dir, "state", "positions.json"))
		return err == nil && strings.Contains(string(state), first)
	}, 5*time.Second, 50*time.Millisecond)
	time.Sleep(1500 * time.Millisecond) // a negative: a later save does not move it
	state, err := os.ReadFile(filepath.Join(dir, "state", "positions.json"))
	require.NoError(t, err)
	require.Contains(t, string(state), first)

	// NATS comes back (with the stream the coordinator would make).
	srv, err := natsd.Start(natsd.Options{Listen: addr, StoreDir: t.TempDir(), Name: "back"})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}, Duplicates: time.Minute})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := st.Info(context.Background())
		return err == nil && info.State.Msgs == 14
	}, 20*time.Second, 50*time.Millisecond, "every offence stored once NATS is back")
	require.Equal(t, 14.0, counter(t, reg, "banfleet_agent_offences_published_total"), "each sent once")
	require.Zero(t, counter(t, reg, "banfleet_agent_offences_duplicate_total"), "none sent twice")
	require.Equal(t, 1.0, counter(t, reg, "banfleet_agent_local_bans_total"), "lines read again are not counted again")
	time.Sleep(200 * time.Millisecond) // a negative: nothing more arrives
	info, err := st.Info(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 14, info.State.Msgs)
}
