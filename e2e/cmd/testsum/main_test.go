package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/all.golden")

// testdata/all.jsonl is what go test -json -timeout 3s printed (times
// zeroed) for six small packages: pass (passes); fail (a subtest fails with
// a dump logged by a helper in another file, a test fails after a helper
// logged the reason); timeout (a test sleeps past -timeout); gpanic (a
// goroutine panics); mainexit (TestMain exits 1 after the tests passed);
// build (does not compile). testdata/all.golden is what testsum prints for
// it; go test -run TestSummary -update rewrites it after a deliberate
// change.
func TestSummary(t *testing.T) {
	f, err := os.Open("testdata/all.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var out strings.Builder
	s := newSummarizer(&out, false)
	require.NoError(t, s.read(f))
	s.summary()
	if *update {
		require.NoError(t, os.WriteFile("testdata/all.golden", []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile("testdata/all.golden")
	require.NoError(t, err)
	require.Equal(t, string(want), out.String())

	// What the summary must hold, whatever the golden says.
	got := out.String()
	sum := got[strings.Index(got, "\n=== "):]
	for _, must := range []string{
		"--- FAIL: tsx/fail TestA/sub", "boom", "second line",
		"--- FAIL: tsx/fail TestHelperReason", "lab: the real reason is here", "failed",
		"--- FAIL: tsx/timeout TestSlow", "panic: test timed out after 3s",
		"--- FAIL: tsx/gpanic", "assignment to entry in nil map",
		"--- FAIL: tsx/mainexit", "lab namespaces left behind",
		"--- FAIL: tsx/build (build failed)", "undefined: undefinedThing",
	} {
		require.Contains(t, sum, must)
	}
	require.NotContains(t, sum, "line1", "the dump is left out of the summary")
	require.NotContains(t, sum, "--- FAIL: tsx/fail TestA\n", "only the innermost test")
	require.NotContains(t, sum, "tsx/pass")
	require.Equal(t, 6, s.failures()-1, "six failures and the parent TestA")
}

func TestFailureLinesCap(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = "    a_test.go:1: x\n"
	}
	got := failureLines(many)
	require.Len(t, got, maxSummaryLines+1)
	require.Contains(t, got[maxSummaryLines], "15 more lines")
}
