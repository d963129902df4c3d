package subject

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOffenceRoundTrip(t *testing.T) {
	s := Offence(7, "web-1")
	require.Equal(t, "banfleet.offence.7.web-1", s)
	shard, host, err := ParseOffence(s)
	require.NoError(t, err)
	require.Equal(t, 7, shard)
	require.Equal(t, "web-1", host)
	for _, bad := range []string{"banfleet.offence.x.h", "banfleet.offence.1", "other.1.h", "banfleet.offence.1.h.x", "banfleet.offence.-1.h"} {
		_, _, err := ParseOffence(bad)
		require.Error(t, err, bad)
	}
}

func TestBanKeyRoundTrip(t *testing.T) {
	for _, a := range []string{"192.0.2.1", "2001:db8::1", "::1"} {
		addr := netip.MustParseAddr(a)
		k := BanKey("sshd", addr)
		require.NotContains(t, k, ":")
		j, got, err := ParseBanKey(k)
		require.NoError(t, err)
		require.Equal(t, "sshd", j)
		require.Equal(t, addr, got)
	}
	_, _, err := ParseBanKey("sshd.notanip")
	require.Error(t, err)
}

func TestShardStable(t *testing.T) {
	a := netip.MustParseAddr("203.0.113.9")
	require.Equal(t, Shard(a, 16), Shard(a, 16))
	require.Less(t, Shard(a, 16), 16)
}

func TestOffenceRoute(t *testing.T) {
	for subj, want := range map[string]string{
		"banfleet.offence.3.h1": "h1", "banfleet.offence.bad.h1": "h1",
		"banfleet.offence.5.h1.x.y": "", "banfleet.offence.1": "", "other.1.h1": "", "banfleet.offence.1.": "",
	} {
		host, ok := OffenceRoute(subj)
		require.Equal(t, want, host, subj)
		require.Equal(t, want != "", ok, subj)
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "web-1", "sshd_2", "A-Z_a-z_0-9", strings.Repeat("x", 64)} {
		require.True(t, ValidName(ok), ok)
	}
	for _, bad := range []string{"", "a.b", "a b", "a*", "a>", "é", "a/b", strings.Repeat("x", 65), "a\x00"} {
		require.False(t, ValidName(bad), "%q", bad)
	}
}
