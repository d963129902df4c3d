package f2b

import (
	"github.com/banfleet/banfleet/agent/filter/internal/pyre"

	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// mutate returns variants of buf that stress backtracking: cut, doubled
// segments, inserted separators, non-ASCII and invalid UTF-8.
func mutate(r *rand.Rand, buf string) []string {
	out := []string{buf}
	pieces := []string{" ", " from ", ":", "\n", "é", "\xff", "ʼ", "1.2.3.4", "::1", " port 22", "[", "]", "(", ")", "a", "٣", "\u00a0", "  "}
	for k := 0; k < 6; k++ {
		b := []byte(buf)
		switch r.IntN(4) {
		case 0:
			if len(b) > 0 {
				b = b[:r.IntN(len(b))]
			}
		case 1:
			i := r.IntN(len(b) + 1)
			p := pieces[r.IntN(len(pieces))]
			b = append(b[:i:i], append([]byte(p), b[i:]...)...)
		case 2:
			if len(b) > 2 {
				i, j := r.IntN(len(b)), r.IntN(len(b))
				if i > j {
					i, j = j, i
				}
				b = append(b[:j:j], append(slices.Clone(b[i:j]), b[j:]...)...)
			}
		case 3:
			if len(b) > 0 {
				b[r.IntN(len(b))] = pieces[r.IntN(len(pieces))][0]
			}
		}
		out = append(out, string(b))
	}
	return out
}

// TestExecMatchesRegexp runs every RE2 program of the replay corpus and of
// sshd (all modes) through the faster runner and through Go's regexp on
// Fail2Ban's buffers and mutations of them.
func TestExecMatchesRegexp(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus-sized: the test task runs it; -short (the race task) does not")
	}
	recs := loadRecords(t)
	byRe := map[string][]string{}
	ml := map[string]bool{}
	for _, r := range recs {
		byRe[r.Re] = append(byRe[r.Re], r.Buf)
		ml[r.Re] = r.Ml
	}
	for _, mode := range []string{"normal", "ddos", "extra", "aggressive"} {
		d := loadSSHD(t, mode)
		for _, l := range newAuthLog(3).lines(300, 0.5) {
			for _, f := range d.FailRegex {
				byRe[f] = append(byRe[f], string(l[16:])+"\n")
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	progs, runs := 0, 0
	var st searchState
	for src, bufs := range byRe {
		rx, err := compileRegex("failregex", 0, src, "yes", ml[src], ml[src], pyre.DefaultMaxSteps)
		require.NoError(t, err)
		for _, p := range rx.progs {
			progs++
			re := regexp.MustCompile(p.src)
			for _, b := range bufs {
				for _, m := range mutate(rng, b) {
					runs++
					want := re.FindSubmatchIndex([]byte(m))
					var got []int
					if p.x.fits(len(m)) {
						got = slices.Clone(p.x.find(&st.x, []byte(m)))
					} else {
						got = re.FindSubmatchIndex([]byte(m))
					}
					if !slices.Equal(want, got) {
						t.Fatalf("program %s\non %q:\nregexp %v\nxprog  %v", p.src, m, want, got)
					}
				}
			}
		}
	}
	t.Logf("%d programs, %d runs: identical", progs, runs)
}

// FuzzExec compares the faster runner with Go's regexp on random inputs for
// programs with loops, literals, captures and alternations.
func FuzzExec(f *testing.F) {
	srcs := []string{
		`\AFailed (?:[^\s]+) for (?P<g1>[^:]+) from (?P<g2>[0-9.]+)(?: port [0-9]+)?(?m:$)`,
		`\A[iI](?:llegal|nvalid) user (?P<g1>[^\n]*?) from (?P<g2>\S+)\s*(?m:$)`,
		`(?P<g1>a*?)(?P<g2>b+)c|(?P<g3>[^x]*)x`,
		`\A(?:\s*(?:\S+\s+)?)(?P<g1>.+)(?m:$)`,
		`(?i:abc)[\p{L}_]*\b`,
	}
	var progs []*xprog
	var res []*regexp.Regexp
	for _, s := range srcs {
		x, err := newXProg(s)
		if err != nil {
			f.Fatal(err)
		}
		progs = append(progs, x)
		res = append(res, regexp.MustCompile(s))
	}
	f.Add("Failed password for root from 1.2.3.4 port 22 ssh2\n")
	f.Add("Invalid user a from b from 1.2.3.4 \n")
	f.Add("aaabbbc xx ABCé_ ")
	f.Fuzz(func(t *testing.T, s string) {
		var st xstate
		for i, x := range progs {
			if !x.fits(len(s)) {
				continue
			}
			want := res[i].FindSubmatchIndex([]byte(s))
			got := x.find(&st, []byte(s))
			if !slices.Equal(want, got) && !(want == nil && got == nil) {
				t.Fatalf("%s on %q: regexp %v xprog %v", srcs[i], s, want, got)
			}
		}
	})
}
