package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/e2e/lab"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// The coordinator's address (the control plane) is never banned:
// not by hand (with or without --force), not by failures from its machine,
// and a ban of it planted in the bucket is enforced by no agent and lifted
// by the coordinator. coord ban refuses what it should not take.
func TestControlPlaneNeverBanned(t *testing.T) {
	l, _ := fleet(t, lab.FleetOptions{})
	coordIP := lab.CoordAddr.String()

	for _, args := range [][]string{
		{"ban", coordIP},
		{"ban", coordIP, "--force"},
		{"ban", "127.0.0.1"},
		{"ban", "224.0.0.1", "--force"},
		{"ban", attacker, "--for", "876000h"},
		{"ban", attacker, "--jail", "nosuchjail"},
		{"ban", lab.H2Addr.String()},
	} {
		out, code, err := l.Coord(args...)
		require.NoError(t, err)
		require.Equal(t, 2, code, "coord %v: %s", args, out)
	}

	// Two mistyped logins from the coordinator's machine on each host (6 >
	// maxretry 3): counted as the control plane, banned nowhere.
	for _, h := range lab.HostNames() {
		for range 2 {
			require.NoError(t, l.SSHFailedLogin(lab.Coord, hostAddrs[h]))
		}
	}
	waitCoordMetric(t, l, 6, 10*time.Second, "banfleet_coord_offences_total", `outcome="control"`)
	for _, h := range lab.HostNames() {
		els, err := held(l, h, "sshd")
		require.NoError(t, err)
		require.False(t, has(els, coordIP), "the coordinator banned on %s", h)
	}

	// A ban of the coordinator planted in the bucket (an admin's login,
	// bypassing coord ban): no agent enforces it, the coordinator lifts it,
	// and the fleet keeps working.
	js, err := jetstream.New(natsFrom(t, l, lab.Client, lab.Admin))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := bans.Open(ctx, js, false, 0)
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, st.Put(ctx, &wire.Ban{Addr: lab.CoordAddr, Jail: "manual", Created: now, Expires: now.Add(time.Hour), By: "admin:planted"}, now))
	waitCoordMetric(t, l, 1, 10*time.Second, "banfleet_coord_bans_lifted_total")
	require.NoError(t, lab.WaitFor(5*time.Second, func() error {
		if _, err := st.Get(ctx, "manual", lab.CoordAddr); err == nil {
			return fmt.Errorf("the planted ban is still in the bucket")
		}
		return nil
	}))
	for _, h := range lab.HostNames() {
		els, err := held(l, h, "manual")
		require.NoError(t, err)
		require.False(t, has(els, coordIP), "the coordinator banned on %s", h)
	}
	// The fleet still bans a real spread attack.
	for _, h := range lab.HostNames() {
		require.NoError(t, l.SSHFailedLogin(lab.Attacker, hostAddrs[h]))
	}
	require.NoError(t, lab.WaitFor(3*time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.HostNames()...) }))
}

// A Fail2Ban jail.local's ignoreip (a CIDR and a single address,
// in [DEFAULT], as the guides write it) holds fleet-wide: the attacker's
// /28 and the client's address fail on every host and are banned nowhere.
func TestJailLocalIgnoreIP(t *testing.T) {
	tr := f2bref.Require(t)
	conf := filepath.Join(t.TempDir(), "fail2ban")
	out, err := exec.Command("cp", "-a", tr.ConfDir, conf).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, os.WriteFile(filepath.Join(conf, "jail.local"), []byte(
		"[DEFAULT]\nignoreip = 127.0.0.1/8 ::1 10.77.0.64/28 10.77.0.77\nmaxretry = 3\n\n[sshd]\nenabled = true\n"), 0o644))
	l, _ := fleet(t, lab.FleetOptions{Agent: func(_ string, c *lab.AgentConfig) {
		c.Extra = "fail2ban: " + conf + "\n"
	}})
	for _, h := range lab.HostNames() {
		require.NoError(t, l.SSHFailedLogin(lab.Attacker, hostAddrs[h]))
		_, err := l.SSHLogin(lab.Client, hostAddrs[h], "root", "wrong-password")
		require.NoError(t, err)
	}
	// Each host read both failures and ignored them (Fail2Ban's ignoreip).
	for _, h := range lab.HostNames() {
		require.NoError(t, lab.WaitFor(10*time.Second, func() error {
			v, err := agentMetric(l, h, "banfleet_agent_lines_ignored_total", `jail="sshd"`)
			if err != nil {
				return err
			}
			if v < 2 {
				return fmt.Errorf("%s ignored %v lines, want 2", h, v)
			}
			return nil
		}))
	}
	// And the fleet knows the jail's ignoreip (every host says so).
	js, err := jetstream.New(natsFrom(t, l, lab.Client, lab.Admin))
	require.NoError(t, err)
	require.NoError(t, lab.WaitFor(10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		kv, err := js.KeyValue(ctx, subject.FleetBucket)
		if err != nil {
			return err
		}
		ent, err := kv.Get(ctx, subject.PolicyKey)
		if err != nil {
			return err
		}
		var p wire.Policy
		if err := wire.Decode(ent.Value(), &p); err != nil {
			return err
		}
		if !strings.Contains(fmt.Sprint(p.Jails["sshd"].IgnoreIP), "10.77.0.64/28") {
			return fmt.Errorf("policy of sshd: %+v", p.Jails["sshd"])
		}
		return nil
	}))
	for _, h := range lab.HostNames() {
		els, err := held(l, h, "sshd")
		require.NoError(t, err)
		require.False(t, has(els, attacker), "ignoreip CIDR banned on %s", h)
		require.False(t, has(els, lab.ClientAddr.String()), "ignoreip address banned on %s", h)
	}
	out2, code, err := l.Coord("ban", attacker, "--jail", "sshd")
	require.NoError(t, err)
	require.Equal(t, 2, code, "coord ban refuses an address in the jail's ignoreip: %s", out2)
}

