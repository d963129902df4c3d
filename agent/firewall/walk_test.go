package firewall

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Walk streams what List returns, for IPv4 and IPv6 sets, with timeouts.
func TestWalkMatchesList(t *testing.T) {
	ns := newNS(t)
	n := newBackend(t, ns)
	var add []Entry
	for i := range 5000 {
		add = append(add, Entry{Jail: "sshd", Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Timeout: time.Hour})
	}
	add = append(add,
		Entry{Jail: "web", Addr: netip.MustParseAddr("2001:db8::1"), Timeout: time.Hour},
		Entry{Jail: "web", Addr: netip.MustParseAddr("2001:db8::2")})
	require.NoError(t, n.Apply(add, nil))
	list, err := n.List()
	require.NoError(t, err)
	var walked []Entry
	require.NoError(t, n.Walk(func(e Entry) { walked = append(walked, e) }))
	sortEntries(walked)
	require.Len(t, walked, len(list))
	for i := range list {
		require.Equal(t, list[i].key(), walked[i].key())
		require.InDelta(t, list[i].Timeout.Seconds(), walked[i].Timeout.Seconds(), 2)
	}
}
