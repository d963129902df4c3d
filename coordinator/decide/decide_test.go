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

func TestReportedPoliciesNeedMostHosts(t *testing.T) {
	cfg := testConfig(t, "fleet")
	cfg.Limits = config.Limits{MinMaxRetry: 2, MaxBanTime: time.Hour, OffenceRate: 100}
	nginx := wire.JailPolicy{MaxRetry: 4, FindTime: 60, BanTime: 600, Ports: []uint16{80},
		IgnoreIP: []netip.Prefix{netip.MustParsePrefix("192.168.77.128/25"), netip.MustParsePrefix("192.168.77.72/32")}}
	forged := wire.JailPolicy{MaxRetry: 1, FindTime: 86400, BanTime: -1}
	e := New(cfg, "c")
	e.SetReports(map[string]map[string]wire.JailPolicy{
		"h1": {"nginx-http-auth": forged, "y": forged, "sshd": forged},
		"h2": {"nginx-http-auth": nginx},
		"h3": {"nginx-http-auth": nginx},
	})
	p, src := e.Policy("sshd")
	require.Equal(t, "config", src)
	require.Equal(t, 3, p.MaxRetry, "the coordinator's own jail config wins")
	p, src = e.Policy("nginx-http-auth")
	require.Equal(t, "hosts", src)
	require.Equal(t, 4, p.MaxRetry, "the median of the reports: one host cannot lower it")
	require.Equal(t, 10*time.Minute, p.BanTime, "nor make it permanent")
	require.Equal(t, []uint16{80}, p.Ports)
	require.Equal(t, "in jail nginx-http-auth's ignoreip", must(e.NeverBan("nginx-http-auth", netip.MustParseAddr("192.168.77.130"))), "an ignoreip most hosts list is the fleet's")
	_, src = e.Policy("y")
	require.Equal(t, "", src, "a jail one host of three reports is not the fleet's")

	// A forged jail y: one message-sender's offences ban on that host
	// alone, with what it reports for y within limits (maxretry at least
	// 2, not permanent).
	for i := range 2 {
		o := off("h1", "198.51.100.7", t0)
		o.Jail = "y"
		got, ban := e.Offer(o, t0.Add(time.Duration(i)))
		if i < 1 {
			require.Equal(t, Counted, got)
			continue
		}
		require.Equal(t, BannedHost, got)
		require.Equal(t, "h1", ban.Only)
		require.Equal(t, time.Hour, ban.Expires.Sub(ban.Created))
	}
	// The fleet's ignoreip (most hosts' jail.local) holds for everyone's offences.
	for _, h := range []string{"h1", "h2", "h3"} {
		o := off(h, "192.168.77.72", t0)
		o.Jail = "nginx-http-auth"
		got, _ := e.Offer(o, t0)
		require.Equal(t, Ignored, got)
	}
	require.Equal(t, "in jail nginx-http-auth's ignoreip", must(e.NeverBan("nginx-http-auth", netip.MustParseAddr("192.168.77.200"))))
}

func must(s string, _ bool) string { return s }

func TestConsensusBounds(t *testing.T) {
	defaults := config.JailPolicy{MaxRetry: 5, FindTime: 10 * time.Minute, BanTime: 10 * time.Minute, Scope: "fleet", Quorum: 1}
	limits := config.Limits{MinMaxRetry: 2, MaxBanTime: 24 * time.Hour}
	low := wire.JailPolicy{MaxRetry: 1, BanTime: -1, FindTime: 7 * 86400}
	got := Consensus(defaults, limits, time.Hour, map[string]map[string]wire.JailPolicy{
		"h1": {"j": low}, "h2": {"j": low}, "h3": {"j": low},
	})
	require.Equal(t, 2, got["j"].MaxRetry, "at least limits.min_maxretry")
	require.Equal(t, 24*time.Hour, got["j"].BanTime, "permanent becomes limits.max_bantime")
	require.Equal(t, time.Hour, got["j"].FindTime, "at most the stream's retention")
	require.Empty(t, Consensus(defaults, limits, time.Hour, map[string]map[string]wire.JailPolicy{
		"h1": {"j": low}, "h2": {}}), "half is not most")
}

