package e2e

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/e2e/lab"
)

// Issue "every kernel holds every ban", item 4: after the coordinator (and
// its NATS) is killed with -9 and started again, the agents reconnect and
// watch the bans bucket again at once: a spread attack started right
// after the restart is banned on every host within a few seconds (it took
// 10.5 s when the agents waited for their old watch to notice).
func TestRecoveryCoordinatorRestart(t *testing.T) {
	cfg := lab.DefaultCoordConfig()
	l, f := fleet(t, lab.FleetOptions{Coord: &cfg})
	require.NoError(t, f.Coord.Kill())
	_, err := l.StartCoord(cfg)
	require.NoError(t, err)
	restarted := time.Now() // NATS accepts connections again

	// One failed password on each host, logged through each host's
	// rsyslogd as sshd logs it (a real ssh takes seconds to fail: PAM's
	// delay).
	for i, h := range lab.HostNames() {
		require.NoError(t, l.Host(h).AppendSyslog("sshd", 7000+i, failLine(netip.MustParseAddr(attacker), 40000+i)))
	}
	attacked := time.Now()
	at := banTimes(t, l, "sshd", attacker, 30*time.Second, lab.HostNames()...)
	for _, h := range lab.HostNames() {
		t.Logf("%s: banned %v after the restart (%v after the third failure)", h,
			at[h].Sub(restarted).Round(time.Millisecond), at[h].Sub(attacked).Round(time.Millisecond))
	}
	for _, h := range lab.HostNames() {
		require.LessOrEqual(t, at[h].Sub(restarted), 5*time.Second, "%s enforces the ban within 5 s of the restart", h)
	}
	out, code, err := l.Coord("bans")
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Regexp(t, `3 offences on h\d,h\d,h\d`, out)
	waitAgents(t, l, lab.HostNames()...)
}

// Issue item 4: one agent (h2) is cut off from NATS, by its link going
// down or by a silent drop of tcp/4222 in its namespace. A ban the fleet
// makes during the cut reaches it, and the offence it queued reaches the
// fleet, within a few seconds of the end of the cut.
func TestRecoveryNetworkCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(l *lab.Lab) (end func() error, err error)
	}{
		{"link down", func(l *lab.Lab) (func() error, error) {
			return func() error { return l.SetLink(lab.H2, true) }, l.SetLink(lab.H2, false)
		}},
		{"silent drop", func(l *lab.Lab) (func() error, error) { return l.DropTCPPort(lab.H2, 4222) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := fleet(t, lab.FleetOptions{})
			const manual = "192.0.2.88"
			spread := netip.MustParseAddr("198.51.100.23")

			end, err := tc.cut(l)
			require.NoError(t, err)
			cutAt := time.Now()
			// During the cut: h2 sees one offence of spread (queued: NATS
			// is unreachable), h1 and h3 one each; 3 is the fleet's
			// maxretry, so only h2's offence can complete the ban.
			for i, h := range lab.HostNames() {
				require.NoError(t, l.Host(h).AppendSyslog("sshd", 7100+i, failLine(spread, 41000+i)))
			}
			out, code, err := l.Coord("ban", manual, "--jail", "sshd", "--for", "1h")
			require.NoError(t, err)
			require.Equal(t, 0, code, out)
			require.NoError(t, lab.WaitFor(5*time.Second, func() error { return bannedEverywhere(l, "sshd", manual, lab.H1, lab.H3) }))
			waitCoordMetric(t, l, 2, 10*time.Second, "banfleet_coord_offences_total", `jail="sshd"`)
			require.NoError(t, lab.WaitFor(10*time.Second, func() error {
				v, err := agentMetric(l, lab.H2, "banfleet_agent_failures_total")
				if err == nil && v != 1 {
					err = fmt.Errorf("h2 failures %v", v)
				}
				return err
			}))
			// A cut of 15 s: longer than the agent needs to notice it.
			time.Sleep(time.Until(cutAt.Add(15 * time.Second))) // the cut lasts, nothing to wait for
			els, err := held(l, lab.H2, "sshd")
			require.NoError(t, err)
			require.False(t, has(els, manual), "the ban cannot reach h2 during the cut")
			require.NoError(t, goneEverywhere(l, "sshd", spread.String(), lab.HostNames()...), "h2's offence is not through yet")

			require.NoError(t, end())
			ended := time.Now()
			manualAt := banTimes(t, l, "sshd", manual, 30*time.Second, lab.H2)[lab.H2]
			spreadAt := banTimes(t, l, "sshd", spread.String(), 30*time.Second, lab.HostNames()...)
			t.Logf("%s: after the cut ended, the fleet's ban reached h2 in %v; h2's queued offence made the fleet ban on h1 %v, h2 %v, h3 %v", tc.name,
				manualAt.Sub(ended).Round(time.Millisecond), spreadAt[lab.H1].Sub(ended).Round(time.Millisecond),
				spreadAt[lab.H2].Sub(ended).Round(time.Millisecond), spreadAt[lab.H3].Sub(ended).Round(time.Millisecond))
			require.LessOrEqual(t, manualAt.Sub(ended), 10*time.Second, "the ban made during the cut reaches h2 within 10 s")
			for _, h := range lab.HostNames() {
				require.LessOrEqual(t, spreadAt[h].Sub(ended), 10*time.Second, "h2's queued offence is banned on %s within 10 s", h)
			}
			out, code, err = l.Coord("bans")
			require.NoError(t, err)
			require.Equal(t, 0, code)
			require.Regexp(t, `3 offences on h[13],h[13],h2 `, out, "h2's offence came last, after the cut")
			waitAgents(t, l, lab.H2)
		})
	}
}

