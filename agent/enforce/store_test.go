package enforce

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBanSetKeys(t *testing.T) {
	s := newBanSet()
	keys := []bkey{
		{addr: netip.MustParseAddr("203.0.113.7").As16(), jail: 3, v4: true},
		{addr: netip.MustParseAddr("203.0.113.7").As16(), jail: 3, v4: true, own: true},
		{addr: netip.MustParseAddr("255.255.255.254").As16(), jail: 65535, v4: true},
		{addr: netip.MustParseAddr("2001:db8::7").As16(), jail: 1},
	}
	for i, k := range keys {
		if !k.v4 {
			continue
		}
		require.Equal(t, k, unpack4(pack4(k)), "round trip")
		s.set(k, bval{exp: uint32(i)})
	}
	s.set(keys[3], bval{exp: 9})
	require.Equal(t, 4, s.len())
	got := map[bkey]bval{}
	s.all(func(k bkey, v bval) bool { got[k] = v; return true })
	for i, k := range keys[:3] {
		require.Equal(t, bval{exp: uint32(i)}, got[k])
	}
	require.Equal(t, bval{exp: 9}, got[keys[3]])
	s.del(keys[1])
	_, ok := s.get(keys[1])
	require.False(t, ok)
	_, ok = s.get(keys[0])
	require.True(t, ok)
}

// The packed tables agree with a map through inserts, updates, deletes
// (also while walking) and growth.
func TestBanSetMatchesMap(t *testing.T) {
	s := newBanSet()
	want := map[bkey]bval{}
	rnd := rand.New(rand.NewPCG(1, 2))
	key := func() bkey {
		a := netip.AddrFrom4([4]byte{0, 0, byte(rnd.IntN(64)), byte(rnd.IntN(256))}) // 0.0.0.0 and 0.0.0.1 included
		return bkey{addr: a.As16(), jail: uint16(rnd.IntN(3)), v4: true, own: rnd.IntN(4) == 0}
	}
	for i := range 200_000 {
		k := key()
		if rnd.IntN(3) == 0 {
			s.del(k)
			delete(want, k)
		} else {
			v := bval{exp: uint32(i), walk: uint16(i), load: uint16(i >> 16)}
			s.set(k, v)
			want[k] = v
		}
		if i%50_000 == 0 {
			// Delete about half while walking.
			s.all(func(k bkey, v bval) bool {
				if v.exp%2 == 0 {
					s.del(k)
					delete(want, k)
				}
				return true
			})
		}
	}
	require.Equal(t, len(want), s.len())
	got := map[bkey]bval{}
	s.all(func(k bkey, v bval) bool {
		_, dup := got[k]
		require.False(t, dup, "each ban once")
		got[k] = v
		return true
	})
	require.Equal(t, want, got)
	for k, v := range want {
		g, ok := s.get(k)
		require.True(t, ok)
		require.Equal(t, v, g)
	}
}

// BenchmarkBanSetMemory reports the bytes a million IPv4 bans take.
func BenchmarkBanSetMemory(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := newBanSet()
		for i := range 1_000_000 {
			k := bkey{addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).As16(), v4: true}
			s.set(k, bval{exp: uint32(i)})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "bytes/ban")
		runtime.KeepAlive(s)
	}
}
