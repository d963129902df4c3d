package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testdata/fail.jsonl is what go test -json printed for a package whose
// TestA/sub fails with a message from its test file and a dump logged by a
// helper in another file, and whose TestB passes.
func TestSummary(t *testing.T) {
	f, err := os.Open("testdata/fail.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var out strings.Builder
	s := newSummarizer(&out)
	require.NoError(t, s.read(f))
	s.summary()
	require.Equal(t, `    x_test.go:5: before
    x_test.go:5: boom
        second line
    dump.go:3: --- tail of x ---
        line1
        line2
--- FAIL: TestA/sub (0.00s)
--- FAIL: TestA (0.00s)
FAIL
FAIL	ts	0.007s

=== 1 failed test(s):
--- FAIL: ts TestA/sub
    x_test.go:5: before
    x_test.go:5: boom
        second line
`, out.String())
}

func TestFailureLinesWithoutTestFileLines(t *testing.T) {
	got := failureLines([]string{"=== RUN   TestX\n", "panic: oops\n", "goroutine 1\n", "--- FAIL: TestX (0.00s)\n"})
	require.Equal(t, []string{"panic: oops", "goroutine 1"}, got)
	many := make([]string, 40)
	for i := range many {
		many[i] = "    a_test.go:1: x\n"
	}
	got = failureLines(many)
	require.Len(t, got, maxSummaryLines+1)
	require.Contains(t, got[maxSummaryLines], "15 more lines")
}
