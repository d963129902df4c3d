package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netns"

	"github.com/banfleet/banfleet/e2e/lab"
)

// Many bans through the whole pipeline: failure lines in the hosts'
// auth.log files (each address failing once, on one host, in turn) →
// the agents' tail and filter → offences published with each host's own
// NATS login → the coordinator (sshd maxretry 1: every failure is a fleet
// ban) → bans bucket → the three agents' watches → each kernel's
// nftables set.

// convergeAddr is the k-th address the converge test and benchmark ban:
// 100.64.0.0/10 counted up from 100.64.0.1 (4,194,303 of them).
func convergeAddr(k int) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 100<<24|64<<16+uint32(k)+1)
	return netip.AddrFrom4(b)
}

// convergeFleet starts the lab (no sshd: the lines are written, not
// caused) and a fleet whose coordinator bans at the first failure of an
// address in jail sshd, for an hour; the daemons log at info. It returns
// once a first ban went the whole way (warmup's address, on every host).
func convergeFleet(tb testing.TB) (*lab.Lab, *lab.Fleet) {
	tb.Helper()
	l := lab.New(tb, lab.Options{Binaries: lab.Build(tb), NoSSHD: true})
	cfg := lab.DefaultCoordConfig()
	cfg.LogLevel = "info"
	cfg.Jails = map[string]lab.CoordJail{"sshd": {Maxretry: 1, Bantime: time.Hour, Port: []int{22}}}
	f, err := l.StartFleet(lab.FleetOptions{Coord: &cfg, Agent: func(_ string, c *lab.AgentConfig) { c.LogLevel = "info" }})
	if err != nil {
		tb.Fatal(err)
	}
	if err := lab.WaitFor(30*time.Second, func() error { return warmup(l) }); err != nil {
		tb.Fatal(err)
	}
	return l, f
}

// writeFailures appends one sshd failure line for each address of
// convergeAddr(from) … convergeAddr(to-1) to the auth.log of host k%3 (in
// the host's format, as its rsyslogd writes it), in writes of at most
// chunk lines, pausing pause between writes.
func writeFailures(l *lab.Lab, from, to, chunk int, pause time.Duration) error {
	hosts := l.Hosts()
	bufs := make([]strings.Builder, len(hosts))
	lines := make([]int, len(hosts))
	flush := func(i int) error {
		if lines[i] == 0 {
			return nil
		}
		err := hosts[i].AppendLog(bufs[i].String())
		bufs[i].Reset()
		lines[i] = 0
		return err
	}
	for k := from; k < to; k++ {
		i := k % len(hosts)
		h := hosts[i]
		bufs[i].WriteString(h.Line(time.Now(), "sshd", 10000+k%50000, failLine(convergeAddr(k), 1024+k%60000)))
		bufs[i].WriteByte('\n')
		if lines[i]++; lines[i] == chunk {
			if err := flush(i); err != nil {
				return err
			}
			time.Sleep(pause) // pacing a stream of lines, nothing to wait for
		}
	}
	for i := range hosts {
		if err := flush(i); err != nil {
			return err
		}
	}
	return nil
}

// kernelSet reads one set of the banfleet table in a node's namespace
// over a lasting netlink connection. Close it when done.
type kernelSet struct {
	c   *nftables.Conn
	h   netns.NsHandle
	set *nftables.Set
}

func openKernelSet(l *lab.Lab, node, set string) (*kernelSet, error) {
	h, err := netns.GetFromPath(l.NSPath(node))
	if err != nil {
		return nil, fmt.Errorf("open netns of %s: %w", node, err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(h)), nftables.AsLasting())
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("nftables in %s: %w", node, err)
	}
	ks := &kernelSet{c: c, h: h}
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: "banfleet"}
	if ks.set, err = c.GetSetByName(table, set); err != nil {
		ks.Close()
		return nil, fmt.Errorf("%s: set %s of table inet banfleet: %w", node, set, err)
	}
	return ks, nil
}

// count returns how many elements the set holds now.
func (ks *kernelSet) count() (int, error) {
	els, err := ks.c.GetSetElements(ks.set)
	if err != nil {
		return 0, fmt.Errorf("list set %s: %w", ks.set.Name, err)
	}
	n := 0
	for _, e := range els {
		if !e.IntervalEnd {
			n++
		}
	}
	return n, nil
}

func (ks *kernelSet) Close() {
	_ = ks.c.CloseLasting()
	ks.h.Close()
}

// waitCount polls the set until it holds at least want elements and
// returns when a read first saw them (the read's end: the set was
// complete at some point during it).
func (ks *kernelSet) waitCount(want int, timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := lab.WaitFor(timeout, func() error {
		n, err := ks.count()
		if err != nil {
			return err
		}
		if n < want {
			return fmt.Errorf("%d of %d elements", n, want)
		}
		at = time.Now()
		return nil
	})
	return at, err
}

