package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/e2e/lab"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

var hostAddrs = map[string]string{lab.H1: lab.H1Addr.String(), lab.H2: lab.H2Addr.String(), lab.H3: lab.H3Addr.String()}

const attacker = "10.77.0.66"

// spreadAttack makes one failed root password login, with real ssh and
// sshpass, from the attacker on each host in turn, and waits after each
// until the coordinator has judged it. It returns when the third ssh has
// exited.
func spreadAttack(t *testing.T, l *lab.Lab) {
	t.Helper()
	for i, h := range lab.HostNames() {
		require.NoError(t, l.SSHFailedLogin(lab.Attacker, hostAddrs[h]))
		if i < 2 {
			// The first two offences are counted, and ban nobody.
			waitCoordMetric(t, l, float64(i+1), 10*time.Second, "banfleet_coord_offences_total", `jail="sshd"`)
			for _, hh := range lab.HostNames() {
				els, err := held(l, hh, "sshd")
				require.NoError(t, err)
				require.False(t, has(els, attacker), "banned on %s after only %d offences", hh, i+1)
			}
		}
	}
}

// a. One failed password on each of three hosts, fleet-wide maxretry 3: the
// attacker is banned on all three within 1 s of the third, the legitimate
// client still connects.
func TestDistributedBruteForce(t *testing.T) {
	l, _ := fleet(t, lab.FleetOptions{})
	for _, h := range lab.HostNames() {
		require.NoError(t, l.TCPConnect(lab.Attacker, hostAddrs[h]+":22", 2*time.Second), "before the attack the attacker reaches %s", h)
	}
	spreadAttack(t, l)
	third := time.Now()
	require.NoError(t, lab.WaitFor(time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.HostNames()...) }),
		"banned on every host within 1 s of the third attempt")
	t.Logf("banned on all three hosts %v after the third ssh exited", time.Since(third))

	for _, h := range lab.HostNames() {
		err := l.TCPConnect(lab.Attacker, hostAddrs[h]+":22", 700*time.Millisecond)
		require.ErrorIs(t, err, lab.ErrTimeout, "attacker's connect to %s must time out", h)
		require.NoError(t, l.TCPConnect(lab.Client, hostAddrs[h]+":22", 2*time.Second), "client still connects to %s", h)
	}
	out, code, err := l.Coord("bans")
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Contains(t, out, attacker)
	require.Contains(t, out, "3 offences on h1,h2,h3")
}

// a (contrast). The same attack against per-host counting — what Fail2Ban on
// each host does — bans nobody.
func TestPerHostCountingBansNobody(t *testing.T) {
	cfg := lab.DefaultCoordConfig()
	cfg.Defaults.Scope = "host"
	l, _ := fleet(t, lab.FleetOptions{Coord: &cfg})
	spreadAttack(t, l)
	waitCoordMetric(t, l, 3, 10*time.Second, "banfleet_coord_offences_total", `jail="sshd"`, `outcome="counted"`)
	out, code, err := l.Coord("bans", "-o", "json")
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Contains(t, out, `"bans": []`, "per-host counting: 1 offence per host is below maxretry 3")
	for _, h := range lab.HostNames() {
		require.NoError(t, l.TCPConnect(lab.Attacker, hostAddrs[h]+":22", 2*time.Second), "attacker still reaches %s", h)
	}
}

