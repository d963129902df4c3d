package wire

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func validOffence() *Offence {
	return &Offence{ID: "h1:12:345", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"),
		Time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), Line: "Failed password for root from 203.0.113.9 port 1 ssh2"}
}

func TestOffenceRoundTrip(t *testing.T) {
	o := validOffence()
	b, err := Encode(o)
	require.NoError(t, err)
	var got Offence
	require.NoError(t, Decode(b, &got))
	require.Equal(t, *o, got)
}

func TestDecodeRejects(t *testing.T) {
	good, _ := Encode(validOffence())
	cases := map[string]struct {
		data string
		want error
	}{
		"garbage":       {"\x00\x01garbage", ErrMalformed},
		"empty":         {"", ErrMalformed},
		"no version":    {`{"id":"x"}`, ErrMalformed},
		"future":        {`{"v":2,"id":"x"}`, ErrVersion},
		"unknown field": {strings.Replace(string(good), `"v":1`, `"v":1,"evil":true`, 1), ErrMalformed},
		"trailing":      {string(good) + `{}`, ErrMalformed},
		"bad addr":      {strings.Replace(string(good), `203.0.113.9"`, `203.0.113"`, 1), ErrMalformed},
		"bad host":      {strings.Replace(string(good), `"host":"h1"`, `"host":"h1.evil"`, 1), ErrMalformed},
		"no time":       {strings.Replace(string(good), `"time":"2026-11-26T06:35:46Z",`, ``, 1), ErrMalformed},
		"huge":          {`{"v":1,"id":"` + strings.Repeat("a", MaxMessage) + `"}`, ErrMalformed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var o Offence
			err := Decode([]byte(c.data), &o)
			require.Error(t, err)
			require.True(t, errors.Is(err, c.want), "got %v", err)
		})
	}
}

func TestCutLine(t *testing.T) {
	long := strings.Repeat("é", MaxLine) // 2 bytes each
	got := CutLine([]byte(long))
	require.LessOrEqual(t, len(got), MaxLine)
	require.True(t, strings.HasPrefix(long, got))
	require.Equal(t, 0, len(got)%2)
}

