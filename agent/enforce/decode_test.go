package enforce

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/wire"
)

func sampleBans() []*wire.Ban {
	now := time.Date(2026, 12, 8, 1, 2, 3, 456789000, time.UTC)
	return []*wire.Ban{
		{V: wire.Version, Addr: netip.MustParseAddr("10.1.2.3"), Jail: "sshd", Ports: []uint16{22}, Reason: wire.Reason{Count: 3, Hosts: []string{"h1", "h2"}},
			Created: now, Expires: now.Add(time.Hour), By: "coord", Count: 1},
		{V: wire.Version, Addr: netip.MustParseAddr("2001:db8::7"), Jail: "manual", Reason: wire.Reason{Text: "by hand"},
			Created: now, By: "admin:root@c1", Forced: true},
		{V: wire.Version, Addr: netip.MustParseAddr("192.0.2.9"), Jail: "web-x", Ports: []uint16{80, 443}, Created: now, Expires: now.Add(time.Minute),
			By: "coord", Only: "h3"},
	}
}

// The fast path accepts what the fleet writes, and gives what the
// contract's decoder gives (but Reason.Hosts, which it does not keep).
func TestBanDecoderFastPath(t *testing.T) {
	var d banDecoder
	for _, b := range sampleBans() {
		data, err := wire.Encode(b)
		require.NoError(t, err)
		var got wire.Ban
		require.NoError(t, d.fast(bans.Key(b), data, &got), "%s", data)
		want := *b
		want.Reason.Hosts = nil
		require.Equal(t, want, got)
		require.ErrorIs(t, d.fast(bans.Key(b)+"x", data, &got), errSlowPath, "a key that does not match")
	}
}

// Whatever the fast path accepts, bans.Decode accepts with the same result;
// what it refuses, decode still judges as bans.Decode does.
func FuzzBanDecoder(f *testing.F) {
	for _, b := range sampleBans() {
		data, _ := wire.Encode(b)
		f.Add(bans.Key(b), data)
	}
	f.Add("sshd.10.0.0.1", []byte(`{"v":1,"addr":"10.0.0.1","jail":"sshd","reason":{"count":1},"created":"2026-01-01T00:00:00Z","expires":"2026-01-01T01:00:00Z","by":"c","extra":1}`))
	f.Add("sshd.10.0.0.1", []byte(`{"V":1,"addr":"10.0.0.1","jail":"sshd","reason":{"count":1},"created":"2026-01-01T00:00:00Z","expires":"0001-01-01T00:00:00Z","by":"c"}`))
	f.Add("sshd.10.0.0.1", []byte(`{"v":1,"addr":"10.0.0.1","jail":"sshd","ports":[22,],"reason":{"count":1.0},"created":"2026-01-01T00:00:00Z","by":"\u0063"} `))
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		var d banDecoder
		var got wire.Ban
		fastErr := d.fast(key, data, &got)
		want, err := bans.Decode(&kvEntry{key: key, value: data})
		if fastErr == nil {
			if err != nil {
				t.Fatalf("fast path accepted what bans.Decode refuses (%v): %q", err, data)
			}
			w := *want
			w.Reason.Hosts = nil
			if w.Ports != nil && len(w.Ports) == 0 {
				w.Ports = got.Ports
			}
			require.Equal(t, w, got, "%q", data)
		}
		var viaDecode wire.Ban
		derr := d.decode(key, data, &viaDecode)
		require.Equal(t, err == nil, derr == nil, "%q", data)
		if err != nil {
			require.Equal(t, err.Error(), derr.Error())
		}
	})
}

func BenchmarkBanDecode(b *testing.B) {
	ban := sampleBans()[0]
	data, _ := wire.Encode(ban)
	key := bans.Key(ban)
	b.Run("fast", func(b *testing.B) {
		var d banDecoder
		var out wire.Ban
		b.ReportAllocs()
		for range b.N {
			if err := d.decode(key, data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bans.Decode", func(b *testing.B) {
		ent := &kvEntry{key: key, value: data}
		b.ReportAllocs()
		for range b.N {
			if _, err := bans.Decode(ent); err != nil {
				b.Fatal(err)
			}
		}
	})
}