// Issue item 5: failures in the first second of an outage count. The
// coordinator goes away; at once, two failed passwords on h1 (its jail's
// maxretry) — before h1 knows NATS is away (offline.after 5 s). Once it
// does, h1 bans the attacker alone; nobody else does.
func TestRecoveryOfflineFirstSecond(t *testing.T) {
	cfg := lab.DefaultCoordConfig()
	l, f := fleet(t, lab.FleetOptions{Coord: &cfg, Agent: func(_ string, c *lab.AgentConfig) {
		j := c.Jails["sshd"]
		j.MaxRetry = 2
		c.Jails["sshd"] = j
		c.Extra = "offline:\n  after: 5s\n"
	}})
	fleetExempt(t, l, lab.H1Addr, lab.H2Addr, lab.H3Addr)
	require.NoError(t, f.Coord.Kill())
	gone := time.Now()
	for i := range 2 {
		require.NoError(t, l.Host(lab.H1).AppendSyslog("sshd", 7200+i, failLine(netip.MustParseAddr(attacker), 42000+i)))
	}
	into := time.Since(gone)
	t.Logf("two failures %v into the outage", into.Round(time.Millisecond))
	if into < 4*time.Second {
		v, err := agentMetric(l, lab.H1, "banfleet_agent_nats_unreachable")
		require.NoError(t, err)
		require.Zero(t, v, "h1 does not know yet that NATS is away")
	}

	at := banTimes(t, l, "sshd", attacker, 20*time.Second, lab.H1)[lab.H1]
	t.Logf("banned locally on h1 %v after the coordinator went away", at.Sub(gone).Round(time.Millisecond))
	require.ErrorIs(t, l.TCPConnect(lab.Attacker, hostAddrs[lab.H1]+":22", 700*time.Millisecond), lab.ErrTimeout, "h1 protects itself")
	require.NoError(t, l.TCPConnect(lab.Client, hostAddrs[lab.H1]+":22", 2*time.Second), "the client still reaches h1")
	n, err := agentMetric(l, lab.H1, "banfleet_agent_local_bans_total")
	require.NoError(t, err)
	require.Equal(t, 1.0, n)
	require.NoError(t, goneEverywhere(l, "sshd", attacker, lab.H2, lab.H3))

	// The offences still reach the fleet once it is back (2 < the fleet's
	// maxretry 3: no fleet ban, h1's stays its own).
	_, err = l.StartCoord(cfg)
	require.NoError(t, err)
	waitCoordMetric(t, l, 2, 30*time.Second, "banfleet_coord_offences_total", `jail="sshd"`)
}

// banTimes polls the hosts' sets until addr is in the jail's set of every
// host, and returns when each host was first seen holding it.
func banTimes(t *testing.T, l *lab.Lab, jail, addr string, timeout time.Duration, hosts ...string) map[string]time.Time {
	t.Helper()
	at := map[string]time.Time{}
	require.NoError(t, lab.WaitFor(timeout, func() error {
		var missing []string
		for _, h := range hosts {
			if _, ok := at[h]; ok {
				continue
			}
			els, err := held(l, h, jail)
			if err != nil {
				return err
			}
			if has(els, addr) {
				at[h] = time.Now()
			} else {
				missing = append(missing, h)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s not in %s set of %v", addr, jail, missing)
		}
		return nil
	}), "%s banned on %v", addr, hosts)
	return at
}
