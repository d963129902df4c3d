package agent_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/internal/testutil/testpki"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// TestPerHostNATSUsers: with nats.users and nats.tls, each agent logs in as
// its host over TLS and may publish offences only under its own host token;
// the whole pipeline (offence, ban, heartbeat, firewall request) works, a
// spoofed subject or a write to the bans bucket is refused by the server,
// and so are clients without TLS or without the fleet's CA.
func TestPerHostNATSUsers(t *testing.T) {
	addr := freeAddr(t)
	url := "nats://" + addr

	dir := t.TempDir()
	pki, err := testpki.Write(dir, "127.0.0.1")
	require.NoError(t, err)
	h1Hash, err := bcrypt.GenerateFromPassword([]byte("h1-secret"), bcrypt.MinCost)
	require.NoError(t, err)
	ccfg := coordConfig(config.CoordNATS{Listen: addr, StoreDir: filepath.Join(dir, "nats"), TLS: config.ServerTLS{Cert: pki.Cert, Key: pki.Key},
		// h1's password as `coord hash-password` gives it: a bcrypt hash.
		Users: map[string]config.NATSUser{"h1": {Password: string(h1Hash), Role: "agent"}, "admin": {Password: "admin-secret", Role: "admin"}}}, 1, time.Hour)
	logPath := filepath.Join(dir, "auth.log")
	require.NoError(t, os.WriteFile(logPath, nil, 0o600))
	acfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: url, CA: pki.CA, User: "h1", Password: "h1-secret"}, StateDir: filepath.Join(dir, "state"),
		Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: 200 * time.Millisecond, Reconcile: time.Minute,
		Offline: config.Offline{Ban: true, After: time.Minute}, // reads the fleet's exemptions
		Jails:   map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logPath}, Ports: []uint16{22}, Protocol: "tcp"}}}
	areg := prometheus.NewRegistry()

	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	done := make(chan error, 2)
	co := mustServe(t, ccfg, log, prometheus.NewRegistry())
	go func() { done <- co.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			require.NoError(t, <-done)
		}
	})
	// The admin can connect once the server is up.
	var admin *nats.Conn
	require.Eventually(t, func() bool {
		admin, err = nats.Connect(url, nats.UserInfo("admin", "admin-secret"), nats.RootCAs(pki.CA))
		return err == nil
	}, 15*time.Second, 50*time.Millisecond)
	t.Cleanup(admin.Close)
	require.True(t, admin.TLSRequired(), "the server requires TLS")
	_, err = nats.Connect(url, nats.UserInfo("h1", "wrong"), nats.RootCAs(pki.CA))
	require.ErrorIs(t, err, nats.ErrAuthorization, "a wrong password is refused")
	_, err = nats.Connect(url, nats.UserInfo("h1", "h1-secret"))
	require.ErrorContains(t, err, "certificate", "a server certificate the client cannot verify is refused")
	plain, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer plain.Close()
	_ = plain.SetDeadline(time.Now().Add(10 * time.Second))
	info, err := bufio.NewReader(plain).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, info, `"tls_required":true`, "the server says TLS is required")
	// A verbose CONNECT and a PING in plaintext: a server that took them
	// would answer +OK and PONG and keep the connection open; this one
	// closes it (the bytes are no TLS handshake).
	_, err = plain.Write([]byte("CONNECT {\"verbose\":true,\"user\":\"h1\",\"pass\":\"h1-secret\"}\r\nPING\r\n"))
	require.NoError(t, err)
	rest, err := io.ReadAll(plain)
	require.NoError(t, err, "the server closed the plaintext connection (no timeout)")
	require.NotContains(t, string(rest), "+OK")
	require.NotContains(t, string(rest), "PONG")
	js, err := jetstream.New(admin)
	require.NoError(t, err)
	var st *bans.Store
	require.Eventually(t, func() bool { st, err = bans.Open(ctx, js, false, 0); return err == nil }, 15*time.Second, 50*time.Millisecond)

	ag := mustNew(t, acfg, log, areg, "test")
	go func() { done <- ag.Run(ctx) }()
	// The agent's heartbeat arrives (it may write its own key), which it
	// sends once it follows its log.
	// (The coordinator creates the agents bucket after the bans bucket.)
	require.Eventually(t, func() bool {
		kv, err := js.KeyValue(ctx, subject.AgentsBucket)
		if err != nil {
			return false
		}
		_, err = kv.Get(ctx, "h1")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)

	require.NoError(t, os.WriteFile(logPath, []byte(fmt.Sprintf("%s h1 sshd[7]: Failed password for root from 203.0.113.9 port 1 ssh2\n", time.Now().Format(time.Stamp))), 0o600))
	require.Eventually(t, func() bool {
		_, err := st.Get(ctx, "sshd", netip.MustParseAddr("203.0.113.9"))
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "the agent's offence made a ban")
	// The agent watches the bans (it may) and answers a firewall request (a response).
	require.Eventually(t, func() bool {
		msg, err := admin.Request(subject.AgentRequest("h1", "firewall"), nil, time.Second)
		if err != nil {
			return false
		}
		var fs wire.FirewallState
		return wire.Decode(msg.Data, &fs) == nil && len(fs.Entries) == 1
	}, 10*time.Second, 100*time.Millisecond)

	// The agent reads the coordinator's exemption list (ignoreip
	// 127.0.0.0/8 and its own addresses) with its login, and keeps it.
	waitGauge(t, areg, "banfleet_agent_fleet_exempt_prefixes", float64(countExempt(t, ctx, js)))
	require.FileExists(t, filepath.Join(acfg.StateDir, "fleet-exempt.json"))

	violations := make(chan error, 8)
	h1, err := nats.Connect(url, nats.UserInfo("h1", "h1-secret"), nats.RootCAs(pki.CA), nats.CustomInboxPrefix(subject.AgentInbox("h1")), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	require.NoError(t, err)
	t.Cleanup(h1.Close)
	// As h1: the exemption list can be read, not watched (no consumers on
	// the fleet bucket, whose deliver subject would be h1's to choose).
	h1js, err := jetstream.New(h1)
	require.NoError(t, err)
	fleetKV, err := h1js.KeyValue(ctx, subject.FleetBucket)
	require.NoError(t, err)
	_, err = fleetKV.Get(ctx, subject.ExemptKey)
	require.NoError(t, err)
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = fleetKV.Watch(wctx, subject.ExemptKey)
	wcancel()
	require.Error(t, err, "h1 may not create a consumer on the fleet bucket")
	select {
	case err := <-violations: // the server's report of that refusal
		require.ErrorIs(t, err, nats.ErrPermissionViolation)
	case <-time.After(5 * time.Second):
		t.Fatal("no permission violation reported for the watch")
	}

	// As h1: another host's subject, the bans bucket and the fleet bucket are refused.
	for _, subj := range []string{subject.Offence(0, "h2"), "$KV." + subject.BansBucket + ".sshd.192_0_2_1", "$KV." + subject.FleetBucket + "." + subject.ExemptKey, subject.ExemptUpdates} {
		require.NoError(t, h1.Publish(subj, []byte("{}")))
		require.NoError(t, h1.Flush())
		select {
		case err := <-violations:
			require.True(t, errors.Is(err, nats.ErrPermissionViolation), "%s: %v", subj, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("publish to %s was not refused", subj)
		}
	}
}

// countExempt returns how many prefixes the coordinator's exemption list
// holds once it has 127.0.0.0/8 (its ignoreip) and h1's own addresses (from
// h1's heartbeat; none on a host with only loopback and link-local ones).
func countExempt(t *testing.T, ctx context.Context, js jetstream.JetStream) int {
	t.Helper()
	n := 0
	require.Eventually(t, func() bool {
		agents, err := js.KeyValue(ctx, subject.AgentsBucket)
		if err != nil {
			return false
		}
		hbEnt, err := agents.Get(ctx, "h1")
		if err != nil {
			return false
		}
		var hb wire.Heartbeat
		if wire.Decode(hbEnt.Value(), &hb) != nil {
			return false
		}
		want := map[netip.Prefix]bool{netip.MustParsePrefix("127.0.0.0/8"): true}
		for _, a := range hb.Addrs {
			want[netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())] = true
		}
		kv, err := js.KeyValue(ctx, subject.FleetBucket)
		if err != nil {
			return false
		}
		ent, err := kv.Get(ctx, subject.ExemptKey)
		if err != nil {
			return false
		}
		var e wire.Exempt
		if wire.Decode(ent.Value(), &e) != nil || len(e.Prefixes) != len(want) {
			return false
		}
		for _, p := range e.Prefixes {
			if !want[p] {
				return false
			}
		}
		n = len(e.Prefixes)
		return true
	}, 15*time.Second, 50*time.Millisecond, "the coordinator's exemption list: its ignoreip and h1's addresses")
	return n
}
