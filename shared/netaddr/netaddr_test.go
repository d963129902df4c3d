package netaddr

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSet(t *testing.T) {
	s, err := ParseSet([]string{"127.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:198.51.100.0/120"})
	require.NoError(t, err)
	for a, want := range map[string]bool{
		"127.1.2.3": true, "192.0.2.7": true, "192.0.2.8": false, "2001:db8::5": true,
		"::ffff:192.0.2.7": true, "198.51.100.9": true, "203.0.113.1": false, "2001:db9::1": false,
	} {
		require.Equal(t, want, s.Contains(netip.MustParseAddr(a)), a)
	}
	_, err = ParseSet([]string{"10.0.0.0/8", "nonsense"})
	require.ErrorContains(t, err, `entry 1 "nonsense"`)
	var nilSet *Set
	require.False(t, nilSet.Contains(netip.MustParseAddr("127.0.0.1")))
}
