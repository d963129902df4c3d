package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func (n *Nftables) flushCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.flushes
}

// requireEntries checks that got holds exactly want's jails and addresses,
// and timeouts that have run down by at most a few seconds (0 stays 0).
func requireEntries(t *testing.T, want, got []Entry) {
	t.Helper()
	requireEntriesSince(t, want, got, time.Now())
}

// requireEntriesSince is requireEntries for timeouts set at or after since
// (less what has passed since then).
func requireEntriesSince(t *testing.T, want, got []Entry, since time.Time) {
	t.Helper()
	slack := 5*time.Second + time.Since(since)
	want, err := normalizeEntries(want)
	require.NoError(t, err)
	keys := func(es []Entry) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.Jail + " " + e.Addr.String()
		}
		return out
	}
	require.Equal(t, keys(want), keys(got))
	for i := range want {
		w, g := want[i].Timeout, got[i].Timeout
		if w == 0 {
			require.Zero(t, g, "%s %s has a timeout", got[i].Jail, got[i].Addr)
			continue
		}
		require.True(t, g <= w && g > w-slack, "%s %s: timeout %v, want about %v", got[i].Jail, got[i].Addr, g, w)
	}
}

func list(t *testing.T, b Backend) []Entry {
	t.Helper()
	es, err := b.List()
	require.NoError(t, err)
	return es
}

func TestNftablesApplyList(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	require.Empty(t, list(t, n))

	add := []Entry{
		e("sshd", "192.0.2.1", time.Hour),
		e("sshd", "2001:db8::1", 0),
		e("web", "192.0.2.1", 10*time.Minute),
		e("web", "198.51.100.7", 0),
		e("web", "2001:db8::2", time.Hour),
	}
	before := n.flushCount()
	require.NoError(t, n.Apply(add, nil))
	require.Equal(t, before+1, n.flushCount(), "one transaction")
	requireEntries(t, add, list(t, n))

	// The kernel shows what the package doc promises.
	out := ns.nft(t, "list", "table", "inet", "banfleet")
	for _, s := range []string{
		"set sshd_v4", "set sshd_v6", "set web_v4", "set web_v6",
		"type ipv4_addr", "type ipv6_addr", "flags timeout",
		"type filter hook input priority filter - 10; policy accept;",
		// nft leaves out the "meta nfproto" that "ip saddr" implies.
		`ip saddr @sshd_v4 drop comment "banfleet sshd_v4 all"`,
		`ip6 saddr @web_v6 drop comment "banfleet web_v6 all"`,
	} {
		require.Contains(t, out, s)
	}
	require.Equal(t, 4, strings.Count(out, " drop "), out)

	// Adding again is idempotent and creates no second rule.
	require.NoError(t, n.Apply(add, nil))
	requireEntries(t, add, list(t, n))
	require.Equal(t, 4, strings.Count(ns.nft(t, "list", "chain", "inet", "banfleet", "input"), " drop "))

	// A second backend on the same table sees the same state and changes nothing.
	n2 := newBackend(t, ns)
	requireEntries(t, add, list(t, n2))
	require.NoError(t, n2.Apply(add[:1], nil))
	require.Equal(t, 4, strings.Count(ns.nft(t, "list", "chain", "inet", "banfleet", "input"), " drop "))
}