// b. Bans expire in the kernel, even with every agent stopped.
func TestKernelExpiryWithAgentsStopped(t *testing.T) {
	l, f := fleet(t, lab.FleetOptions{})
	out, code, err := l.Coord("ban", attacker, "--jail", "sshd", "--for", "5s")
	require.NoError(t, err)
	require.Equal(t, 0, code, out)
	require.NoError(t, lab.WaitFor(2*time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.HostNames()...) }))
	for _, h := range lab.HostNames() {
		require.NoError(t, f.Agents[h].Stop(), "agent %s stops on SIGTERM", h)
		require.Equal(t, 0, f.Agents[h].ExitCode(), "agent %s exit status", h)
	}
	for _, h := range lab.HostNames() {
		require.ErrorIs(t, l.TCPConnect(lab.Attacker, hostAddrs[h]+":22", 500*time.Millisecond), lab.ErrTimeout, "still banned on %s with its agent stopped", h)
	}
	require.NoError(t, lab.WaitFor(10*time.Second, func() error {
		for _, h := range lab.HostNames() {
			if err := l.TCPConnect(lab.Attacker, hostAddrs[h]+":22", 300*time.Millisecond); err != nil {
				return err
			}
		}
		return nil
	}), "after 5 s the kernel has expired the ban on every host")
	require.NoError(t, goneEverywhere(l, "sshd", attacker, lab.HostNames()...))
}

// c. coord ban and coord unban reach every host; bans --cluster shows each
// host's state.
func TestManualBanUnban(t *testing.T) {
	l, _ := fleet(t, lab.FleetOptions{})
	out, code, err := l.Coord("ban", attacker, "--for", "1h", "--reason", "e2e")
	require.NoError(t, err)
	require.Equal(t, 0, code, out)
	require.NoError(t, lab.WaitFor(2*time.Second, func() error { return bannedEverywhere(l, "manual", attacker, lab.HostNames()...) }))
	for _, h := range lab.HostNames() {
		require.ErrorIs(t, l.TCPConnect(lab.Attacker, hostAddrs[h]+":22", 500*time.Millisecond), lab.ErrTimeout)
	}
	hosts, code := cluster(t, l)
	require.Equal(t, 0, code, "in sync")
	for _, h := range lab.HostNames() {
		require.Equal(t, "in-sync", hosts[h].Status, h)
		require.Equal(t, []string{"manual/" + attacker}, hosts[h].Entries, h)
	}

	// A fleet host's own address is refused (exit 2) unless forced.
	_, code, err = l.Coord("ban", lab.H2Addr.String())
	require.NoError(t, err)
	require.Equal(t, 2, code)

	out, code, err = l.Coord("unban", attacker)
	require.NoError(t, err)
	require.Equal(t, 0, code, out)
	require.NoError(t, lab.WaitFor(2*time.Second, func() error { return goneEverywhere(l, "manual", attacker, lab.HostNames()...) }))
	for _, h := range lab.HostNames() {
		require.NoError(t, l.TCPConnect(lab.Attacker, hostAddrs[h]+":22", 2*time.Second))
	}
	_, code, err = l.Coord("unban", attacker)
	require.NoError(t, err)
	require.Equal(t, 3, code, "unban of an address that is not banned")
}

// c (continued). A stopped agent is reported as not answering, by `bans
// --cluster` and by `coord health`.
func TestClusterReportsSilentHost(t *testing.T) {
	l, f := fleet(t, lab.FleetOptions{})
	// Every agent is well: it reads its log, its firewall equals the bucket
	// (once its first reconcile is done).
	require.NoError(t, lab.WaitFor(15*time.Second, func() error {
		hosts, code := health(t, l)
		if code != 0 || len(hosts) != 3 {
			return fmt.Errorf("coord health: exit %d, %+v", code, hosts)
		}
		for _, h := range lab.HostNames() {
			hv := hosts[h].Health
			switch {
			case hosts[h].Status != "ok" || hv == nil:
				return fmt.Errorf("%s: %+v", h, hosts[h])
			case !hv.SourcesReady || hv.Files != 1 || hv.Backend != "nftables" || len(hv.Problems) > 0:
				return fmt.Errorf("%s: %+v", h, *hv)
			case hv.LastReconcile.IsZero():
				return fmt.Errorf("%s: not reconciled yet", h)
			}
		}
		return nil
	}))

	require.NoError(t, f.Agents[lab.H3].Kill())
	hosts, code := health(t, l)
	require.Equal(t, 4, code, "an agent does not answer")
	require.Equal(t, "no-answer", hosts[lab.H3].Status)
	require.Equal(t, "ok", hosts[lab.H1].Status)
	views, code := cluster(t, l)
	require.Equal(t, 4, code, "not in sync")
	require.Equal(t, "no-answer", views[lab.H3].Status)
	require.Equal(t, "in-sync", views[lab.H1].Status)
}

