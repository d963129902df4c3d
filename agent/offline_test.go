package agent

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/enforce"
	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/agent/publish"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/wire"
)

func TestOfflineDecision(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cfg := &config.Agent{Offline: config.Offline{Ban: true, After: 10 * time.Second}, Jails: map[string]config.AgentJail{
		"sshd":     {Ports: []uint16{22}, MaxRetry: 3, FindTime: time.Minute, BanTime: time.Hour},
		"nginx":    {},                      // Fail2Ban's defaults: 5 in 10m, 10m
		"recidive": {BanTime: -time.Second}, // permanent: 24h locally
	}}
	o := newOffline(cfg, t0)
	addr := netip.MustParseAddr("203.0.113.9")
	yes := func() bool { return true }
	no := func() bool { return false }

	// Not connected yet: away once offline.after has passed.
	require.False(t, o.away(t0.Add(9*time.Second), time.Time{}))
	require.True(t, o.away(t0.Add(10*time.Second), time.Time{}))
	o.connected()
	require.False(t, o.away(t0.Add(time.Hour), time.Time{}))
	o.disconnected(t0.Add(time.Minute))
	o.disconnected(t0.Add(2 * time.Minute)) // the first loss counts
	require.True(t, o.away(t0.Add(70*time.Second), time.Time{}))
	o.connected()
	// Connected, but nothing stored for a while: away too.
	require.False(t, o.away(t0.Add(time.Hour), t0.Add(time.Hour-5*time.Second)))
	require.True(t, o.away(t0.Add(time.Hour), t0.Add(time.Hour-10*time.Second)))

	// Counting goes on while connected; maxretry reached while connected bans nothing.
	now := t0
	for i := range 3 {
		_, ok := o.offence("sshd", addr, now, now, "h1", no)
		require.False(t, ok, "offence %d while connected", i+1)
		now = now.Add(time.Second)
	}
	// NATS goes away: the next offence bans, for the jail's bantime.
	b, ok := o.offence("sshd", addr, now, now, "h1", yes)
	require.True(t, ok)
	require.Equal(t, "sshd", b.Jail)
	require.Equal(t, addr, b.Addr)
	require.Equal(t, []uint16{22}, b.Ports)
	require.Equal(t, 3, b.Reason.Count, "the window keeps the newest maxretry offences")
	require.Equal(t, []string{"h1"}, b.Reason.Hosts)
	require.Equal(t, now.Add(time.Hour), b.Expires)
	require.Contains(t, b.By, "agent:h1")
	// The window was forgotten with the ban.
	_, ok = o.offence("sshd", addr, now, now, "h1", yes)
	require.False(t, ok)

	// Offences older than findtime do not count.
	other := netip.MustParseAddr("198.51.100.4")
	for range 5 {
		_, ok := o.offence("sshd", other, now.Add(-2*time.Minute), now, "h1", yes)
		require.False(t, ok)
	}

	// Defaults: 5 within 10m; a permanent jail bans for 24h locally.
	for i := range 5 {
		b, ok = o.offence("nginx", addr, now, now, "h1", yes)
		require.Equal(t, i == 4, ok)
	}
	require.Equal(t, now.Add(10*time.Minute), b.Expires)
	for range 5 {
		b, ok = o.offence("recidive", addr, now, now, "h1", yes)
	}
	require.True(t, ok)
	require.Equal(t, now.Add(24*time.Hour), b.Expires)

	// An unknown jail is not counted; old windows are swept.
	_, ok = o.offence("nope", addr, now, now, "h1", yes)
	require.False(t, ok)
	require.Positive(t, o.tracked())
	_, _ = o.offence("sshd", netip.MustParseAddr("192.0.2.1"), now.Add(time.Hour), now.Add(time.Hour), "h1", no)
	require.Equal(t, 1, o.tracked(), "windows older than their findtime are swept")
}

