package filter

import (
	"bytes"
	"testing"
	"time"
)

// corpusMessages returns sshd message contents (after the syslog prefix and
// sshd.conf's __pref) from the table tests and generated lines.
func corpusMessages(t *testing.T, n int) [][]byte {
	var lines []string
	for _, c := range sshdCases {
		lines = append(lines, c.line)
	}
	for _, c := range injectionCases {
		lines = append(lines, c.line)
	}
	lines = append(lines, genLines(7, n)...)
	var out [][]byte
	for _, l := range lines {
		p, ok := ParseSyslogPrefix([]byte(l), testNow, time.UTC)
		if !ok {
			continue
		}
		if msg := trimSSHDPref(p.Msg); len(msg) > 0 {
			out = append(out, msg)
		}
	}
	return out
}

// TestBranchesEqualWholeRule: trying rules 2 and 3 branch by branch finds the
// same match as their whole regex (which TestCompatMatchesFail2Ban checks
// against Fail2Ban). Runs without Fail2Ban.
func TestBranchesEqualWholeRule(t *testing.T) {
	f := mustSSHD(t, time.UTC)
	n := 0
	for _, msg := range corpusMessages(t, 20000) {
		for _, r := range f.rules {
			if len(r.alts) < 2 {
				continue
			}
			whole := r.re.FindSubmatchIndex(msg)
			var part []int
			var pg groupIndex
			for _, a := range r.alts {
				if a.need != nil && !bytes.Contains(msg, a.need) {
					continue
				}
				if part = a.re.FindSubmatchIndex(msg); part != nil {
					pg = a.g
					break
				}
			}
			if (whole == nil) != (part == nil) {
				t.Fatalf("rule %d on %q: whole %v, branches %v", r.idx, msg, whole, part)
			}
			if whole == nil {
				continue
			}
			n++
			for _, name := range []string{"ip4", "ip6", "user", "nofail", "brA"} {
				ws, we, wok := span(whole, r.g[name])
				ps, pe, pok := span(part, pg[name])
				if wok != pok || ws != ps || we != pe {
					t.Fatalf("rule %d group %s on %q: whole %d:%d %v, branches %d:%d %v", r.idx, name, msg, ws, we, wok, ps, pe, pok)
				}
			}
		}
	}
	t.Logf("%d matches compared", n)
}

// TestRightAnchorEqualsGreedyRegex: rightAnchor.rightmost finds what the
// greedy whole-line regex it documents finds.
func TestRightAnchorEqualsGreedyRegex(t *testing.T) {
	f := mustSSHD(t, time.UTC)
	type anchored struct {
		name   string
		ra     *rightAnchor
		compat *sshdRule // nil for the Failed end anchor
		end    func(msg []byte) int
	}
	whole := func(msg []byte) int { return len(msg) }
	list := []anchored{
		{"rule 5", f.rules[5].right, f.rules[5], whole},
		{"rule 19", f.rules[19].right, f.rules[19], whole},
		{"rule 16", f.rules[16].right, f.rules[16], func(msg []byte) int { return bytes.Index(msg, []byte(phraseChangeUser)) }},
		{"failed end", sshdFailedEOL, nil, whole},
	}
	for _, a := range list {
		greedy := compileRule(a.ra.greedyPattern, sshdRepl)
		gg := indexGroups(greedy)
		n := 0
		for _, msg := range corpusMessages(t, 20000) {
			loc := greedy.FindSubmatchIndex(msg)
			if a.compat != nil {
				if cl := a.compat.re.FindSubmatchIndex(msg); cl != nil && loc == nil {
					if _, _, hasUser := span(cl, a.compat.g["user"]); hasUser {
						t.Fatalf("%s: rule matches %q but its greedy form does not", a.name, msg)
					}
				}
			}
			if loc == nil {
				continue
			}
			uS, uE, hasUser := span(loc, gg["user"])
			if !hasUser {
				continue // the optional user group did not take part
			}
			end := a.end(msg)
			if end < 0 || (a.name == "rule 16" && bytes.Count(msg, []byte(phraseChangeUser)) != 1) {
				continue
			}
			n++
			wS, wE, _ := firstSpan(loc, gg, "ip4", "ip6")
			s, e, pos, ok := a.ra.rightmost(msg, uS, end)
			if !ok || s != wS || e != wE || pos != uE {
				t.Fatalf("%s on %q: greedy host %d:%d user end %d; rightmost %d:%d %d %v", a.name, msg, wS, wE, uE, s, e, pos, ok)
			}
		}
		t.Logf("%s: %d lines compared", a.name, n)
		if n == 0 {
			t.Errorf("%s: corpus never exercised it", a.name)
		}
	}
}

// TestCandidatesAreSound: the pre-selection by first words never drops a rule
// that would match. Every rule's whole regex is run on every message; the
// first that matches must be the rule match() reports.
func TestCandidatesAreSound(t *testing.T) {
	f := mustSSHD(t, time.UTC)
	msgs := corpusMessages(t, 30000)
	for _, l := range append(append(append([]string{}, noiseLines...), failureLines...), ignoredLines...) {
		if p, ok := ParseSyslogPrefix([]byte(l), testNow, time.UTC); ok {
			msgs = append(msgs, trimSSHDPref(p.Msg))
		}
	}
	hits := 0
	for _, msg := range msgs {
		want := -1
		for _, r := range f.rules {
			if r.re.Match(msg) {
				want = r.idx
				break
			}
		}
		if want == 20 { // "Accepted …" is not run (multi-line only)
			want = -1
		}
		got := -1
		for _, r := range f.candidates(msg) {
			if r.re.Match(msg) {
				got = r.idx
				break
			}
		}
		if len(msg) == 0 || bytes.IndexByte(msg, '\n') >= 0 {
			continue
		}
		if got != want {
			t.Fatalf("%q: first matching rule %d, candidates give %d", msg, want, got)
		}
		if got >= 0 {
			hits++
		}
	}
	t.Logf("%d messages, %d matched", len(msgs), hits)
}