// d. An agent killed with -9 misses a ban and a lift, and someone adds a
// stale element by hand: after restart its set equals the bucket within 1 s.
func TestAgentRestartReconciles(t *testing.T) {
	l, f := fleet(t, lab.FleetOptions{})
	run := func(args ...string) {
		t.Helper()
		out, code, err := l.Coord(args...)
		require.NoError(t, err)
		require.Equal(t, 0, code, out)
	}
	run("ban", "192.0.2.50", "--jail", "sshd", "--for", "1h")
	require.NoError(t, lab.WaitFor(2*time.Second, func() error { return bannedEverywhere(l, "sshd", "192.0.2.50", lab.HostNames()...) }))

	require.NoError(t, f.Agents[lab.H2].Kill())
	run("ban", "192.0.2.77", "--jail", "sshd", "--for", "1h")
	run("unban", "192.0.2.50")
	require.NoError(t, l.AddElement(lab.H2, "banfleet", "sshd_v4", netip.MustParseAddr("192.0.2.99"), time.Hour))
	els, err := held(l, lab.H2, "sshd")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"192.0.2.50", "192.0.2.99"}, els, "h2's kernel set while its agent is down")

	_, err = l.StartAgent(lab.H2, l.DefaultAgentConfig(lab.H2))
	require.NoError(t, err)
	started := time.Now()
	require.NoError(t, lab.WaitFor(time.Second, func() error {
		els, err := held(l, lab.H2, "sshd")
		if err != nil {
			return err
		}
		if len(els) != 1 || els[0] != "192.0.2.77" {
			return fmt.Errorf("h2 holds %v", els)
		}
		return nil
	}), "h2's set equals the bucket within 1 s of its restart")
	t.Logf("reconciled %v after restart", time.Since(started))
	waitAgents(t, l, lab.H2)
	hosts, code := cluster(t, l)
	require.Equal(t, 0, code)
	require.Equal(t, "in-sync", hosts[lab.H2].Status)
}

// e. Rotating the log (rename + create, as logrotate and rsyslog do) in the
// middle of an attack loses no offence.
func TestRotationLosesNothing(t *testing.T) {
	cfg := lab.DefaultCoordConfig()
	cfg.Jails = map[string]lab.CoordJail{"sshd": {Maxretry: 1000, Port: []int{22}}}
	l, _ := fleet(t, lab.FleetOptions{Coord: &cfg})
	h1 := l.Host(lab.H1)
	const n = 400
	for i := range n {
		addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(i%200 + 1)})
		require.NoError(t, h1.AppendSyslog("sshd", 5000+i, failLine(addr, 30000+i)))
		if i == n/2 {
			// Mid-burst: the agent is still reading the old file when it is renamed.
			require.NoError(t, h1.RotateLog())
		}
	}
	// Once the agent has caught up, rotate again; a real attack goes on in the new file.
	require.NoError(t, lab.WaitFor(10*time.Second, func() error {
		v, err := agentMetric(l, lab.H1, "banfleet_agent_lines_total")
		if err != nil || v < n {
			return fmt.Errorf("agent read %v lines: %v", v, err)
		}
		return nil
	}))
	require.NoError(t, h1.RotateLog())
	require.NoError(t, l.SSHFailedLogin(lab.Attacker, hostAddrs[lab.H1]))
	waitCoordMetric(t, l, n+1, 15*time.Second, "banfleet_coord_offences_total", `jail="sshd"`)
	rot, err := agentMetric(l, lab.H1, "banfleet_agent_log_rotations_total")
	require.NoError(t, err)
	require.Equal(t, 2.0, rot)
	pub, err := agentMetric(l, lab.H1, "banfleet_agent_offences_published_total")
	require.NoError(t, err)
	require.Equal(t, float64(n+1), pub, "every offence published exactly once")
}

