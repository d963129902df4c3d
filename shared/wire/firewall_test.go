package wire

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFirewallHash: the hash is fixed (every process, every architecture
// computes the same), and tells jails and families apart.
func TestFirewallHash(t *testing.T) {
	a4, a6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	golden := map[string]uint64{
		"sshd/192.0.2.1":   FirewallHash("sshd", a4),
		"nginx/192.0.2.1":  FirewallHash("nginx", a4),
		"sshd/2001:db8::1": FirewallHash("sshd", a6),
	}
	require.Equal(t, map[string]uint64{
		"sshd/192.0.2.1":   0x35fbb122507dd7d8,
		"nginx/192.0.2.1":  0x22210b2626fd114c,
		"sshd/2001:db8::1": 0xbce665be94b4efba,
	}, golden)
	require.Equal(t, FirewallHash("sshd", a4), FirewallHash("sshd", netip.MustParseAddr("::ffff:192.0.2.1").Unmap()))
}

// TestFirewallDigest: order does not count; one element more, fewer or
// different changes its shard; the bytes read back.
func TestFirewallDigest(t *testing.T) {
	d1, d2 := NewFirewallDigest(8), NewFirewallDigest(8)
	var hs []uint64
	for i := range 1000 {
		hs = append(hs, FirewallHash("sshd", netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})))
	}
	for i := range hs {
		d1.Add(hs[i])
		d2.Add(hs[len(hs)-1-i])
	}
	require.Equal(t, d1, d2)
	back, err := ParseFirewallDigest(8, d1.Bytes())
	require.NoError(t, err)
	require.Equal(t, d1, back)
	_, err = ParseFirewallDigest(9, d1.Bytes())
	require.ErrorIs(t, err, ErrMalformed)

	s := d2.Add(FirewallHash("sshd", netip.MustParseAddr("10.9.9.9")))
	for i := range d1.N {
		require.Equal(t, i != s, d1.Equal(d2, i), i)
	}
	// Same count, another element: the sum differs.
	d3 := NewFirewallDigest(8)
	x, y := FirewallHash("a", netip.MustParseAddr("192.0.2.7")), FirewallHash("b", netip.MustParseAddr("192.0.2.7"))
	d3.Add(x)
	d4 := NewFirewallDigest(8)
	d4.Sum[d3.Shard(x)] = d3.Sum[d3.Shard(x)] + 1
	d4.N[d3.Shard(x)] = 1
	require.False(t, d3.Equal(d4, d3.Shard(x)))
	require.NotEqual(t, x, y)
}

// TestDecodeFirewallAnswer: a part and an older agent's whole state are
// told apart; bad parts are refused.
func TestDecodeFirewallAnswer(t *testing.T) {
	data, err := EncodeFirewall(&FirewallPart{Host: "h1", Part: 1, Final: true, Parts: 1, Total: 1,
		Entries: []FirewallEntry{{Jail: "sshd", Addr: netip.MustParseAddr("192.0.2.1"), Local: true}}, Digest: make([]byte, 12<<4)})
	require.NoError(t, err)
	p, st, err := DecodeFirewallAnswer(data)
	require.NoError(t, err)
	require.Nil(t, st)
	require.Equal(t, 1, p.Total)

	data, err = Encode(&FirewallState{Host: "h1", Entries: []FirewallEntry{{Jail: "sshd", Addr: netip.MustParseAddr("192.0.2.1")}}})
	require.NoError(t, err)
	p, st, err = DecodeFirewallAnswer(data)
	require.NoError(t, err)
	require.Nil(t, p)
	require.Len(t, st.Entries, 1)

	for name, bad := range map[string]string{
		"part 0":         `{"v":1,"host":"h1","part":0}`,
		"final count":    `{"v":1,"host":"h1","part":2,"final":true,"parts":3}`,
		"digest size":    `{"v":1,"host":"h1","part":1,"digest":"AAAA"}`,
		"unknown field":  `{"v":1,"host":"h1","part":1,"more":1}`,
		"bad host":       `{"v":1,"host":"a b","part":1}`,
		"bad entry jail": `{"v":1,"host":"h1","part":1,"entries":[{"jail":"a.b","addr":"192.0.2.1","expires_in_s":0}]}`,
		"version":        `{"v":2,"host":"h1","part":1}`,
	} {
		_, _, err := DecodeFirewallAnswer([]byte(bad))
		require.Error(t, err, name)
	}

	q, err := DecodeFirewallQuery([]byte(`{"v":1,"bits":8,"shards":[0,255],"max":10}`))
	require.NoError(t, err)
	require.Equal(t, []int{0, 255}, q.Shards)
	for _, bad := range []string{`{"v":1,"bits":3}`, `{"v":1,"bits":8,"shards":[256]}`, `{"v":1,"bits":8,"max":-1}`, `{"v":1,"bits":8,"x":1}`} {
		_, err := DecodeFirewallQuery([]byte(bad))
		require.ErrorIs(t, err, ErrMalformed, bad)
	}
}