func TestNftablesApplyDeleteMissing(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	require.NoError(t, n.Apply([]Entry{
		e("sshd", "192.0.2.1", time.Hour), e("sshd", "192.0.2.2", time.Hour), e("sshd", "2001:db8::1", time.Hour),
	}, nil))

	// 192.0.2.2 disappears behind the backend's back, as if it expired.
	ns.nft(t, "delete", "element", "inet", "banfleet", "sshd_v4", "{ 192.0.2.2 }")

	before := n.flushCount()
	err := n.Apply(nil, []Entry{
		e("sshd", "192.0.2.1", 0),   // present
		e("sshd", "192.0.2.2", 0),   // gone: no error (DESTROYSETELEM)
		e("sshd", "192.0.2.3", 0),   // never there
		e("nojail", "192.0.2.1", 0), // set does not exist: skipped up front
	})
	require.NoError(t, err)
	require.Equal(t, before+1, n.flushCount(), "one transaction, no retry")
	requireEntries(t, []Entry{e("sshd", "2001:db8::1", time.Hour)}, list(t, n))

	// Adds in the same call take effect.
	ns.nft(t, "add", "element", "inet", "banfleet", "sshd_v6", "{ 2001:db8::9 }")
	ns.nft(t, "delete", "element", "inet", "banfleet", "sshd_v6", "{ 2001:db8::9 }")
	require.NoError(t, n.Apply(
		[]Entry{e("sshd", "192.0.2.5", time.Hour)},
		[]Entry{e("sshd", "2001:db8::9", 0), e("sshd", "2001:db8::1", 0)},
	))
	requireEntries(t, []Entry{e("sshd", "192.0.2.5", time.Hour)}, list(t, n))
}

func TestNftablesReconcile(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	require.NoError(t, n.Apply([]Entry{
		e("sshd", "192.0.2.1", time.Hour),
		e("sshd", "192.0.2.2", time.Hour),
		e("web", "2001:db8::1", 0),
	}, nil))
	// A stale element added by hand.
	ns.nft(t, "add", "element", "inet", "banfleet", "sshd_v4", "{ 192.0.2.99 timeout 1h }")

	want := []Entry{
		e("sshd", "192.0.2.2", 2*time.Hour), // kept, timeout refreshed
		e("sshd", "192.0.2.3", time.Hour),   // new
		e("web", "2001:db8::1", 0),          // kept
		e("mail", "2001:db8::5", time.Hour), // new jail
	}
	before := n.flushCount()
	added, removed, err := n.Reconcile(want)
	require.NoError(t, err)
	require.Equal(t, before+1, n.flushCount(), "one transaction")
	require.Equal(t, 2, added)
	require.Equal(t, 2, removed) // 192.0.2.1 and the hand-added 192.0.2.99
	requireEntries(t, want, list(t, n))

	added, removed, err = n.Reconcile(want)
	require.NoError(t, err)
	require.Zero(t, added)
	require.Zero(t, removed)

	added, removed, err = n.Reconcile(nil)
	require.NoError(t, err)
	require.Zero(t, added)
	require.Equal(t, 4, removed)
	require.Empty(t, list(t, n))
}

func TestNftablesTimeouts(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	require.NoError(t, n.Apply([]Entry{
		e("sshd", "192.0.2.1", time.Second),
		e("sshd", "2001:db8::1", time.Second),
		e("sshd", "192.0.2.2", 0),
		e("sshd", "192.0.2.3", time.Hour),
	}, nil))

	// Re-adding refreshes the timeout.
	require.NoError(t, n.Apply([]Entry{
		e("sshd", "192.0.2.3", 2*time.Hour),
	}, nil))
	requireEntries(t, []Entry{
		e("sshd", "192.0.2.1", time.Second), e("sshd", "192.0.2.2", 0),
		e("sshd", "192.0.2.3", 2*time.Hour), e("sshd", "2001:db8::1", time.Second),
	}, list(t, n))

	// Timed to permanent and permanent to timed.
	require.NoError(t, n.Apply([]Entry{e("sshd", "192.0.2.3", 0), e("sshd", "192.0.2.2", 24*time.Hour)}, nil))
	require.Eventually(t, func() bool { return len(list(t, n)) == 2 }, 10*time.Second, 50*time.Millisecond,
		"the 1s bans expire")
	requireEntries(t, []Entry{e("sshd", "192.0.2.2", 24*time.Hour), e("sshd", "192.0.2.3", 0)}, list(t, n))

	// Deleting an expired element is fine.
	require.NoError(t, n.Apply(nil, []Entry{e("sshd", "192.0.2.1", 0), e("sshd", "2001:db8::1", 0)}))
}

