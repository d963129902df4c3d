package f2b

import (
	"strings"
	"testing"
	"time"

	"github.com/banfleet/banfleet/agent/filter"
)

// FuzzCompile feeds arbitrary regexes to Compile: it must never panic, and
// a regex that runs on RE2 after the rewrites must give what the
// backtracking engine gives for the original (both have Python's meaning).
func FuzzCompile(f *testing.F) {
	for _, s := range tagCases {
		f.Add(s, "x 192.0.2.1 y\n")
	}
	for _, s := range []string{
		`^(?P<a>a)?(?(a)b|c)<HOST>`, `(?:(?! from ).)*? from <HOST>`, `\bfoo\b<F-ID/>`, `[\w\-.^_]*\w`,
		`(?i)[^a-z]+<HOST>`, `(?x) a b # c` + "\n<HOST>", `<HOST>\s*$`, `^(?:a|b)*?<F-ID>c</F-ID>$`,
		`x{,3}<HOST>`, `(?<=:):<F-ID/>`, `(?s).<F-ID/>`, `(?m)^a$<F-ID/>`, `\Z<F-ID/>`, `\A<F-ID/>\Z`,
	} {
		f.Add(s, "a from 192.0.2.1\nfoo b\n")
	}
	f.Fuzz(func(t *testing.T, re, buf string) {
		if len(re) > 300 || len(buf) > 300 {
			return
		}
		c, err := Compile(Definition{Name: "fuzz", FailRegex: []string{re}, MaxLines: 1}, Options{MaxSteps: 200000})
		if err != nil {
			return
		}
		m := c.New()
		m.Match([]byte(buf), time.Unix(0, 0))
		m.Process([]byte(buf), time.Unix(0, 0))
		// the engine search uses (prefilter, RE2 or backtracking) against
		// the backtracking engine on the original regex
		r := c.fail[0]
		b := []byte(buf)
		if !strings.HasSuffix(buf, "\n") {
			b = append(b, '\n')
		}
		var st searchState
		got, ok, _ := r.search(&st, b, nil)
		want := make([]int, 2*(r.ngroups+1))
		var bt searchState
		wok, err := r.searchBT(&bt, b, want)
		if err != nil {
			return // gave up
		}
		if ok != wok {
			t.Fatalf("%q on %q: search %v, backtrack %v (progs %d)", re, b, ok, wok, len(r.progs))
		}
		if ok {
			for g := 1; g <= r.ngroups; g++ {
				if r.names[g] != "" && (got[2*g] != want[2*g] || got[2*g+1] != want[2*g+1]) {
					t.Fatalf("%q on %q: group %s search %v backtrack %v (progs %d)", re, b, r.names[g], got[2*g:2*g+2], want[2*g:2*g+2], len(r.progs))
				}
			}
		}
	})
}

// FuzzMatch feeds arbitrary lines to the sshd filter and to multi-line
// filters: never a panic, and a Failed verdict always has an address.
func FuzzMatch(f *testing.F) {
	defs := []Definition{loadSSHD(f, "normal"), loadSSHD(f, "aggressive"), loadSSHD(f, "normal-journal")}
	defs = append(defs, Definition{Name: "ml", MaxLines: 3, PrefRegex: `^(?P<content>.+)$`,
		FailRegex: []string{`^start (?P<fid>\d+)<SKIPLINES>end \d+ from <HOST>$`}, IgnoreRegex: []string{`ignore`}})
	var ms []*Matcher
	for _, d := range defs {
		c, err := Compile(d, Options{Dates: newSyslogDates, Location: time.UTC})
		if err != nil {
			f.Fatal(err)
		}
		ms = append(ms, c.New())
	}
	for _, l := range newAuthLog(9).lines(40, 0.5) {
		f.Add(string(l))
	}
	f.Add("Nov 26 11:59:50 web-01 sshd[1]: Failed password for invalid user a from b from 1.2.3.4 port 1 ssh2: x")
	f.Add("start 1\nend 1 from 192.0.2.1")
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		for _, m := range ms {
			for _, l := range strings.Split(line, "\n") {
				fl, v := m.Match([]byte(l), now)
				if v == filter.Failed && !fl.Addr.IsValid() {
					t.Fatalf("%s: Failed without an address for %q", m.Name(), l)
				}
				r := m.ProcessAt([]byte(l), now)
				if r.Verdict == filter.Failed && !r.Addr.IsValid() {
					t.Fatalf("%s: Failed without an address for %q", m.Name(), l)
				}
			}
		}
	})
}
