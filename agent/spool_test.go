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
		ag := mustNew(t, cfg, slog.New(slog.DiscardHandler), reg, "test")
		go func() { done <- ag.Run(ctx) }()
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
