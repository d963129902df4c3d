package enforce

import (
	"net/netip"
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
