package date

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
	"unicode/utf8"
)

// fastPair is a hand-written matcher and the template it stands for, run
// by the regex engine.
type fastPair struct {
	regex string
	fast  *fastTemplate
	t     *template
}

func fastPairs(t testing.TB, year int) []fastPair {
	t.Helper()
	b, err := builderFor(year)
	if err != nil {
		t.Fatal(err)
	}
	var out []fastPair
	for re, ft := range b.fast {
		tm := &template{regex: re, name: re, epochGroup: 1}
		switch ft.kind {
		case coreEpoch:
			tm.kind = kindEpoch
		case coreTAI64N:
			tm.kind = kindTAI64N
		}
		if err := tm.compile(); err != nil {
			t.Fatal(err)
		}
		out = append(out, fastPair{regex: re, fast: ft, t: tm})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].regex < out[j].regex })
	return out
}

// compareFast runs one matcher and the engine on line[pos:endpos] and
// describes any difference ("" if none). unknown counts the lines the
// matcher left to the engine.
func compareFast(p fastPair, d *Detector, line []byte, pos, endpos int, unknown *int) string {
	var fr, er matchResult
	fres := p.fast.search(&d.fs, line, pos, endpos, &fr)
	if fres == fastUnknown {
		*unknown++
		return ""
	}
	saved := p.t.fast
	p.t.fast = nil
	d.setLine(line)
	ok := d.search(p.t, pos, endpos, &er, false)
	p.t.fast = saved
	if ok != (fres == fastMatch) {
		return fmt.Sprintf("fast %v, engine %v", fres == fastMatch, ok)
	}
	if !ok {
		return ""
	}
	if fr.s0 != er.s0 || fr.e0 != er.e0 || fr.s1 != er.s1 || fr.e1 != er.e1 {
		return fmt.Sprintf("spans fast %d-%d/%d-%d, engine %d-%d/%d-%d", fr.s0, fr.e0, fr.s1, fr.e1, er.s0, er.e0, er.s1, er.e1)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ft, fok := d.getDate(p.t, line, &fr, now)
	et, eok := d.getDate(p.t, line, &er, now)
	if fok != eok || !ft.Equal(et) {
		return fmt.Sprintf("time fast %v %v, engine %v %v", ft, fok, et, eok)
	}
	return ""
}

func checkFast(t testing.TB, pairs []fastPair, d *Detector, line []byte, unknown *int) {
	regions := [][2]int{{0, len(line)}}
	if len(line) > 4 {
		regions = append(regions, [2]int{1, len(line)}, [2]int{2, len(line) - 1}, [2]int{len(line) / 2, len(line)})
	}
	for _, p := range pairs {
		for _, r := range regions {
			if diff := compareFast(p, d, line, r[0], r[1], unknown); diff != "" {
				t.Fatalf("line %q [%d:%d], template %s: %s", line, r[0], r[1], p.regex, diff)
			}
		}
	}
}

// mutate changes a few characters of s, favouring the characters dates
// are made of.
func mutate(r *rand.Rand, s string) string {
	const alphabet = "0123456789 :-/.,TZ+[]@()abcfjmnoprstuADFJMNOS\t\u00e9\u0663\u017f\u212a"
	b := []rune(s)
	alpha := []rune(alphabet)
	for n := r.IntN(4); n >= 0; n-- {
		i := r.IntN(len(b) + 1)
		switch r.IntN(4) {
		case 0:
			if i < len(b) {
				b[i] = alpha[r.IntN(len(alpha))]
			}
		case 1:
			b = append(b[:i], append([]rune{alpha[r.IntN(len(alpha))]}, b[i:]...)...)
		case 2:
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		default:
			if i < len(b) {
				b = append(b[:i], append([]rune{b[i]}, b[i:]...)...)
			}
		}
	}
	return string(b)
}

var fastSeeds = []string{
	"Nov 26 06:35:46 host sshd[1]: x", "Nov  6 6:35:46.123456 2026 x", "Sun Jan 23 21:59:59 2005 x",
	"Sun Jan 23 2005 21:59:59.011", "2026-11-26T06:35:46.123456+00:00 x", "2005/01/23  8:59:59,981 Z",
	"2005.1.23T21:59:59 +01", "2005-01-23 21:59:59 -05:30x", "[31/Oct/2006:09:22:55 -0000] x",
	"26-Jul-2007 15:20:52.252 +0200", "23/01/05 21:59:59", "17-07-2008 17:23:25", "05/20/2008:01:57:39",
	"01-27-2012 16:22:44.252", "130322 11:46:11", "130322  1:46:11", "Jan 23, 2005 9:59:59 PM",
	"Apr 16, 2011 12:05:29 am", "20050123T215959.123Z", "20050123 215959", "PDT Apr 16 21:05:29",
	"z Apr 16 21:05:29", "CEST Apr 16 21:05:29 2005", "+00:00 Jan 23 21:59:59.011 2005", "-0500 Jan 23 21:59:59",
	"1106513999.000 x", "[1106513999] x", "x audit(1106513999.555:101): y", "@4000000041f4104f00000000 x",
	"x @4000000041f4104f00000000", "192.0.2.1 - - [26/Nov/2026:06:35:46 +0000] \"GET / HTTP/1.1\" 200",
}

// TestFastMatchesEngine checks every hand-written matcher against the regex
// engine running the same template, on Fail2Ban's sample lines, the
// golden's synthetic lines and random mutations of date-like text, over
// the whole line and over parts of it.
func TestFastMatchesEngine(t *testing.T) {
	pairs := fastPairs(t, 2026)
	d, err := New(Options{Year: 2026, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	g := loadGolden(t)
	lines := append([]string(nil), g.Lines...)
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := 0; i < n; i++ {
		base := fastSeeds[r.IntN(len(fastSeeds))]
		if r.IntN(3) == 0 {
			base = g.Lines[r.IntN(len(g.Lines))]
		}
		lines = append(lines, mutate(r, base))
	}
	unknown := 0
	for _, l := range lines {
		checkFast(t, pairs, d, []byte(l), &unknown)
	}
	t.Logf("%d matchers agree with the engine on %d lines (%d searches left to the engine)", len(pairs), len(lines), unknown)
}

// FuzzFind: Find never panics, returns a span inside the line, and every
// hand-written matcher agrees with the regex engine.
func FuzzFind(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add(s)
	}
	f.Add("")
	f.Add("\xff\xfe Nov 26 06:35:46")
	f.Add("Nov 26 06:35:4\u0663 x")
	pairs := fastPairs(f, 2026)
	patterns := []string{"", "{^LN-BEG}", "^[^\\[]*\\[({DATE})\n{^LN-BEG}", "{NONE}", "EPOCH\nLEPOCH", "%H:%M:%S", `(?<=\|\s){LEPOCH}(?=\s\|)`}
	var ds []*Detector
	for _, p := range patterns {
		d, err := New(Options{Pattern: p, Year: 2026, Location: time.UTC})
		if err != nil {
			f.Fatal(err)
		}
		ds = append(ds, d)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		line := []byte(s)
		for _, d := range ds {
			_, start, end, ok := d.Find(line, now)
			if ok && (start < 0 || start > end || end > len(line)) {
				t.Fatalf("span [%d,%d) outside line of %d bytes", start, end, len(line))
			}
			if ok && utf8.Valid(line) && (!utf8.Valid(line[:start]) || !utf8.Valid(line[start:end])) {
				t.Fatalf("span [%d,%d) splits a character", start, end)
			}
		}
		unknown := 0
		checkFast(t, pairs, ds[0], line, &unknown)
	})
}