// TestNftablesDrops sends real packets: from a peer namespace over a veth
// pair to listeners in the backend's namespace.
func TestNftablesDrops(t *testing.T) {
	t.Parallel()
	host, peer := newNS(t), newNS(t)
	l := newLink(t, host, peer)
	n := newBackend(t, host)
	for _, p := range []int{8080, 8081, 8082, 9090} {
		listen(t, host, l.hostV4, p)
		listen(t, host, l.hostV6, p)
	}
	const blocked = 400 * time.Millisecond
	open := func(ip []byte, port int) {
		t.Helper()
		require.Eventually(t, func() bool { return dial(peer, ip, port, time.Second) == nil }, 10*time.Second, 20*time.Millisecond,
			"%v port %d should be open", ip, port)
	}
	dropped := func(ip []byte, port int) {
		t.Helper()
		err := dial(peer, ip, port, blocked)
		require.Error(t, err, "%v port %d should be dropped", ip, port)
		require.True(t, isTimeout(err), "%v port %d: want a timeout (dropped SYN), got %v", ip, port, err)
	}
	for _, p := range []int{8080, 8081, 9090} {
		open(l.hostV4, p)
		open(l.hostV6, p)
	}

	peerV4 := netip.MustParseAddr(l.peerV4.String())
	peerV6 := netip.MustParseAddr(l.peerV6.String())
	require.NoError(t, n.Declare(
		JailSpec{Name: "web", Ports: []uint16{8080}},                       // one tcp port
		JailSpec{Name: "multi", Ports: []uint16{8081, 8082}, Proto: "all"}, // port set, tcp+udp
		JailSpec{Name: "dns", Ports: []uint16{9090}, Proto: "udp"},         // udp only: tcp passes
	))

	t.Run("one port", func(t *testing.T) {
		require.NoError(t, n.Apply([]Entry{{Jail: "web", Addr: peerV4, Timeout: time.Hour}}, nil))
		dropped(l.hostV4, 8080)
		open(l.hostV4, 9090)
		open(l.hostV6, 8080) // only the v4 address is banned
		require.NoError(t, n.Apply(nil, []Entry{{Jail: "web", Addr: peerV4}}))
		open(l.hostV4, 8080)
	})
	t.Run("port set v6", func(t *testing.T) {
		require.NoError(t, n.Apply([]Entry{{Jail: "multi", Addr: peerV6}}, nil))
		dropped(l.hostV6, 8081)
		dropped(l.hostV6, 8082)
		open(l.hostV6, 8080)
		open(l.hostV4, 8081)
		require.NoError(t, n.Apply(nil, []Entry{{Jail: "multi", Addr: peerV6}}))
		open(l.hostV6, 8081)
	})
	t.Run("udp jail lets tcp through", func(t *testing.T) {
		require.NoError(t, n.Apply([]Entry{{Jail: "dns", Addr: peerV4}}, nil))
		open(l.hostV4, 9090)
		require.NoError(t, n.Apply(nil, []Entry{{Jail: "dns", Addr: peerV4}}))
	})
	t.Run("undeclared jail drops everything", func(t *testing.T) {
		require.NoError(t, n.Apply([]Entry{{Jail: "any", Addr: peerV4}, {Jail: "any", Addr: peerV6}}, nil))
		dropped(l.hostV4, 9090)
		dropped(l.hostV6, 8080)
		_, _, err := n.Reconcile(nil)
		require.NoError(t, err)
		open(l.hostV4, 9090)
		open(l.hostV6, 8080)
	})
	t.Run("redeclared ports replace the rule", func(t *testing.T) {
		require.NoError(t, n.Apply([]Entry{{Jail: "web", Addr: peerV4, Timeout: time.Hour}}, nil))
		dropped(l.hostV4, 8080)
		require.NoError(t, n.Declare(JailSpec{Name: "web", Ports: []uint16{9090}}))
		open(l.hostV4, 8080)
		dropped(l.hostV4, 9090)
		out := host.nft(t, "list", "chain", "inet", "banfleet", "input")
		require.Equal(t, 1, strings.Count(out, "@web_v4"), out)
		requireEntries(t, []Entry{{Jail: "web", Addr: peerV4, Timeout: time.Hour}}, list(t, n))
	})
}