// One host's login flooding offences (distinct addresses, as fast
// as it can) does not delay the ban of a real spread attack on the other
// hosts: each host's offences are judged apart.
func TestFloodDoesNotDelaySpreadAttack(t *testing.T) {
	cfg := lab.DefaultCoordConfig()
	cfg.LogLevel = "info" // as in production: not a line per offence
	l, _ := fleet(t, lab.FleetOptions{Coord: &cfg})
	nc := natsAs(t, l, lab.H1, lab.H1)
	stop := make(chan struct{})
	var sent atomic.Int64
	flooded := make(chan struct{})
	go func() {
		// 100,000 offences a second (1,000 every 10 ms), distinct addresses.
		defer close(flooded)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 3_000_000; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for end := i + 1000; i < end; i++ {
				a := netip.AddrFrom4([4]byte{100, 64 + byte(i>>16)&63, byte(i >> 8), byte(i)})
				o := wire.Offence{ID: fmt.Sprintf("flood-%d", i), Host: lab.H1, Jail: "sshd", Addr: a, Time: time.Now(), Line: "flood"}
				data, _ := wire.Encode(&o)
				if nc.Publish(subject.Offence(subject.Shard(a, subject.DefaultShards), lab.H1), data) != nil {
					return
				}
				sent.Add(1)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-flooded })
	require.NoError(t, lab.WaitFor(30*time.Second, func() error {
		if sent.Load() < 300_000 {
			return fmt.Errorf("%d offences flooded", sent.Load())
		}
		return nil
	}))
	// The attack on h2 and h3 (and h1: its sshd is real, its login is the
	// flooder's) while the flood goes on.
	for _, h := range []string{lab.H2, lab.H3, lab.H2} {
		require.NoError(t, l.SSHFailedLogin(lab.Attacker, hostAddrs[h]))
	}
	require.NoError(t, lab.WaitFor(3*time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.HostNames()...) }),
		"banned while h1 floods (%d offences sent)", sent.Load())
	t.Logf("h1 flooded %d offences meanwhile", sent.Load())
}

// natsAs connects from a namespace as one of the lab's agent logins, with
// that host's inbox prefix (the only inboxes its login may read).
func natsAs(t *testing.T, l *lab.Lab, ns, host string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(lab.NATSURL, nats.SetCustomDialer(nsDialer{dial: l.DialContext(ns)}), nats.Timeout(5*time.Second),
		nats.UserInfo(host, l.NATSPassword(host)), nats.RootCAs(l.NATSCA()), nats.CustomInboxPrefix(subject.AgentInbox(host)))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// The coord CLI's environment (BANFLEET_NATS_*, as an admin's
// shell exports it) does not reconfigure the daemons: started from such a
// shell, coord serve still runs its embedded NATS (not a client of the URL)
// and the agents still log in as their hosts (not with the admin's
// password, which here is wrong anyway), and the fleet bans as usual.
func TestCLIEnvironmentIsNotTheDaemons(t *testing.T) {
	l, _ := fleet(t, lab.FleetOptions{Env: []string{
		"BANFLEET_NATS_URL=nats://10.77.0.99:4222",
		"BANFLEET_NATS_USER=" + lab.Admin,
		"BANFLEET_NATS_PASSWORD=not-the-admins-password",
		"BANFLEET_NATS_CA=/nonexistent/ca.pem",
	}})
	spreadAttack(t, l)
	require.NoError(t, lab.WaitFor(3*time.Second, func() error { return bannedEverywhere(l, "sshd", attacker, lab.HostNames()...) }))
}