// convergeWant is the set every kernel should hold after the first n
// addresses: warmup's and theirs.
func convergeWant(n int) []string {
	want := []string{"198.19.0.1"}
	for k := range n {
		want = append(want, convergeAddr(k).String())
	}
	slices.Sort(want)
	return want
}

// holdsExactly reports nil when host's sshd set is exactly want (sorted).
func holdsExactly(l *lab.Lab, host string, want []string) error {
	got, err := held(l, host, "sshd")
	if err != nil {
		return err
	}
	slices.Sort(got)
	if slices.Equal(got, want) {
		return nil
	}
	var missing, extra []string
	for _, a := range want {
		if _, ok := slices.BinarySearch(got, a); !ok {
			missing = append(missing, a)
		}
	}
	for _, a := range got {
		if _, ok := slices.BinarySearch(want, a); !ok {
			extra = append(extra, a)
		}
	}
	return fmt.Errorf("%s holds %d, want %d: %d missing (%s), %d extra (%s)", host, len(got), len(want),
		len(missing), firstFew(missing), len(extra), firstFew(extra))
}

func firstFew(s []string) string {
	if len(s) > 5 {
		return strings.Join(s[:5], " ") + " …"
	}
	return strings.Join(s, " ")
}

// checkLineLayout sends msg through each host's rsyslogd and checks that
// the line it writes is what lab.Host.Line makes of it: the bulk lines
// the tests write are the lines rsyslogd would have written.
func checkLineLayout(t *testing.T, l *lab.Lab) {
	t.Helper()
	for i, h := range l.Hosts() {
		msg := fmt.Sprintf("Connection closed by %s port %d [preauth]", lab.ClientAddr, 50000+i)
		require.NoError(t, h.AppendSyslog("sshd", 4242, msg))
		var real string
		require.NoError(t, lab.WaitFor(10*time.Second, func() error {
			log, err := h.ReadLog()
			if err != nil {
				return err
			}
			for line := range strings.Lines(log) {
				if strings.HasSuffix(line, msg+"\n") {
					real = strings.TrimSuffix(line, "\n")
					return nil
				}
			}
			return fmt.Errorf("%s: %q not logged yet", h.Name, msg)
		}))
		ours := h.Line(time.Now(), "sshd", 4242, msg)
		layout := "2006-01-02T15:04:05.000000-07:00"
		if h.Format == lab.LogFormatClassic {
			layout = time.Stamp
		}
		require.Greater(t, len(real), len(layout), real)
		_, err := time.Parse(layout, real[:len(layout)])
		require.NoError(t, err, "%s: rsyslogd's timestamp in Line's layout: %q", h.Name, real)
		require.Equal(t, real[len(layout):], ours[len(layout):], "%s: rsyslogd's line and Line's", h.Name)
	}
}