// f. Garbage, binary and 1 MiB lines in a log, and malformed messages on the
// offence subjects: nothing crashes, the rejects are counted, and a valid
// offence after them still bans.
func TestBadInput(t *testing.T) {
	cfg := lab.DefaultCoordConfig()
	cfg.Jails = map[string]lab.CoordJail{"sshd": {Maxretry: 1, Port: []int{22}}}
	l, f := fleet(t, lab.FleetOptions{Coord: &cfg})
	h1 := l.Host(lab.H1)
	require.NoError(t, h1.AppendLog("garbage without any date"))
	require.NoError(t, h1.AppendLog("\x00\x01\x02\xff\xfe binary \x1b[31m"))
	require.NoError(t, h1.AppendLog(strings.Repeat("A", 1<<20)))
	require.NoError(t, h1.AppendLog("Nov 99 99:99:99 h1 sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2"))

	// Without a login the fleet's NATS takes nothing.
	_, err := nats.Connect(lab.NATSURL, nats.SetCustomDialer(nsDialer{dial: l.DialContext(lab.Attacker)}), nats.Timeout(5*time.Second), nats.RootCAs(l.NATSCA()))
	require.ErrorIs(t, err, nats.ErrAuthorization, "anonymous connection from the attacker")
	// The coordinator checks every message whoever sends it (here an admin,
	// who may publish on any subject).
	nc := natsFrom(t, l, lab.Attacker, lab.Admin)
	bad := map[string][]byte{
		"banfleet.offence.0.h1":     []byte("\x00garbage"),
		"banfleet.offence.1.h1":     []byte(`{"v":99,"id":"x"}`),
		"banfleet.offence.2.h1":     []byte(`{"v":1,"id":"x","host":"h2","jail":"sshd","addr":"203.0.113.5","time":"2026-01-01T00:00:00Z","line":"x"}`),
		"banfleet.offence.3.h1":     []byte(`{"v":1,"id":"x","host":"h1","jail":"sshd","addr":"not-an-ip","time":"2026-01-01T00:00:00Z","line":"x"}`),
		"banfleet.offence.4.h1":     []byte(`{"v":1,"id":"y","host":"h1","jail":"sshd","addr":"203.0.113.5","time":"2026-01-01T00:00:00Z","line":"x","extra":1}`),
		"banfleet.offence.bad.h1":   []byte(`{}`),
		"banfleet.offence.5.h1.x.y": []byte(`{}`),
	}
	for subj, data := range bad {
		require.NoError(t, nc.Publish(subj, data))
	}
	require.NoError(t, nc.Flush())
	waitCoordMetric(t, l, float64(len(bad)), 10*time.Second, "banfleet_coord_rejected_messages_total")
	require.NoError(t, lab.WaitFor(5*time.Second, func() error {
		tl, err := agentMetric(l, lab.H1, "banfleet_agent_lines_too_long_total")
		if err != nil {
			return err
		}
		up, err := agentMetric(l, lab.H1, "banfleet_agent_lines_unparsed_total")
		if err != nil {
			return err
		}
		if tl != 1 || up < 3 {
			return fmt.Errorf("too long %v (want 1), unparsed %v (want >= 3)", tl, up)
		}
		return nil
	}))

	// Nobody crashed, and a valid offence still bans.
	require.False(t, f.Coord.Exited(), "coordinator alive")
	require.False(t, f.Agents[lab.H1].Exited(), "agent alive")
	require.NoError(t, l.SSHFailedLogin(lab.Attacker, hostAddrs[lab.H1]))
	require.NoError(t, lab.WaitFor(3*time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.HostNames()...) }))
	_, code, err := l.Coord("bans")
	require.NoError(t, err)
	require.Equal(t, 0, code)
}