// TestNftablesRuleText pins how each kind of spec reads in nft.
func TestNftablesRuleText(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	require.NoError(t, n.Declare(
		JailSpec{Name: "ssh", Ports: []uint16{22}},
		JailSpec{Name: "web", Ports: []uint16{443, 80}, Proto: "tcp"},
		JailSpec{Name: "dns", Ports: []uint16{53}, Proto: "udp"},
		JailSpec{Name: "both", Ports: []uint16{5060, 5061}, Proto: "all"},
	))
	var add []Entry
	for _, j := range []string{"ssh", "web", "dns", "both", "all"} {
		add = append(add, e(j, "192.0.2.1", 0), e(j, "2001:db8::1", 0))
	}
	require.NoError(t, n.Apply(add, nil))
	out := ns.nft(t, "list", "chain", "inet", "banfleet", "input")
	for _, s := range []string{
		// nft leaves out the "meta nfproto" that "ip saddr" implies, and
		// writes "meta l4proto tcp th dport" as "tcp dport".
		"\ttcp dport 22 ip saddr @ssh_v4 drop",
		"\ttcp dport 22 ip6 saddr @ssh_v6 drop",
		"\ttcp dport { 80, 443 } ip saddr @web_v4 drop",
		"\tudp dport 53 ip saddr @dns_v4 drop",
		"\tmeta l4proto { tcp, udp } th dport { 5060, 5061 } ip saddr @both_v4 drop",
		"\tip saddr @all_v4 drop",
		"\tip6 saddr @all_v6 drop",
	} {
		require.Contains(t, out, s)
	}
	require.Equal(t, 10, strings.Count(out, " drop "))
}

func TestNftablesDeclareInvalid(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	err := n.Declare(JailSpec{Name: "ok", Ports: []uint16{22}}, JailSpec{Name: "bad", Proto: "sctp"})
	require.ErrorIs(t, err, ErrInvalidSpec)
	require.NoError(t, n.Apply([]Entry{e("ok", "192.0.2.1", 0)}, nil))
	require.Contains(t, ns.nft(t, "list", "chain", "inet", "banfleet", "input"), "tcp dport 22 ip saddr @ok_v4 drop")
}

func TestNftablesRemove(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	ns.nft(t, "add", "table", "inet", "other")
	ns.nft(t, "add", "chain", "inet", "other", "c", "{ type filter hook input priority 0; }")
	ns.nft(t, "add", "rule", "inet", "other", "c", "tcp dport 1 drop")

	n := newBackend(t, ns)
	require.NoError(t, n.Apply([]Entry{e("sshd", "192.0.2.1", 0)}, nil))
	require.Contains(t, ns.nft(t, "list", "tables"), "table inet banfleet")

	// A second NewNftables on an existing table keeps its contents.
	n2 := newBackend(t, ns)
	requireEntries(t, []Entry{e("sshd", "192.0.2.1", 0)}, list(t, n2))

	require.NoError(t, n.Remove())
	tables := ns.nft(t, "list", "tables")
	require.NotContains(t, tables, "banfleet")
	require.Contains(t, tables, "table inet other")
	require.Contains(t, ns.nft(t, "list", "table", "inet", "other"), "tcp dport 1 drop")
	require.NoError(t, n.Remove(), "removing a missing table is fine")

	// The other backend recovers: its next write recreates the table.
	require.NoError(t, n2.Apply([]Entry{e("sshd", "192.0.2.2", 0)}, nil))
	requireEntries(t, []Entry{e("sshd", "192.0.2.2", 0)}, list(t, n2))
	require.NoError(t, n2.Remove())
	require.NotContains(t, ns.nft(t, "list", "tables"), "banfleet")
}