// TestConvergeAndRepair drives 10,000 bans through the whole pipeline
// onto the three agents and checks that every kernel holds exactly the
// banned set; then that (a) elements deleted by hand (nft delete element
// in h2's namespace) come back, and (b) an agent whose NATS traffic is
// dropped for 6 s in the middle of a second batch of 5,000 bans ends with
// its kernel complete and neither coord health nor its metrics saying it
// is behind (coord health, banfleet_agent_bans_behind). Times are logged, never asserted (BenchmarkPipelineToKernels
// measures them).
func TestConvergeAndRepair(t *testing.T) {
	const n1, n2 = 10_000, 5_000
	nft, err := exec.LookPath("nft")
	require.NoError(t, err, "nft is needed to delete elements by hand")
	l, _ := convergeFleet(t)
	checkLineLayout(t, l)

	start := time.Now()
	require.NoError(t, writeFailures(l, 0, n1, 2000, 0))
	waitCoordMetric(t, l, n1+1, 60*time.Second, "banfleet_coord_bans_total", `jail="sshd"`)
	decided := time.Since(start)
	want := convergeWant(n1)
	for _, h := range lab.HostNames() {
		require.NoError(t, lab.WaitFor(30*time.Second, func() error { return holdsExactly(l, h, want) }), h)
	}
	t.Logf("%d bans: decided by the coordinator %v after the lines were written, in all three kernels %v after",
		n1, decided.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// (a) Elements removed by hand behind the agent's back come back.
	removed := []string{convergeAddr(1).String(), convergeAddr(4242).String(), convergeAddr(n1 - 1).String()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	res, err := l.Exec(ctx, lab.H2, nft, "delete", "element", "inet", "banfleet", "sshd_v4", "{ "+strings.Join(removed, ", ")+" }")
	cancel()
	require.NoError(t, err)
	require.Equal(t, 0, res.Exit, res.Stderr)
	deleted := time.Now()
	els, err := held(l, lab.H2, "sshd")
	require.NoError(t, err)
	for _, a := range removed {
		require.False(t, has(els, a), "%s deleted by hand", a)
	}
	require.NoError(t, lab.WaitFor(30*time.Second, func() error { return holdsExactly(l, lab.H2, want) }))
	repaired, err := agentMetric(l, lab.H2, "banfleet_agent_firewall_repaired_total")
	require.NoError(t, err)
	t.Logf("3 elements deleted by hand on h2: back after %v (h2 repaired %v elements)", time.Since(deleted).Round(time.Millisecond), repaired)
	require.GreaterOrEqual(t, repaired, 3.0, "h2's check found and repaired the deleted elements")

	// (b) h3's NATS traffic dropped in the middle of a second batch: a
	// third of it written at once, the cut as soon as h3 holds some of
	// it, the rest written during the cut as a stream over about 2 s.
	kh3, err := openKernelSet(l, lab.H3, "sshd_v4")
	require.NoError(t, err)
	defer kh3.Close()
	require.NoError(t, writeFailures(l, n1, n1+n2/3, 2000, 0))
	require.NoError(t, lab.WaitFor(30*time.Second, func() error {
		c, err := kh3.count()
		if err == nil && c <= n1+1 {
			err = fmt.Errorf("h3 holds none of the second batch yet (%d)", c)
		}
		return err
	}))
	lift, err := l.DropTCPPort(lab.H3, 4222)
	require.NoError(t, err)
	cutAt := time.Now()
	atCut, err := kh3.count()
	require.NoError(t, err)
	require.NoError(t, writeFailures(l, n1+n2/3, n1+n2, 150, 100*time.Millisecond))
	time.Sleep(time.Until(cutAt.Add(6 * time.Second))) // the cut lasts 6 s, nothing to wait for
	atLift, err := kh3.count()
	require.NoError(t, err)
	require.NoError(t, lift())
	lifted := time.Now()
	t.Logf("h3 cut off from NATS for 6 s in the middle of %d bans: it held %d of %d at the cut, %d at its end", n2, atCut, n1+n2+1, atLift)
	require.Less(t, atLift, n1+n2+1, "h3 gets no ban during the cut")

	waitCoordMetric(t, l, n1+n2+1, 60*time.Second, "banfleet_coord_bans_total", `jail="sshd"`)
	want = convergeWant(n1 + n2)
	require.NoError(t, lab.WaitFor(60*time.Second, func() error { return holdsExactly(l, lab.H3, want) }))
	t.Logf("h3 complete %v after the cut ended", time.Since(lifted).Round(time.Millisecond))
	for _, h := range []string{lab.H1, lab.H2} {
		require.NoError(t, lab.WaitFor(30*time.Second, func() error { return holdsExactly(l, h, want) }), h)
	}
	// Neither the agent's metrics nor coord health nor bans --cluster say
	// h3 is behind.
	require.NoError(t, lab.WaitFor(30*time.Second, func() error {
		v, err := agentMetric(l, lab.H3, "banfleet_agent_bans_behind")
		if err == nil && v != 0 {
			err = fmt.Errorf("h3: banfleet_agent_bans_behind %v", v)
		}
		return err
	}))
	require.NoError(t, lab.WaitFor(30*time.Second, func() error {
		hosts, exit := health(t, l)
		h3 := hosts[lab.H3]
		if exit != 0 || h3.Health == nil || h3.Health.BansBehind != 0 || len(h3.Health.Problems) > 0 {
			return fmt.Errorf("coord health: exit %d, h3 %+v", exit, h3)
		}
		if h3.Health.BansApplied != n1+n2+1 {
			return fmt.Errorf("coord health: h3 applies %d bans, want %d", h3.Health.BansApplied, n1+n2+1)
		}
		return nil
	}))
	resyncs, err := agentMetric(l, lab.H3, "banfleet_agent_bans_resyncs_total")
	require.NoError(t, err)
	t.Logf("h3: %v watch resyncs; its metrics and coord health say it is not behind", resyncs)
}

// convergeBans is BANFLEET_BANS, or def.
func convergeBans(tb testing.TB, def int) int {
	s := os.Getenv("BANFLEET_BANS")
	if s == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || n < 1 || n > 4_000_000 {
		tb.Fatalf("BANFLEET_BANS=%q: not a number between 1 and 4,000,000", s)
	}
	return n
}