func TestQuorum(t *testing.T) {
	cfg := testConfig(t, "fleet")
	pol := cfg.Jails["sshd"]
	pol.Quorum = 2
	cfg.Jails["sshd"] = pol
	cfg.Limits.OffenceRate = 10
	e := New(cfg, "c")
	// One host (a stolen login) floods offences for an innocent address:
	// it bans there alone, once; the rest is capped or punished.
	var hostBans int
	outcomes := map[Outcome]int{}
	for i := range 10000 {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		got, ban := e.Offer(off("h1", "198.51.100.7", now), now)
		outcomes[got]++
		if ban != nil {
			require.Equal(t, "h1", ban.Only, "never a fleet ban")
			hostBans++
		}
	}
	require.Positive(t, hostBans)
	require.Equal(t, 10000-100, outcomes[Capped], "10 per second counted: %v", outcomes)
	require.Zero(t, outcomes[Banned], "no fleet ban: %v", outcomes)
	// A real attack seen by two hosts is banned fleet-wide.
	now := t0.Add(20 * time.Second)
	got, _ := e.Offer(off("h2", "203.0.113.9", now), now)
	require.Equal(t, Counted, got)
	got, _ = e.Offer(off("h2", "203.0.113.9", now), now)
	require.Equal(t, Counted, got)
	got, ban := e.Offer(off("h3", "203.0.113.9", now), now)
	require.Equal(t, Banned, got)
	require.Empty(t, ban.Only)
	require.Equal(t, []string{"h2", "h3"}, ban.Reason.Hosts)
}

func TestNeverBanSet(t *testing.T) {
	e := New(testConfig(t, "fleet"), "c")
	e.Control().Replace([]netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")})
	e.Fleet().Replace([]netip.Prefix{netip.MustParsePrefix("192.0.2.11/32")})
	for addr, want := range map[string]Outcome{"192.0.2.1": Control, "::ffff:192.0.2.1": Control, "224.0.0.1": Never, "127.0.0.1": Never,
		"fe80::1": Never, "255.255.255.255": Never, "0.0.0.0": Never, "10.9.9.9": Ignored, "192.0.2.11": Fleet} {
		for range 5 {
			got, ban := e.Offer(off("h1", addr, t0), t0)
			require.Equal(t, want, got, addr)
			require.Nil(t, ban)
		}
	}
	for addr, force := range map[string]bool{"192.0.2.1": false, "224.0.0.1": false, "10.9.9.9": true, "192.0.2.11": true} {
		reason, f := e.NeverBan("sshd", netip.MustParseAddr(addr))
		require.NotEmpty(t, reason, addr)
		require.Equal(t, force, f, addr)
	}
	reason, _ := e.NeverBan("sshd", netip.MustParseAddr("203.0.113.9"))
	require.Empty(t, reason)
}

func TestJailsBounded(t *testing.T) {
	e := New(testConfig(t, "fleet"), "c")
	for i := range MaxJails + 5 {
		o := off("h1", "203.0.113.9", t0)
		o.Jail = fmt.Sprintf("j%d", i)
		got, _ := e.Offer(o, t0)
		if i < maxUnknownJails {
			require.NotEqual(t, Refused, got)
		} else {
			require.Equal(t, Refused, got, "jail names come from messages: one host's are bounded")
		}
	}
	// Another host's jail, and the coordinator's own, still count.
	o := off("h2", "203.0.113.9", t0)
	o.Jail = "other"
	got, _ := e.Offer(o, t0)
	require.Equal(t, Counted, got)
	got, _ = e.Offer(off("h1", "203.0.113.10", t0), t0)
	require.Equal(t, Counted, got)
}

// TestQuorumAlternatingHosts: with quorum 3 (two hosts see the attacker),
// each host's own offences still ban it there, as Fail2Ban alone would.
func TestQuorumAlternatingHosts(t *testing.T) {
	cfg := testConfig(t, "fleet")
	pol := cfg.Jails["sshd"]
	pol.Quorum, pol.MaxRetry = 3, 5
	cfg.Jails["sshd"] = pol
	e := New(cfg, "c")
	only := map[string]bool{}
	for i := range 40 {
		h := []string{"a", "b"}[i%2]
		now := t0.Add(time.Duration(i) * time.Second)
		got, ban := e.Offer(off(h, "203.0.113.9", now), now)
		require.NotEqual(t, Banned, got, "two hosts are not a quorum of 3")
		if ban != nil {
			only[ban.Only] = true
		}
	}
	require.Equal(t, map[string]bool{"a": true, "b": true}, only)
}

// TestReplayNotCapped: offences from minutes ago judged in one second (a
// restart's replay, a catch-up after an outage) are not a flood.
func TestReplayNotCapped(t *testing.T) {
	cfg := testConfig(t, "fleet")
	pol := cfg.Jails["sshd"]
	pol.MaxRetry = 20
	cfg.Jails["sshd"] = pol
	cfg.Limits.OffenceRate = 10
	e := New(cfg, "c")
	now := t0.Add(9 * time.Minute)
	for i := range 12 {
		got, _ := e.Offer(off("h1", "203.0.113.9", t0.Add(time.Duration(i)*40*time.Second)), now)
		require.Equal(t, Counted, got, "offence %d", i)
	}
}
