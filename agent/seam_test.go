package agent_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent"
	"github.com/banfleet/banfleet/config"
)

// New builds everything and fails with an error naming what; Run only
// runs, and only once.
func TestNewFailsRunRunsOnce(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	require.NoError(t, os.WriteFile(logPath, nil, 0o600))
	cfg := func(state string) *config.Agent {
		return &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: "nats://" + freeAddr(t)}, StateDir: state,
			Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: time.Second, Reconcile: time.Minute,
			Jails: map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logPath}, Ports: []uint16{22}, Protocol: "tcp"}}}
	}
	log := slog.New(slog.DiscardHandler)

	// A state directory that cannot be made: New says so, Run is never reached.
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err := agent.New(t.Context(), cfg(filepath.Join(blocker, "state")), log, prometheus.NewRegistry(), "test")
	require.ErrorContains(t, err, "state dir")

	// A saved positions file that is not JSON: refused with its path.
	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.MkdirAll(bad, 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "positions.json"), []byte("{not json"), 0o600))
	_, err = agent.New(t.Context(), cfg(bad), log, prometheus.NewRegistry(), "test")
	require.ErrorContains(t, err, "positions.json")

	a := mustNew(t, cfg(filepath.Join(dir, "state")), log, prometheus.NewRegistry(), "test")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not stop")
	}
	require.EqualError(t, a.Run(t.Context()), "agent: Run called twice")
}
