package f2b

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// record is one regex search Fail2Ban made during its own sample tests,
// recorded from the reference tree at test time by testdata/gen_records.py
// (referenceFixture).
type record struct {
	K   string            `json:"k"` // "fail" (failregex) or "regex" (prefregex, ignoreregex)
	Re  string            `json:"re"`
	Ml  bool              `json:"ml"`
	Buf string            `json:"buf"`
	M   bool              `json:"m"`
	Txt string            `json:"txt"`
	G   map[string]string `json:"g"`
}

func loadRecords(t testing.TB) []record {
	f, err := os.Open(referenceFixture(t, "gen_records.py", "records.jsonl.gz"))
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var out []record
	for sc.Scan() {
		var r record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	return out
}

type tally struct {
	total, same, sameButNL, diff, gaveUp int
	byEngine                             map[string]int
	examples                             []string
}

// TestReplayFail2BanRecords replays every (regex, buffer) search Fail2Ban
// made in its sample tests through this package's compiled regexes and
// compares the match and every named group.
func TestReplayFail2BanRecords(t *testing.T) {
	recs := loadRecords(t)
	type key struct {
		re string
		ml bool
	}
	cache := map[key]*regex{}
	res := map[string]*tally{}
	for _, r := range recs {
		k := key{r.Re, r.Ml}
		rx, ok := cache[k]
		if !ok {
			var err error
			rx, err = compileRegex("failregex", 0, r.Re, "yes", r.Ml, r.Ml, 0)
			require.NoError(t, err, "compile %q", r.Re)
			cache[k] = rx
		}
		kind := map[string]string{"fail": "failregex", "regex": "pref/ignore"}[r.K]
		tl := res[kind]
		if tl == nil {
			tl = &tally{byEngine: map[string]int{}}
			res[kind] = tl
		}
		tl.total++
		engine := EngineBacktrack
		if rx.progs != nil && (rx.multiOK || singleLine([]byte(r.Buf))) {
			engine = EngineRE2
		}
		tl.byEngine[engine]++
		got, why := replayOne(rx, r)
		switch got {
		case "same":
			tl.same++
		case "nl":
			tl.sameButNL++
		case "gave up":
			tl.gaveUp++
			fallthrough
		default:
			tl.diff++
			if len(tl.examples) < 10 {
				tl.examples = append(tl.examples, fmt.Sprintf("%s [%s]: buf=%q re=%.200q", why, engine, r.Buf, r.Re))
			}
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(res)) {
		tl := res[kind]
		t.Logf("%-12s records %5d: identical %5d, identical but for the whole match's final \\n %3d, different %d (gave up %d); engines %v",
			kind, tl.total, tl.same, tl.sameButNL, tl.diff, tl.gaveUp, tl.byEngine)
		for _, e := range tl.examples {
			t.Errorf("%s: %s", kind, e)
		}
	}
}

func replayOne(rx *regex, r record) (string, string) {
	buf := []byte(r.Buf)
	var st searchState
	spans, ok, err := rx.search(&st, buf, nil)
	if err != nil {
		return "gave up", err.Error()
	}
	if ok != r.M {
		return "diff", fmt.Sprintf("match py=%v go=%v", r.M, ok)
	}
	if !ok {
		return "same", ""
	}
	g := map[string]string{}
	for i := 1; i <= rx.ngroups; i++ {
		if n := rx.names[i]; n != "" && spans[2*i] >= 0 {
			g[n] = r.Buf[spans[2*i]:spans[2*i+1]]
		}
	}
	want := r.G
	if want == nil {
		want = map[string]string{}
	}
	if !maps.Equal(g, want) {
		return "diff", fmt.Sprintf("groups py=%v go=%v", want, g)
	}
	txt := r.Buf[spans[0]:spans[1]]
	switch {
	case txt == r.Txt:
		return "same", ""
	case txt == r.Txt+"\n" && strings.HasSuffix(r.Buf, txt):
		return "nl", ""
	}
	return "diff", fmt.Sprintf("whole match py=%q go=%q", r.Txt, txt)
}