func TestNftablesCustomTable(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n, err := NewNftables(NftOptions{Table: "bf_test", NetNS: int(ns.h), Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	require.NoError(t, n.Apply([]Entry{e("sshd", "192.0.2.1", 0)}, nil))
	tables := ns.nft(t, "list", "tables")
	require.Contains(t, tables, "table inet bf_test")
	require.NotContains(t, tables, "banfleet")
	require.NoError(t, n.Close())
	require.Contains(t, ns.nft(t, "list", "tables"), "table inet bf_test", "Close keeps the table")
}

func TestNftablesConcurrent(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	var (
		wg   sync.WaitGroup
		want []Entry
		mu   sync.Mutex
	)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				x := Entry{Jail: fmt.Sprintf("j%d", g%3), Addr: netip.AddrFrom4([4]byte{10, byte(g), 0, byte(i)}), Timeout: time.Hour}
				if err := n.Apply([]Entry{x}, nil); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want = append(want, x)
				mu.Unlock()
				if _, err := n.List(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	requireEntries(t, want, list(t, n))
}

// manyEntries returns n entries, half IPv4 and half IPv6, in jail.
func manyEntries(jail string, n int, timeout time.Duration) []Entry {
	out := make([]Entry, 0, n)
	for i := range n {
		var a netip.Addr
		if i%2 == 0 {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], 0x0a000000+uint32(i))
			a = netip.AddrFrom4(b)
		} else {
			b := [16]byte{0x20, 0x01, 0x0d, 0xb8}
			binary.BigEndian.PutUint32(b[12:], uint32(i))
			a = netip.AddrFrom16(b)
		}
		out = append(out, Entry{Jail: jail, Addr: a, Timeout: timeout})
	}
	return out
}

func TestNftablesReconcile100k(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	want := manyEntries("big", 100_000, time.Hour)

	before := n.flushCount()
	start := time.Now()
	set := start // when the timeouts were first written
	added, removed, err := n.Reconcile(want)
	require.NoError(t, err)
	t.Logf("Reconcile 100k from empty: %v", time.Since(start))
	require.Equal(t, before+1, n.flushCount(), "one transaction")
	require.Equal(t, 100_000, added)
	require.Zero(t, removed)
	require.Len(t, list(t, n), 100_000)

	start = time.Now()
	added, removed, err = n.Reconcile(want[:50_000])
	require.NoError(t, err)
	t.Logf("Reconcile 100k -> 50k: %v", time.Since(start))
	require.Zero(t, added)
	require.Equal(t, 50_000, removed)
	requireEntriesSince(t, want[:50_000], list(t, n), set)
}

// TestTuneSocket checks that the netlink socket buffers are forced past
// net.core.wmem_max, which a 100k-element batch needs on hosts with the
// default limit (212992).
func TestTuneSocket(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(ns.h)})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, tuneSocket(c))
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var snd, rcv int
	var serr, rerr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		snd, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		rcv, rerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}))
	require.NoError(t, serr)
	require.NoError(t, rerr)
	// The kernel doubles the requested size.
	require.Equal(t, 2*sockBufSize, snd)
	require.Equal(t, 2*sockBufSize, rcv)
}

// On the library's path (a kernel without DESTROYSETELEM), deleting an
// element that is gone fails the transaction with ENOENT; it is retried
// without it, and adds in the same call survive the rollback.
func TestNftablesApplyDeleteMissingOldKernel(t *testing.T) {
	t.Parallel()
	ns := newNS(t)
	n := newBackend(t, ns)
	n.elems.unsupported = true
	require.NoError(t, n.Apply([]Entry{e("sshd", "192.0.2.1", time.Hour), e("sshd", "192.0.2.2", time.Hour)}, nil))
	ns.nft(t, "delete", "element", "inet", "banfleet", "sshd_v4", "{ 192.0.2.2 }")
	before := n.flushCount()
	require.NoError(t, n.Apply([]Entry{e("sshd", "192.0.2.5", time.Hour)}, []Entry{e("sshd", "192.0.2.1", 0), e("sshd", "192.0.2.2", 0)}))
	require.Equal(t, before+2, n.flushCount(), "one failed and one retried transaction")
	requireEntries(t, []Entry{e("sshd", "192.0.2.5", time.Hour)}, list(t, n))
}
