package pyre

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRE2AgainstPython runs the RE2 forms of the recorded patterns (in the
// multi-line mode, exact on any buffer) on the recorded whole-string
// searches: the same match and group spans as Python's re, except that a
// final "$" may take the final "\n" into the whole match. The prefilters
// must pass every input Python matched.
func TestRE2AgainstPython(t *testing.T) {
	patterns, onRE2, searches := 0, 0, 0
	for _, gp := range loadGolden(t) {
		if gp.Error != "" {
			continue
		}
		py, err := parsePy(gp.Pattern, 0)
		require.NoError(t, err, gp.Pattern)
		patterns++
		plan := py.RE2(true)
		if plan.Parts == nil {
			continue
		}
		onRE2++
		type prog struct {
			re    *regexp.Regexp
			gidx  [][]int
			trail int
			pf    Prefilter
		}
		var progs []prog
		for _, p := range plan.Parts {
			re, err := regexp.Compile(p.Src)
			require.NoError(t, err, "%q -> %q", gp.Pattern, p.Src)
			pr := prog{re: re, gidx: make([][]int, py.Groups+1), pf: p.Filter}
			for i, n := range re.SubexpNames() {
				if n == TrailName {
					pr.trail = i
				}
				for g := 1; g <= py.Groups; g++ {
					if n == GroupName(g) {
						pr.gidx[g] = append(pr.gidx[g], i)
					}
				}
			}
			progs = append(progs, pr)
		}
		for _, raw := range gp.Cases {
			var c []json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &c))
			var in string
			var pos, endpos int
			var want [][2]int
			require.NoError(t, json.Unmarshal(c[0], &in))
			require.NoError(t, json.Unmarshal(c[1], &pos))
			require.NoError(t, json.Unmarshal(c[2], &endpos))
			require.NoError(t, json.Unmarshal(c[3], &want))
			if pos != 0 || endpos != len(in) {
				continue
			}
			searches++
			b := []byte(in)
			if want != nil {
				require.True(t, plan.Filter.Pass(b), "prefilter of %q refuses %q", gp.Pattern, in)
			}
			var best []int
			var bp *prog
			for i := range progs {
				p := &progs[i]
				if want != nil && len(progs) > 1 {
					require.True(t, p.pf.Pass(b) || !p.re.Match(b), "part prefilter of %q refuses %q", gp.Pattern, in)
				}
				loc := p.re.FindSubmatchIndex(b)
				if loc != nil && (best == nil || loc[0] < best[0]) {
					best, bp = loc, p
				}
			}
			what := fmt.Sprintf("%q on %q (RE2 %q)", gp.Pattern, in, plan.Parts[0].Src)
			require.Equal(t, want != nil, best != nil, what)
			if best == nil {
				continue
			}
			got := [][2]int{{best[0], best[1]}}
			if bp.trail > 0 && best[2*bp.trail] >= 0 {
				got[0][1] = best[2*bp.trail]
			}
			for g := 1; g <= py.Groups; g++ {
				s := [2]int{-1, -1}
				for _, i := range bp.gidx[g] {
					if best[2*i] >= 0 {
						s = [2]int{best[2*i], best[2*i+1]}
						break
					}
				}
				got = append(got, s)
			}
			if got[0][1] == want[0][1]+1 && got[0][1] == len(in) && in[len(in)-1] == '\n' {
				got[0][1]-- // a final "$" written as \n?\z
			}
			require.Equal(t, want, got, what)
		}
	}
	t.Logf("%d patterns, %d on RE2; %d whole-string searches identical to Python", patterns, onRE2, searches)
}
