package agent

import (
	"context"
	"log/slog"
	"net/netip"
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
)

// clock is a test clock the agent reads.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// An outage's first failures count: offences seen in its first second,
// before the agent knows NATS is away (offline.after), ban locally as soon
// as it does, if they are still within findtime; the never-ban checks hold
// for them too.
func TestOfflineFromFirstSecond(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	offlineIgnore, err := netaddr.ParseSet([]string{"10.0.0.0/8"})
	require.NoError(t, err)
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: "nats://198.51.100.10:4222"},
		Offline: config.Offline{Ban: true, After: 10 * time.Second, Ignore: offlineIgnore},
		Jails: map[string]config.AgentJail{
			"sshd":  {Ports: []uint16{22}, MaxRetry: 5, FindTime: time.Minute, BanTime: time.Hour},
			"short": {Ports: []uint16{80}, MaxRetry: 3, FindTime: 5 * time.Second, BanTime: time.Hour},
		}}
	log := slog.New(slog.DiscardHandler)
	fw := firewall.NewNone(log)
	a := newAgent(cfg, log, prometheus.NewRegistry(), "test")
	a.now = clk.now
	a.off = newOffline(cfg, clk.now())
	a.off.connected()
	a.natsAddrs = a.resolveNATS(context.Background())
	a.pub = publish.New(nil, publish.Options{Host: "h1", Logger: log})
	a.enf = enforce.New(enforce.Options{Backend: fw, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}, {Name: "short", Ports: []uint16{80}}},
		Own: &netaddr.Set{}, Logger: log, Registry: prometheus.NewRegistry(), Now: clk.now})
	a.exempt = &fleetExempt{file: filepath.Join(t.TempDir(), "fleet-exempt.json"), log: log}
	a.exempt.take(exemptRecord(t, "10.77.0.12/32"), true)
	held := func() []string {
		es, err := fw.List()
		require.NoError(t, err)
		var out []string
		for _, e := range es {
			out = append(out, e.Jail+"/"+e.Addr.String())
		}
		return out
	}

	// The connection is lost; in the outage's first second six failures
	// from the attacker, six from a fleet host, six from an address of
	// offline.ignoreip, and three in a jail whose findtime is 5 s.
	clk.advance(time.Minute)
	a.off.disconnected(clk.now())
	for range 6 {
		clk.advance(100 * time.Millisecond)
		for _, addr := range []string{"203.0.113.9", "10.77.0.12", "10.1.2.3"} {
			a.decideAlone("sshd", netip.MustParseAddr(addr), clk.now())
		}
		a.banDue(clk.now())
	}
	for range 3 {
		a.decideAlone("short", netip.MustParseAddr("198.51.100.7"), clk.now())
	}
	// A reachable-looking address below maxretry.
	for range 4 {
		a.decideAlone("sshd", netip.MustParseAddr("192.0.2.4"), clk.now())
	}
	require.Empty(t, held(), "NATS is not away yet: nothing banned alone")

	// 9.9 s into the outage: still not away.
	clk.advance(9*time.Second + 300*time.Millisecond)
	a.banDue(clk.now())
	require.Empty(t, held())

	// offline.after has passed: the attacker is banned from the failures
	// already seen; the fleet host and offline.ignoreip never are, nor the
	// address below maxretry, nor the jail whose findtime has passed.
	clk.advance(200 * time.Millisecond)
	a.banDue(clk.now())
	require.Equal(t, []string{"sshd/203.0.113.9"}, held())
	require.Equal(t, 1, a.enf.Local())
	require.True(t, a.enf.LocalOnly("sshd", netip.MustParseAddr("203.0.113.9")))
	es, err := fw.List()
	require.NoError(t, err)
	require.InDelta(t, time.Hour.Seconds(), es[0].Timeout.Seconds(), 1, "for the jail's bantime")

	// Due once: the window was forgotten with the ban.
	a.banDue(clk.now())
	require.Equal(t, 1, a.enf.Local())

	// One more failure of the address below maxretry bans at once.
	a.decideAlone("sshd", netip.MustParseAddr("192.0.2.4"), clk.now())
	require.ElementsMatch(t, []string{"sshd/203.0.113.9", "sshd/192.0.2.4"}, held())
}

// offline.due on its own: what reached maxretry while connected is banned
// once away only while its window still holds maxretry offences.
func TestOfflineDue(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cfg := &config.Agent{Offline: config.Offline{Ban: true, After: 10 * time.Second}, Jails: map[string]config.AgentJail{
		"sshd": {Ports: []uint16{22}, MaxRetry: 3, FindTime: time.Minute, BanTime: time.Hour},
	}}
	o := newOffline(cfg, t0)
	no := func() bool { return false }
	keep := func(string, netip.Addr) bool { return false }
	a1, a2 := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Second)
		_, ok := o.offence("sshd", a1, at, at, "h1", no)
		require.False(t, ok)
		at = at.Add(30 * time.Second)
		_, ok = o.offence("sshd", a2, at, at, "h1", no)
		require.False(t, ok)
	}
	// 62 s after a1's first offence only two of its three are within findtime.
	now := t0.Add(62 * time.Second)
	bans := o.due(now, "h1", keep)
	require.Len(t, bans, 1)
	b := bans[0]
	require.Equal(t, a2, b.Addr)
	require.Equal(t, 3, b.Reason.Count)
	require.Equal(t, now.Add(time.Hour), b.Expires)
	require.Equal(t, []uint16{22}, b.Ports)
	require.Empty(t, o.due(now, "h1", keep), "each address is due once")

	// skip drops an address for good.
	for i := range 3 {
		at := now.Add(time.Duration(i) * time.Second)
		_, _ = o.offence("sshd", a1, at, at, "h1", no)
	}
	require.Empty(t, o.due(now.Add(3*time.Second), "h1", func(string, netip.Addr) bool { return true }))
	require.Empty(t, o.due(now.Add(3*time.Second), "h1", keep))
}