// With the coordinator (and its NATS) gone, an agent protects its host on
// its own, as Fail2Ban would: the jail's maxretry (2 here) on this host
// bans locally. The offences are not lost: once the coordinator is back,
// the agents send them and the fleet-wide count (3, over two hosts) bans
// everywhere. A local ban the fleet does not confirm shows in `bans
// --cluster` as the host's own, and `coord unban` lifts it. The fleet's own
// hosts are never banned alone.
func TestAgentBansAloneWhileNATSAway(t *testing.T) {
	cfg := lab.DefaultCoordConfig()
	l, f := fleet(t, lab.FleetOptions{Coord: &cfg, Agent: func(_ string, c *lab.AgentConfig) {
		j := c.Jails["sshd"]
		j.MaxRetry = 2
		c.Jails["sshd"] = j
		c.Extra = "offline:\n  after: 1s\n"
	}})
	// Before it goes, the coordinator has told every agent the fleet's own
	// addresses (the three hosts'), never to be banned alone.
	exempt := fleetExempt(t, l, lab.H1Addr, lab.H2Addr, lab.H3Addr)
	for _, h := range lab.HostNames() {
		require.NoError(t, lab.WaitFor(10*time.Second, func() error {
			v, err := agentMetric(l, h, "banfleet_agent_fleet_exempt_prefixes")
			if err == nil && v != float64(len(exempt.Prefixes)) {
				err = fmt.Errorf("%s: banfleet_agent_fleet_exempt_prefixes = %v, want %d", h, v, len(exempt.Prefixes))
			}
			return err
		}))
	}
	require.NoError(t, f.Coord.Stop())
	for _, h := range []string{lab.H1, lab.H2} {
		require.NoError(t, lab.WaitFor(10*time.Second, func() error {
			v, err := agentMetric(l, h, "banfleet_agent_nats_unreachable")
			if err == nil && v != 1 {
				err = fmt.Errorf("%s: banfleet_agent_nats_unreachable = %v", h, v)
			}
			return err
		}))
	}

	// Two failed logins on h1: h1 bans alone, nobody else does.
	for range 2 {
		require.NoError(t, l.SSHFailedLogin(lab.Attacker, hostAddrs[lab.H1]))
	}
	require.NoError(t, lab.WaitFor(2*time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.H1) }))
	require.ErrorIs(t, l.TCPConnect(lab.Attacker, hostAddrs[lab.H1]+":22", 700*time.Millisecond), lab.ErrTimeout, "h1 protects itself")
	require.NoError(t, l.TCPConnect(lab.Client, hostAddrs[lab.H1]+":22", 2*time.Second), "the client still reaches h1")
	n, err := agentMetric(l, lab.H1, "banfleet_agent_local_bans_total")
	require.NoError(t, err)
	require.Equal(t, 1.0, n)

	// One on h2: below h2's own maxretry, so no ban there (nor on h3).
	require.NoError(t, l.SSHFailedLogin(lab.Attacker, hostAddrs[lab.H2]))
	require.NoError(t, lab.WaitFor(5*time.Second, func() error {
		v, err := agentMetric(l, lab.H2, "banfleet_agent_failures_total")
		if err == nil && v != 1 {
			err = fmt.Errorf("h2 failures %v", v)
		}
		return err
	}))
	require.NoError(t, goneEverywhere(l, "sshd", attacker, lab.H2, lab.H3))
	require.NoError(t, l.TCPConnect(lab.Attacker, hostAddrs[lab.H2]+":22", 2*time.Second), "h2 does not ban after one failure")

	// Someone mistypes a password twice on h3: h3 bans them alone too.
	const client = "10.77.0.77"
	for range 2 {
		require.NoError(t, l.SSHFailedLogin(lab.Client, hostAddrs[lab.H3]))
	}
	require.NoError(t, lab.WaitFor(2*time.Second, func() error { return bannedEverywhere(l, "sshd", client, lab.H3) }))

	// A host of the fleet (h2) fails twice on h1: h1 does not ban it alone,
	// as the coordinator would not.
	for range 2 {
		require.NoError(t, l.SSHFailedLogin(lab.H2, hostAddrs[lab.H1]))
	}
	require.NoError(t, lab.WaitFor(5*time.Second, func() error {
		v, err := agentMetric(l, lab.H1, "banfleet_agent_failures_total")
		if err == nil && v != 4 {
			err = fmt.Errorf("h1 failures %v (want 2 of the attacker's, 2 of h2's)", v)
		}
		return err
	}))
	require.NoError(t, l.TCPConnect(lab.H2, hostAddrs[lab.H1]+":22", 2*time.Second), "h2 still reaches h1")
	require.NoError(t, goneEverywhere(l, "sshd", hostAddrs[lab.H2], lab.H1))
	n, err = agentMetric(l, lab.H1, "banfleet_agent_local_bans_total")
	require.NoError(t, err)
	require.Equal(t, 1.0, n, "h1 made no local ban but the attacker's")

	// The coordinator is back: the three offences held by h1 and h2 reach
	// it, and the fleet bans everywhere.
	_, err = l.StartCoord(cfg)
	require.NoError(t, err)
	require.NoError(t, lab.WaitFor(30*time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.HostNames()...) }))
	out, code, err := l.Coord("bans")
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.Contains(t, out, "3 offences on h1,h2")
	require.NotContains(t, out, client, "2 offences are below the fleet's maxretry")
	for _, h := range []string{lab.H1, lab.H2} {
		v, err := agentMetric(l, h, "banfleet_agent_nats_unreachable")
		require.NoError(t, err)
		require.Zero(t, v, "%s reconnected", h)
	}

	// h3's own ban of the client is listed as such, not as drift …
	waitAgents(t, l, lab.HostNames()...)
	hosts, code := cluster(t, l)
	require.Equal(t, 0, code, "%+v", hosts)
	require.Equal(t, []string{"sshd/" + client}, hosts[lab.H3].Local)
	require.Empty(t, hosts[lab.H3].Extra)
	require.Empty(t, hosts[lab.H1].Local, "h1's local ban is now the fleet's")
	// … and coord unban lifts it.
	out, code, err = l.Coord("unban", client)
	require.NoError(t, err)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "lifted the local ban of "+client+" in sshd on h3")
	require.NoError(t, lab.WaitFor(2*time.Second, func() error { return goneEverywhere(l, "sshd", client, lab.HostNames()...) }))
	require.NoError(t, l.TCPConnect(lab.Client, hostAddrs[lab.H3]+":22", 2*time.Second), "the client reaches h3 again")
}

// An agent pointed at a Fail2Ban configuration (fail2ban: DIR) runs
// the jails enabled there — Debian's enables sshd — with filter.d/sshd.conf
// through banfleet's engine; the spread attack is banned as before.
func TestFail2BanConfiguredJail(t *testing.T) {
	tr := f2bref.Require(t)
	l, _ := fleet(t, lab.FleetOptions{Agent: func(_ string, c *lab.AgentConfig) {
		c.Extra = "fail2ban: " + tr.ConfDir + "\n"
	}})
	spreadAttack(t, l)
	require.NoError(t, lab.WaitFor(time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.HostNames()...) }))
	out, _, err := l.Coord("bans")
	require.NoError(t, err)
	require.Contains(t, out, "3 offences on h1,h2,h3")
	// The agents report the thresholds of their Fail2Ban jails (Debian: maxretry 5).
	aj, _, err := l.Coord("agents", "-o", "json")
	require.NoError(t, err)
	require.Contains(t, aj, `"maxretry": 5`)
}
