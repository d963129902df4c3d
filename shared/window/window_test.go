package window

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	t0   = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	pol  = Policy{MaxRetry: 3, FindTime: 10 * time.Minute}
	addr = netip.MustParseAddr("203.0.113.9")
)

func TestCountWithinFindtime(t *testing.T) {
	cases := []struct {
		name   string
		offs   []time.Duration // offsets from t0
		counts []int
	}{
		{"three in a row", []time.Duration{0, time.Second, 2 * time.Second}, []int{1, 2, 3}},
		{"first fell out", []time.Duration{0, 9 * time.Minute, 10*time.Minute + time.Second}, []int{1, 2, 2}},
		{"out of order", []time.Duration{2 * time.Second, 0, time.Second}, []int{1, 2, 3}},
		{"keeps newest maxretry", []time.Duration{0, 1, 2, 3, 4}, []int{1, 2, 3, 3, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := NewTracker()
			k := MakeKey(1, addr, 0)
			for i, off := range c.offs {
				r := tr.Add(k, uint16(i), t0.Add(off), t0.Add(3*time.Second).Add(max(off, 0)), pol)
				require.Equal(t, c.counts[i], r.Count, "offence %d", i)
			}
		})
	}
}

func TestStaleAndFuture(t *testing.T) {
	tr := NewTracker()
	k := MakeKey(1, addr, 0)
	r := tr.Add(k, 1, t0.Add(-11*time.Minute), t0, pol)
	require.True(t, r.Stale)
	require.Equal(t, 0, r.Count)
	// A future time counts as now: it expires with now's window.
	tr.Add(k, 1, t0.Add(time.Hour), t0, pol)
	r = tr.Add(k, 2, t0.Add(10*time.Minute+time.Second), t0.Add(10*time.Minute+time.Second), pol)
	require.Equal(t, 1, r.Count)
}

func TestHostsAndScopes(t *testing.T) {
	tr := NewTracker()
	k := MakeKey(1, addr, 0)
	tr.Add(k, 1, t0, t0, pol)
	tr.Add(k, 2, t0, t0, pol)
	tr.Add(k, 2, t0, t0, pol)
	require.ElementsMatch(t, []uint16{1, 2}, tr.Hosts(nil, k, t0, pol))
	// Per-host keys count apart.
	for h := uint16(1); h <= 3; h++ {
		r := tr.Add(MakeKey(1, addr, h), h, t0, t0, pol)
		require.Equal(t, 1, r.Count)
	}
	tr.Forget(k)
	require.Equal(t, 3, tr.Len())
	require.Equal(t, 3, tr.Sweep(t0.Add(11*time.Minute), func(uint16) time.Duration { return pol.FindTime }))
	require.Equal(t, 0, tr.Len())
}

// BenchmarkTrackerMemory reports the heap bytes per tracked address.
func BenchmarkTrackerMemory(b *testing.B) {
	const n = 100_000
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tr := NewTracker()
		for i := range n {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			tr.Add(MakeKey(1, a, 0), 1, t0, t0, Policy{MaxRetry: 5, FindTime: time.Minute})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/addr")
		runtime.KeepAlive(tr)
	}
}

func BenchmarkAdd(b *testing.B) {
	tr := NewTracker()
	b.ReportAllocs()
	for i := range b.N {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		tr.Add(MakeKey(1, a, 0), 1, t0, t0, pol)
	}
}

// A jail with a maxretry above what a map slot holds keeps its newest
// maxretry offences too, and a window follows its jail's maxretry when it
// changes.
func TestLargeAndChangingMaxRetry(t *testing.T) {
	tr := NewTracker()
	k := MakeKey(1, addr, 0)
	big := Policy{MaxRetry: 8, FindTime: 10 * time.Minute}
	for i := range 10 {
		r := tr.Add(k, uint16(i%3+1), t0.Add(time.Duration(i)*time.Second), t0.Add(time.Minute), big)
		require.Equal(t, min(i+1, 8), r.Count, "offence %d", i)
	}
	require.ElementsMatch(t, []uint16{1, 2, 3}, tr.Hosts(nil, k, t0.Add(time.Minute), big))
	tr.ForgetHost(k, 1) // offences 3, 6 and 9 of the newest 8 (2..9)
	require.Equal(t, 0, tr.HostCount(k, 1, t0.Add(time.Minute), big))
	require.Equal(t, 2, tr.HostCount(k, 2, t0.Add(time.Minute), big))
	require.Equal(t, 1, tr.Len())

	// maxretry grows past the slot: the window moves, nothing is lost.
	k2 := MakeKey(2, addr, 0)
	for i := range 5 {
		tr.Add(k2, 1, t0.Add(time.Duration(i)*time.Second), t0.Add(time.Minute), pol5)
	}
	r := tr.Add(k2, 2, t0.Add(10*time.Second), t0.Add(time.Minute), big)
	require.Equal(t, 6, r.Count)
	// ... and shrinks: only the newest maxretry count.
	r = tr.Add(k2, 2, t0.Add(11*time.Second), t0.Add(time.Minute), pol)
	require.Equal(t, 3, r.Count)
	k3 := MakeKey(3, addr, 0)
	for i := range 5 {
		tr.Add(k3, 1, t0.Add(time.Duration(i)*time.Second), t0.Add(time.Minute), pol5)
	}
	r = tr.Add(k3, 2, t0.Add(10*time.Second), t0.Add(time.Minute), pol)
	require.Equal(t, 3, r.Count)
	require.Equal(t, []uint16{1, 2}, tr.Hosts(nil, k3, t0.Add(time.Minute), pol))
	require.Equal(t, 3, tr.Len())
	require.Equal(t, 3, tr.Sweep(t0.Add(time.Hour), func(uint16) time.Duration { return 10 * time.Minute }))
	require.Equal(t, 0, tr.Len())
}

var pol5 = Policy{MaxRetry: 5, FindTime: 10 * time.Minute}

// IPv4 and IPv6 windows are kept apart (IPv4's with a shorter key) and
// alike.
func TestIPv6AndIPv4(t *testing.T) {
	tr := NewTracker()
	v6 := MakeKey(1, netip.MustParseAddr("2001:db8::9"), 0)
	v4 := MakeKey(1, netip.MustParseAddr("192.0.2.9"), 0)
	mapped := MakeKey(1, netip.MustParseAddr("::ffff:192.0.2.9"), 0)
	for i, k := range []Key{v6, v4, mapped} {
		r := tr.Add(k, uint16(i+1), t0, t0, pol)
		require.Equal(t, []int{1, 1, 2}[i], r.Count)
	}
	require.Equal(t, 2, tr.Len())
	require.Equal(t, []uint16{2, 3}, tr.Hosts(nil, v4, t0, pol))
	require.Equal(t, 1, tr.HostCount(v6, 1, t0, pol))
	tr.ForgetHost(v4, 2)
	require.Equal(t, []uint16{3}, tr.Hosts(nil, v4, t0, pol))
	tr.Forget(v6)
	require.Equal(t, 1, tr.Len())
	require.Equal(t, 1, tr.Sweep(t0.Add(time.Hour), func(uint16) time.Duration { return pol.FindTime }))
}
