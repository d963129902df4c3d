package pyre

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// runPython runs a script with /usr/bin/python3 (3.11, the one Fail2Ban
// uses) and returns its output. It skips the test when python3 is missing,
// unless BANFLEET_E2E=1.
func runPython(t *testing.T, script string) []byte {
	t.Helper()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("BANFLEET_E2E") == "1" {
			t.Fatalf("python oracle: %v", err)
		}
		t.Skipf("python oracle: %v", err)
	}
	cmd := exec.Command(py, "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	return out
}

// TestUnicodeClassesMatchPython compares \s, \d and \w over every code
// point with Python 3.11. Python has Unicode 14, Go's tables are newer
// (unicode.Version); the only differences allowed are characters Python
// does not know (category Cn there).
func TestUnicodeClassesMatchPython(t *testing.T) {
	const script = `
import re, sys, json, unicodedata
def ranges(pred):
    out = []; start = None
    for c in range(0x110000):
        if 0xd800 <= c <= 0xdfff:
            ok = False
        else:
            ok = pred(chr(c))
        if ok and start is None: start = c
        if not ok and start is not None: out.append([start, c-1]); start = None
    if start is not None: out.append([start, 0x10ffff])
    return out
s, d, w = re.compile(r'\s'), re.compile(r'\d'), re.compile(r'\w')
json.dump({
  's': ranges(lambda c: s.match(c) is not None),
  'd': ranges(lambda c: d.match(c) is not None),
  'w': ranges(lambda c: w.match(c) is not None),
  'cn': ranges(lambda c: unicodedata.category(c) == 'Cn'),
}, sys.stdout)
`
	var py map[string][][2]rune
	require.NoError(t, json.Unmarshal(runPython(t, script), &py))
	in := func(rs [][2]rune, r rune) bool {
		for _, x := range rs {
			if r >= x[0] && r <= x[1] {
				return true
			}
		}
		return false
	}
	uniTables()
	goClass := map[string]func(rune) bool{
		"s": IsSpace,
		"d": IsDigit,
		"w": IsWord,
	}
	for name, f := range goClass {
		diff, unknown := 0, 0
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if r >= 0xd800 && r <= 0xdfff {
				continue
			}
			if f(r) != in(py[name], r) {
				if in(py["cn"], r) {
					unknown++
					continue
				}
				diff++
				if diff < 5 {
					t.Errorf(`\%s: U+%04X Python %v, Go %v`, name, r, in(py[name], r), f(r))
				}
			}
		}
		t.Logf(`\%s: identical for every character Python 3.11 knows (%d newer characters differ)`, name, unknown)
		require.Zero(t, diff)
	}
	// the class texts the RE2 writer and the engine use agree with the Go predicates
	for r := rune(0); r < 0x3100; r++ {
		require.Equal(t, IsSpace(r), uniS.contains(r), "U+%04X", r)
		require.Equal(t, IsWord(r), uniWord.contains(r), "U+%04X", r)
	}
}

func TestFoldsToASCII(t *testing.T) {
	var got []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if FoldsToASCII(r) {
			got = append(got, r)
		}
	}
	// İ ı ſ K: what re._casefix and Python's lower() add to a-z
	require.Equal(t, []rune{0x130, 0x131, 0x17f, 0x212a}, got)
}
