package netaddr

import (
	"context"
	"net/netip"
	"testing"
	"time"

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

func TestNever(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"0.0.0.0", true}, {"::", true}, {"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true},
		{"::ffff:127.0.0.1", true}, {"169.254.1.1", true}, {"fe80::1", true}, {"224.0.0.1", true},
		{"239.1.2.3", true}, {"ff02::1", true}, {"255.255.255.255", true}, {"0.1.2.3", true},
		{"192.0.2.1", false}, {"10.0.0.1", false}, {"2001:db8::1", false}, {"::ffff:192.0.2.1", false},
	} {
		if got := Never(netip.MustParseAddr(tc.addr)) != ""; got != tc.want {
			t.Errorf("Never(%s) = %q, want never=%v", tc.addr, Never(netip.MustParseAddr(tc.addr)), tc.want)
		}
	}
}

func TestURLHostsAndResolve(t *testing.T) {
	hosts := URLHosts("nats://10.0.0.1:4222, tls://[::ffff:10.0.0.2]:4222,bad url%%,nats://n.invalid:4222")
	require.Equal(t, []string{"10.0.0.1", "::ffff:10.0.0.2", "n.invalid"}, hosts)
	var failed []string
	got := Resolve(context.Background(), hosts, time.Second, func(h string, _ error) { failed = append(failed, h) })
	require.Equal(t, []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}, got)
	require.Equal(t, []string{"n.invalid"}, failed)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.1/32")},
		SortPrefixes([]netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.1/32")}))
}