func FuzzDecodeOffence(f *testing.F) {
	good, _ := Encode(validOffence())
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"id":"a\u00e9\ud83d\ude00\ud800x","host":"h1","jail":"sshd","addr":"::ffff:1.2.3.4","time":"2026-11-26T06:35:46.5+01:00","line":"\"\\\/\b\f\n\r\t\xff"}`))
	f.Add([]byte(` {"user":"","line":"","time":"2026-11-26T06:35:46Z","addr":"2001:db8::1","jail":"j","host":"h","id":"i","v":1} `))
	f.Fuzz(func(t *testing.T, data []byte) {
		var o Offence
		if err := Decode(data, &o); err == nil {
			require.NoError(t, o.Validate())
			// Offence's own decoder accepts nothing encoding/json would
			// not, and reads it alike.
			var std Offence
			require.NoError(t, decodeJSON(data, &std), "encoding/json rejects what Decode took: %q", data)
			require.Equal(t, std, o)
		} else {
			require.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrVersion), "unnamed error %v", err)
		}
	})
}

// Offence's own decoder is strict: what encoding/json would let through
// loosely (names in another case, a field twice, null) or wrongly typed
// is malformed, and the error says what and where.
func TestDecodeOffenceStrict(t *testing.T) {
	good, err := Encode(validOffence())
	require.NoError(t, err)
	g := string(good)
	cases := map[string]struct {
		data, says string
		want       error
	}{
		"duplicate":      {strings.Replace(g, `"v":1`, `"v":1,"host":"h2"`, 1), `field "host" twice`, ErrMalformed},
		"case":           {strings.Replace(g, `"host"`, `"Host"`, 1), `unknown field "Host"`, ErrMalformed},
		"null":           {strings.Replace(g, `"jail":"sshd"`, `"jail":null`, 1), `field "jail" at byte`, ErrMalformed},
		"number id":      {strings.Replace(g, `"id":"h1:12:345"`, `"id":12`, 1), `field "id" at byte 12: want a string`, ErrMalformed},
		"string v":       {strings.Replace(g, `"v":1`, `"v":"1"`, 1), `field "v" at byte 5: want an integer`, ErrMalformed},
		"float v":        {strings.Replace(g, `"v":1`, `"v":1.0`, 1), `want an integer`, ErrMalformed},
		"bad time":       {strings.Replace(g, `06:35:46Z`, `06:35:61Z`, 1), `field "time"`, ErrMalformed},
		"escaped time":   {strings.Replace(g, `"2026`, `"26`, 1), `field "time"`, ErrMalformed},
		"array":          {`[` + g + `]`, `want an object at byte 0`, ErrMalformed},
		"unterminated":   {g[:len(g)-1], `message ends`, ErrMalformed},
		"trailing":       {g + `x`, `trailing data`, ErrMalformed},
		"control char":   {strings.Replace(g, `Failed`, "Fail\x01ed", 1), `field "line"`, ErrMalformed},
		"bad escape":     {strings.Replace(g, `Failed`, `Fail\qed`, 1), `field "line"`, ErrMalformed},
		"no version":     {strings.Replace(g, `"v":1,`, ``, 1), `no version field`, ErrMalformed},
		"future version": {strings.Replace(g, `"v":1,`, `"v":2,"new":true,`, 1), `2`, ErrVersion},
		"old version":    {strings.Replace(g, `"v":1,`, `"v":0,`, 1), `0`, ErrVersion},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var o Offence
			err := Decode([]byte(c.data), &o)
			require.ErrorIs(t, err, c.want)
			require.ErrorContains(t, err, c.says)
		})
	}
}

// What encoding/json reads, Offence's decoder reads alike: escapes,
// surrogate pairs, invalid UTF-8, white space, any field order.
func TestDecodeOffenceAsEncodingJSON(t *testing.T) {
	for _, data := range []string{
		`{"v":1,"id":"a\u00e9\ud83d\ude00\ud800x\udc00","host":"h1","jail":"sshd","addr":"::ffff:1.2.3.4","time":"2026-11-26T06:35:46.5+01:00","line":"\"\\\/\b\f\n\r\t` + "\xff\xe2\x82" + `é"}`,
		" {\n\t\"user\" : \"\", \"line\":\"\",\"time\":\"2026-11-26T06:35:46Z\",\"addr\":\"2001:db8::1\",\"jail\":\"j\",\"host\":\"h\",\"id\":\"i\",\"v\":1}\r\n",
	} {
		var fast, std Offence
		require.NoError(t, Decode([]byte(data), &fast), data)
		require.NoError(t, decodeJSON([]byte(data), &std), data)
		require.Equal(t, std, fast)
	}
}

// An attacker who pads a log line with invalid UTF-8 must not get the
// offence rejected: the cut line survives the JSON round trip.
func TestCutLineInvalidUTF8(t *testing.T) {
	o := validOffence()
	o.Line = CutLine([]byte(strings.Repeat("\xff", 900) + "Failed password for root from 203.0.113.9"))
	b, err := Encode(o)
	require.NoError(t, err)
	var got Offence
	require.NoError(t, Decode(b, &got))
}

func TestHeartbeatBounds(t *testing.T) {
	ok := &Heartbeat{Host: "h1", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.11")}, Jails: map[string]JailPolicy{"sshd": {MaxRetry: 5, FindTime: 600, BanTime: -1}}}
	require.NoError(t, ok.Validate())
	for name, hb := range map[string]*Heartbeat{
		"unspecified addr": {Host: "h1", Addrs: []netip.Addr{netip.IPv4Unspecified()}},
		"too many addrs":   {Host: "h1", Addrs: make([]netip.Addr, MaxHeartbeatAddrs+1)},
		"bad jail":         {Host: "h1", Jails: map[string]JailPolicy{"a.b": {}}},
		"maxretry":         {Host: "h1", Jails: map[string]JailPolicy{"sshd": {MaxRetry: -1}}},
		"findtime":         {Host: "h1", Jails: map[string]JailPolicy{"sshd": {FindTime: 1e12}}},
	} {
		require.ErrorIs(t, hb.Validate(), ErrMalformed, name)
	}
}

// The exemption list of a large fleet is bigger than other messages; it
// still decodes, and its bounds hold.
func TestExempt(t *testing.T) {
	e := &Exempt{Updated: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC), By: "coord:c1"}
	for i := range 6000 {
		e.Prefixes = append(e.Prefixes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), 32))
	}
	e.Prefixes = append(e.Prefixes, netip.MustParsePrefix("2001:db8::/64"))
	data, err := Encode(e)
	require.NoError(t, err)
	require.Greater(t, len(data), MaxMessage, "larger than any other message may be")
	var got Exempt
	require.NoError(t, Decode(data, &got))
	require.Equal(t, *e, got)

	for name, bad := range map[string]string{
		"bits":         `{"v":1,"prefixes":["10.0.0.0/33"],"updated":"2026-11-26T06:00:00Z","by":"x"}`,
		"mapped":       `{"v":1,"prefixes":["::ffff:10.0.0.1/128"],"updated":"2026-11-26T06:00:00Z","by":"x"}`,
		"unknown":      `{"v":1,"prefixes":[],"updated":"2026-11-26T06:00:00Z","by":"x","all":true}`,
		"huge":         `{"v":1,"by":"` + strings.Repeat("a", MaxExemptMessage) + `"}`,
		"not a prefix": `{"v":1,"prefixes":["evil"],"updated":"2026-11-26T06:00:00Z","by":"x"}`,
	} {
		require.ErrorIs(t, Decode([]byte(bad), &got), ErrMalformed, name)
	}
	require.ErrorIs(t, (&Exempt{Prefixes: make([]netip.Prefix, MaxExemptPrefixes+1)}).Validate(), ErrMalformed)
}

// BenchmarkDecodeOffence is the coordinator's per-offence decoding.
func BenchmarkDecodeOffence(b *testing.B) {
	data, err := Encode(&Offence{ID: "h1/123-456-abc", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"),
		Time: time.Now(), Line: "Dec  7 20:00:00 h1 sshd[1234]: Failed password for root from 203.0.113.9 port 4444 ssh2", User: "root"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var o Offence
		if err := Decode(data, &o); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCutUser(t *testing.T) {
	long := strings.Repeat("é", MaxUser) // 2 bytes each
	u := CutUser(long)
	if len(u) > MaxUser || !utf8.ValidString(u) {
		t.Fatalf("cut to %d bytes, valid %v", len(u), utf8.ValidString(u))
	}
	o := Offence{ID: "x", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("192.0.2.1"), Time: time.Now(), Line: CutLine([]byte(strings.Repeat("\x01", 4*MaxLine))), User: CutUser(strings.Repeat("\x02", 4*MaxUser))}
	data, err := Encode(&o)
	if err != nil || len(data) > MaxOffenceMessage {
		t.Fatalf("worst-case offence: %d bytes (max %d), %v", len(data), MaxOffenceMessage, err)
	}
	var back Offence
	if err := Decode(data, &back); err != nil {
		t.Fatal(err)
	}
}
