package pyre

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "regenerate testdata/pyre_golden.json.gz with /usr/bin/python3")

type goldenPattern struct {
	Pattern string            `json:"pattern"`
	Error   string            `json:"error"`
	Cases   []json.RawMessage `json:"cases"`
}

func loadGolden(t *testing.T) []goldenPattern {
	t.Helper()
	if *update {
		cmd := exec.Command("/usr/bin/python3", "-W", "ignore", "testdata/pyre_oracle.py")
		out, err := cmd.Output()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile("testdata/pyre_golden.json.gz", out, 0o644))
	}
	f, err := os.Open("testdata/pyre_golden.json.gz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	data, err := io.ReadAll(zr)
	require.NoError(t, err)
	var g []goldenPattern
	require.NoError(t, json.Unmarshal(data, &g))
	return g
}

// TestAgainstPython replays searches recorded from Python 3.11's re module
// (testdata/pyre_oracle.py): same match, same span for every group.
func TestAgainstPython(t *testing.T) {
	var m Machine
	total, agree, errAgree, errTotal := 0, 0, 0, 0
	for _, gp := range loadGolden(t) {
		re, err := Compile(gp.Pattern)
		if gp.Error != "" {
			errTotal++
			if err != nil {
				errAgree++
			} else {
				t.Errorf("pattern %q: Python refuses it (%s), pyre compiles it", gp.Pattern, gp.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("pattern %q: %v", gp.Pattern, err)
			continue
		}
		for _, raw := range gp.Cases {
			var c []json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &c))
			var in string
			var pos, endpos int
			var spans [][2]int
			require.NoError(t, json.Unmarshal(c[0], &in))
			require.NoError(t, json.Unmarshal(c[1], &pos))
			require.NoError(t, json.Unmarshal(c[2], &endpos))
			require.NoError(t, json.Unmarshal(c[3], &spans))
			total++
			ok := re.Search(&m, []byte(in), pos, endpos)
			var got [][2]int
			if ok {
				for g := 0; g <= re.NumGroups(); g++ {
					s, e := m.Group(g)
					got = append(got, [2]int{s, e})
				}
			}
			if ok == (spans != nil) && (!ok || equalSpans(got, spans)) {
				agree++
				continue
			}
			t.Errorf("pattern %q on %q [%d:%d]: Python %v, pyre %v", gp.Pattern, in, pos, endpos, spans, got)
		}
	}
	t.Logf("%d/%d searches agree with Python; %d/%d refused patterns refused", agree, total, errAgree, errTotal)
}

func equalSpans(a, b [][2]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSearchDoesNotAllocate(t *testing.T) {
	re := MustCompile(`(?iu)^(?:\W{0,2})?((?:(?P<a>mon|tue) )?(?P<b>jan|nov) (?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1]))(?=\b|\W|$)`)
	var m Machine
	line := []byte("Nov 26 06:35:46 host sshd[1]: x")
	require.True(t, re.Search(&m, line, 0, len(line)))
	allocs := testing.AllocsPerRun(100, func() { re.Search(&m, line, 0, len(line)) })
	require.Zero(t, allocs)
}

func TestReplace(t *testing.T) {
	re := MustCompile(`x*`)
	require.Equal(t, "-a-b--d-", re.ReplaceString("abxd", 0, "-"))
	re = MustCompile(`^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$`)
	require.Equal(t, "^(abc)$", re.ReplaceString("^abc$", 0, `\1(\2)\3`))
}
