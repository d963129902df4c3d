package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
)

// TestTwoJailsOneLine: two jails read one file and both match a line (as
// postfix and dovecot on mail.log): each jail counts it. The offence's
// identity (its JetStream Msg-Id) holds the jail; without it JetStream's
// de-duplication kept only the first jail's offence.
func TestTwoJailsOneLine(t *testing.T) {
	ns := natstest.Start(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	require.NoError(t, os.WriteFile(logPath, nil, 0o600))
	ccfg := coordConfig(config.CoordNATS{URL: ns.URL}, 5, time.Hour)
	ccfg.Jails["sshd-twice"] = ccfg.Jails["sshd"]
	jail := config.AgentJail{Filter: "sshd", LogPath: []string{logPath}, Ports: []uint16{22}, Protocol: "tcp"}
	acfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: ns.URL}, StateDir: filepath.Join(dir, "state"),
		Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: 200 * time.Millisecond, Reconcile: time.Minute,
		Jails: map[string]config.AgentJail{"sshd": jail, "sshd-twice": jail}}
	creg, areg := prometheus.NewRegistry(), prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	log := slog.New(slog.DiscardHandler)
	co := mustServe(t, ccfg, log, creg)
	go func() { done <- co.Run(ctx) }()
	ag := mustNew(t, acfg, log, areg, "test")
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			require.NoError(t, <-done)
		}
	})
	waitHeartbeats(t, ns.JS, "h1")
	line := fmt.Sprintf("%s h1 sshd[7]: Failed password for root from 203.0.113.9 port 1 ssh2\n", time.Now().Format(time.Stamp))
	require.NoError(t, os.WriteFile(logPath, []byte(line), 0o600))
	require.Eventually(t, func() bool {
		return counterSum(t, creg, "banfleet_coord_offences_total") == 2
	}, 10*time.Second, 20*time.Millisecond, "both jails' offences reach the coordinator")
	mfs, err := creg.Gather()
	require.NoError(t, err)
	jails := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "banfleet_coord_offences_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "jail" && m.GetCounter().GetValue() == 1 {
					jails[lp.GetValue()] = true
				}
			}
		}
	}
	require.Equal(t, map[string]bool{"sshd": true, "sshd-twice": true}, jails)
}
