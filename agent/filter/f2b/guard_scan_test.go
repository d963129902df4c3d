package f2b

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNextAddrSpellings: the guard's scan finds every spelling of the
// injection corpus, whatever separates it from its neighbours, with its
// whole spelling as the span and its value as the address.
func TestNextAddrSpellings(t *testing.T) {
	for _, sp := range injSpellings {
		for _, sep := range injSeps {
			for _, around := range [][2]string{{"from", "port"}, {"ip=", ","}, {"rhost=", ""}, {"", ":"}} {
				pre := around[0] + sep.sep
				line := pre + sp.text + sep.sep + around[1] + "\n"
				b := []byte(line)
				ts, te, a, _ := nextAddr(b, 0, len(b)-1)
				require.Equal(t, sp.addr, a, "%s %s %q", sp.name, sep.name, line)
				require.Equal(t, strings.TrimSuffix(sp.text, ":22"), line[ts:te], "%s %s %q", sp.name, sep.name, line)
			}
		}
	}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"rip=192.0.2.1, lip=2001:db8::1, x", []string{"192.0.2.1", "2001:db8::1"}},
		{"ip=[[192.0.2.1]], ip=[::ffff:203.0.113.10]", []string{"192.0.2.1", "203.0.113.10"}},
		{"from 2001:db8::1: bye", []string{"2001:db8::1"}},
		{"port 22 :2001:db8::1 x", []string{"2001:db8::1"}},
		{"[192.0.2.1]:22 I=[192.0.2.2]:25", []string{"192.0.2.1", "192.0.2.2"}},
		{"ssh2: RSA SHA256:abc, version 1.2.3", nil},
		{"1.2.3.4.5 256.1.1.1 1.2.3", []string{"1.2.3.4"}},
		{"\u00a0::FFFF:C000:0201\u2003", []string{"192.0.2.1"}},
	} {
		var got []string
		b := []byte(c.in + "\n")
		for i := 0; ; {
			ts, _, a, next := nextAddr(b, i, len(b)-1)
			if ts < 0 {
				break
			}
			got = append(got, a.String())
			i = next
		}
		require.Equal(t, c.want, got, "%q", c.in)
	}
}

// TestLooseAddr compares the guard's parser with netip on every spelling
// netip takes, and checks what only the guard takes.
func TestLooseAddr(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "192.0.2.1", "255.255.255.255", "::", "::1", "1::", "2001:db8::1", "2001:DB8:0:0:0:0:0:1",
		"::ffff:192.0.2.1", "::FFFF:c000:201", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6::", "::2:3:4:5:6:7:8",
		"1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "64:ff9b::192.0.2.1", "fe80::1:2",
	} {
		want := netip.MustParseAddr(s).Unmap()
		require.Equal(t, want, looseAddr([]byte(s)), s)
		require.Equal(t, want, looseAddr([]byte("["+s+"]")), s)
	}
	for s, want := range map[string]string{
		"192.000.002.001": "192.0.2.1", "010.1.1.1": "10.1.1.1", "::ffff:192.000.002.001": "192.0.2.1",
	} {
		require.Equal(t, netip.MustParseAddr(want), looseAddr([]byte(s)), s)
	}
	for _, s := range []string{
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.0004", "1..2.3", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8",
		"1::2::3", "12345::", ":1::", "1:", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "[::1", "x::1", "::g",
	} {
		require.False(t, looseAddr([]byte(s)).IsValid(), s)
	}
}

// FuzzLooseAddr: whatever netip parses (no zone), the guard parses to the
// same address; what netip refuses, the guard takes only with zero-padded
// IPv4 parts.
func FuzzLooseAddr(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "01.2.3.4", "::", "1::2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := looseAddr([]byte(s))
		want, err := netip.ParseAddr(s)
		if err == nil && want.Zone() == "" {
			if got != want.Unmap() {
				t.Fatalf("%q: %v, netip %v", s, got, want)
			}
			return
		}
		if !got.IsValid() {
			return
		}
		// only zero-padded IPv4 parts: without the padding, netip agrees
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '.' })
		if !strings.Contains(s, ".") || len(parts) == 0 {
			t.Fatalf("%q: %v, netip refuses: %v", s, got, err)
		}
		dot := strings.LastIndexByte(s, ':') + 1
		v4 := strings.Split(s[dot:], ".")
		for i, p := range v4 {
			v4[i] = strings.TrimLeft(p, "0")
			if v4[i] == "" {
				v4[i] = "0"
			}
		}
		again, err := netip.ParseAddr(s[:dot] + strings.Join(v4, "."))
		if err != nil || again.Unmap() != got {
			t.Fatalf("%q: %v, netip refuses: %v", s, got, err)
		}
	})
}
