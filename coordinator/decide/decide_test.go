package decide

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/wire"
)

var t0 = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

func testConfig(t *testing.T, scope string) *config.Coord {
	ign, err := netaddr.ParseSet([]string{"10.0.0.0/8"})
	require.NoError(t, err)
	pol := config.JailPolicy{BanTime: 5 * time.Second, FindTime: 10 * time.Minute, MaxRetry: 3, Scope: scope, Ports: []uint16{22}}
	return &config.Coord{Defaults: pol, Jails: map[string]config.JailPolicy{"sshd": pol}, Ignore: ign}
}

func off(host, addr string, at time.Time) *wire.Offence {
	return &wire.Offence{ID: host + at.String(), Host: host, Jail: "sshd", Addr: netip.MustParseAddr(addr), Time: at}
}

func TestSpreadAttack(t *testing.T) {
	cases := []struct {
		scope string
		want  []Outcome
	}{
		{"fleet", []Outcome{Counted, Counted, Banned}},
		{"host", []Outcome{Counted, Counted, Counted}},
	}
	for _, c := range cases {
		t.Run(c.scope, func(t *testing.T) {
			e := New(testConfig(t, c.scope), "coord:test")
			var ban *wire.Ban
			for i, h := range []string{"h1", "h2", "h3"} {
				now := t0.Add(time.Duration(i) * time.Second)
				var got Outcome
				got, ban = e.Offer(off(h, "203.0.113.9", now), now)
				require.Equal(t, c.want[i], got, "offence on %s", h)
			}
			if c.scope == "fleet" {
				require.NotNil(t, ban)
				require.Equal(t, 3, ban.Reason.Count)
				require.Equal(t, []string{"h1", "h2", "h3"}, ban.Reason.Hosts)
				require.Equal(t, t0.Add(2*time.Second+5*time.Second), ban.Expires)
				require.Equal(t, []uint16{22}, ban.Ports)
			}
		})
	}
}

func TestNeverBanned(t *testing.T) {
	e := New(testConfig(t, "fleet"), "c")
	e.Fleet().Replace([]netip.Prefix{netip.MustParsePrefix("192.0.2.11/32")})
	for i := range 5 {
		got, _ := e.Offer(off("h1", "10.1.2.3", t0), t0.Add(time.Duration(i)))
		require.Equal(t, Ignored, got)
		got, _ = e.Offer(off("h1", "192.0.2.11", t0), t0)
		require.Equal(t, Fleet, got)
		got, _ = e.Offer(off("h1", "::ffff:192.0.2.11", t0), t0)
		require.Equal(t, Fleet, got, "mapped form of a fleet address")
	}
}

func TestPunishedOffencesDoNotCountTwice(t *testing.T) {
	e := New(testConfig(t, "fleet"), "c")
	for i := range 3 {
		e.Offer(off("h1", "203.0.113.9", t0), t0.Add(time.Duration(i)))
	}
	// A coordinator restart replays the same offences: the ban history says they were punished.
	e2 := New(testConfig(t, "fleet"), "c")
	e2.Remember("sshd", netip.MustParseAddr("203.0.113.9"), t0)
	for range 3 {
		got, _ := e2.Offer(off("h1", "203.0.113.9", t0), t0.Add(time.Minute))
		require.Equal(t, Punished, got)
	}
	// New offences count again.
	later := t0.Add(2 * time.Minute)
	got, _ := e2.Offer(off("h1", "203.0.113.9", later), later)
	require.Equal(t, Counted, got)
}

func TestStaleAndSweep(t *testing.T) {
	e := New(testConfig(t, "fleet"), "c")
	got, _ := e.Offer(off("h1", "203.0.113.9", t0), t0.Add(11*time.Minute))
	require.Equal(t, Stale, got)
	e.Offer(off("h1", "203.0.113.10", t0), t0)
	require.Equal(t, 1, e.Sweep(t0.Add(time.Minute)))
	require.Equal(t, 0, e.Sweep(t0.Add(11*time.Minute)))
}

func TestReportedPolicies(t *testing.T) {
	cfg := testConfig(t, "fleet")
	e := New(cfg, "c")
	merged := MergeReported(cfg.Defaults, []map[string]wire.JailPolicy{
		{"nginx-http-auth": {MaxRetry: 4, FindTime: 60, BanTime: 600, Ports: []uint16{80}}},
		{"nginx-http-auth": {MaxRetry: 2, FindTime: 30, BanTime: -1, Ports: []uint16{443, 80}}, "postfix": {}},
	})
	require.Equal(t, config.JailPolicy{MaxRetry: 2, FindTime: time.Minute, BanTime: -1, Scope: "fleet", Ports: []uint16{80, 443}}, merged["nginx-http-auth"])
	require.Equal(t, cfg.Defaults.MaxRetry, merged["postfix"].MaxRetry, "unset thresholds come from the defaults")
	e.SetReported(merged)
	require.Equal(t, 3, e.Policy("sshd").MaxRetry, "the coordinator's own jail config wins")
	require.Equal(t, 2, e.Policy("nginx-http-auth").MaxRetry)
	o := off("h1", "203.0.113.9", t0)
	o.Jail = "nginx-http-auth"
	e.Offer(o, t0)
	got, ban := e.Offer(o, t0)
	require.Equal(t, Banned, got)
	require.True(t, ban.Expires.IsZero(), "bantime -1 is permanent")
}

func TestJailsBounded(t *testing.T) {
	e := New(testConfig(t, "fleet"), "c")
	for i := range MaxJails + 5 {
		o := off("h1", "203.0.113.9", t0)
		o.Jail = fmt.Sprintf("j%d", i)
		got, _ := e.Offer(o, t0)
		if i < MaxJails {
			require.NotEqual(t, Refused, got)
		} else {
			require.Equal(t, Refused, got, "jail names come from messages: their number is bounded")
		}
	}
}