// decideAlone never bans offline.ignoreip, the jail's ignoreip, the NATS
// servers' addresses or the coordinator's exemption list; others are banned once maxretry is reached while NATS
// is away.
func TestDecideAloneExemptions(t *testing.T) {
	started := time.Now().Add(-time.Minute) // never connected since: away
	offlineIgnore, err := netaddr.ParseSet([]string{"10.0.0.0/8"})
	require.NoError(t, err)
	jailIgnore, err := netaddr.ParseSet([]string{"192.0.2.0/24"})
	require.NoError(t, err)
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: "nats://198.51.100.10:4222,tls://[2001:db8::10]:4222"},
		Offline: config.Offline{Ban: true, After: time.Second, Ignore: offlineIgnore},
		Jails:   map[string]config.AgentJail{"sshd": {Ports: []uint16{22}, MaxRetry: 2, Ignore: jailIgnore}}}
	log := slog.New(slog.DiscardHandler)
	fw := firewall.NewNone(log)
	a := newAgent(cfg, log, prometheus.NewRegistry(), "test")
	a.off = newOffline(cfg, started)
	a.natsAddrs = a.resolveNATS(context.Background())
	a.pub = publish.New(nil, publish.Options{Host: "h1", Logger: log})
	a.enf = enforce.New(enforce.Options{Backend: fw, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}}, Own: &netaddr.Set{}, Logger: log, Registry: prometheus.NewRegistry()})
	// What the coordinator said before NATS went away: its ignoreip and
	// another host of the fleet.
	a.exempt = &fleetExempt{file: filepath.Join(t.TempDir(), "fleet-exempt.json"), log: log}
	a.exempt.take(exemptRecord(t, "203.0.113.64/26", "10.77.0.12/32"), true)

	for _, addr := range []string{"10.1.2.3", "192.0.2.7", "198.51.100.10", "2001:db8::10", "203.0.113.70", "203.0.113.5"} {
		for range 3 {
			a.decideAlone("sshd", netip.MustParseAddr(addr), time.Now())
		}
	}
	es, err := fw.List()
	require.NoError(t, err)
	require.Len(t, es, 1)
	require.Equal(t, "203.0.113.5", es[0].Addr.String())
	require.Equal(t, 1, a.enf.Local())
}

func exemptRecord(t *testing.T, prefixes ...string) []byte {
	t.Helper()
	e := wire.Exempt{Updated: time.Now(), By: "coord:c1"}
	for _, p := range prefixes {
		e.Prefixes = append(e.Prefixes, netip.MustParsePrefix(p))
	}
	data, err := wire.Encode(&e)
	require.NoError(t, err)
	return data
}

// The exemption list survives a restart (the agent may restart while NATS
// is away); a bad value or file never empties a good list or stops the
// agent.
func TestFleetExemptKept(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	file := filepath.Join(t.TempDir(), "fleet-exempt.json")
	in := netip.MustParseAddr("10.77.0.12")

	f := &fleetExempt{file: file, log: log}
	require.NoError(t, f.load(), "no file yet")
	require.False(t, f.Contains(in))
	f.take(exemptRecord(t, "10.77.0.0/24"), false)
	require.True(t, f.Contains(in))
	f.take([]byte(`{"v":1,"prefixes":["evil"]}`), true)
	require.True(t, f.Contains(in), "a bad value leaves the list as it was")
	older := wire.Exempt{Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Updated: time.Now().Add(-time.Hour), By: "coord:c1"}
	data, err := wire.Encode(&older)
	require.NoError(t, err)
	f.take(data, false)
	require.True(t, f.Contains(in), "an older announcement (delivered late) does not replace a newer list")
	f.take(data, true)
	require.False(t, f.Contains(in), "what the bucket holds is the current list, whatever its time")
	f.take(exemptRecord(t, "10.77.0.0/24"), true)

	restarted := &fleetExempt{file: file, log: log}
	require.NoError(t, restarted.load())
	require.True(t, restarted.Contains(in))
	require.EqualValues(t, 1, restarted.n.Load())

	require.NoError(t, os.WriteFile(file, []byte("{garbage"), 0o600))
	broken := &fleetExempt{file: file, log: log}
	require.NoError(t, broken.load())
	require.False(t, broken.Contains(in))
	require.FileExists(t, file+".bad", "the unreadable file is set aside")
	require.NoFileExists(t, file)
}
