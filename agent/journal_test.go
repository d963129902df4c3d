package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
)

func journalRemote(t *testing.T) string {
	for _, p := range []string{"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			if _, err := exec.LookPath("journalctl"); err == nil {
				return p
			}
		}
	}
	msg := "systemd-journal-remote or journalctl missing: apt-get install -y systemd-journal-remote"
	if os.Getenv("BANFLEET_E2E") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestAgentJournalJail: a Fail2Ban sshd jail with backend
// systemd[journalfiles=…] reads a real journal file (written by
// systemd-journal-remote), matches with filter.d/sshd.conf's journal form
// or with the built-in sshd filter, and its offences make a ban.
func TestAgentJournalJail(t *testing.T) {
	remote := journalRemote(t)
	t.Run("filter.d", func(t *testing.T) {
		tr := f2bref.Require(t)
		testJournalJail(t, remote, "fail2ban: "+tr.ConfDir+"\n", "")
	})
	t.Run("builtin", func(t *testing.T) {
		testJournalJail(t, remote, "", "    filter: sshd\n    journalmatch: _SYSTEMD_UNIT=ssh.service\n")
	})
}

// testJournalJail runs one agent with jail sshd on a fresh journal file;
// top and jail are extra YAML lines for the config's top level and the jail.
func testJournalJail(t *testing.T, remote, top, jail string) {
	dir := t.TempDir()

	// Three sshd failures in the journal, as journald stores them.
	var exp bytes.Buffer
	now := time.Now()
	for i := range 3 {
		ts := now.Add(time.Duration(i-3) * time.Second).UnixMicro()
		fmt.Fprintf(&exp, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=h1\n_SYSTEMD_UNIT=ssh.service\n_COMM=sshd\nSYSLOG_IDENTIFIER=sshd\n_PID=%d\nMESSAGE=Failed password for root from 203.0.113.77 port %d ssh2\n\n",
			ts, 1000000+i, 700+i, 40000+i)
	}
	jfile := filepath.Join(dir, "j", "sshd.journal")
	require.NoError(t, os.MkdirAll(filepath.Dir(jfile), 0o755))
	cmd := exec.Command(remote, "--output="+jfile, "-")
	cmd.Stdin = &exp
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	yaml := fmt.Sprintf("host: h1\n%sstate_dir: %s\nfirewall: {backend: none}\nmetrics: {listen: \"\"}\njails:\n  sshd:\n    backend: 'systemd[journalfiles=\"%s\"]'\n    findtime: 1h\n%s",
		top, filepath.Join(dir, "state"), jfile, jail)
	cfgFile := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(yaml), 0o600))

	ns := natstest.Start(t)
	acfg, _, err := config.LoadAgent(config.Source{File: cfgFile, Environ: []string{"BANFLEET_AGENT_NATS_URL=" + ns.URL}})
	require.NoError(t, err)
	require.True(t, acfg.Jails["sshd"].FromJournal())

	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	// The coordinator names the jail: its maxretry 3 wins over the 5 the
	// agent reports from Debian's jail.conf.
	ccfg := coordConfig(config.CoordNATS{URL: ns.URL}, 3, time.Hour)
	done := make(chan error, 2)
	co := mustServe(t, ccfg, log, prometheus.NewRegistry())
	go func() { done <- co.Run(ctx) }()
	ag := mustNew(t, acfg, log, prometheus.NewRegistry(), "test")
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			require.NoError(t, <-done)
		}
	})
	require.Eventually(t, func() bool {
		st, err := bans.Open(ctx, ns.JS, false, 0)
		if err != nil {
			return false
		}
		b, err := st.Get(ctx, "sshd", netip.MustParseAddr("203.0.113.77"))
		return err == nil && b.Reason.Count == 3
	}, 20*time.Second, 50*time.Millisecond)
}
