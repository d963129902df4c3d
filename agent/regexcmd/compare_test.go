package regexcmd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// summaryNumbers are the figures of a summary both tools print the same
// way: the Lines: line, the date template hits and the per-regex hits.
type summaryNumbers struct {
	Lines    string
	Dates    []string // "[hits] template", sorted
	Failures []string // "n) [hits]"
	Ignores  []string // "n) [hits]"
}

var (
	linesRE   = regexp.MustCompile(`(?m)^Lines: \d+ lines, \d+ ignored, \d+ matched, \d+ missed`)
	ruleHitRE = regexp.MustCompile(`^\|\s+(\d+\) \[\d+\])`)
)

func parseSummary(t *testing.T, out string) summaryNumbers {
	t.Helper()
	var s summaryNumbers
	s.Lines = linesRE.FindString(out)
	require.NotEmpty(t, s.Lines, "no Lines: in\n%s", out)
	section := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "Failregex:"):
			section = "fail"
		case strings.HasPrefix(l, "Ignoreregex:"):
			section = "ignore"
		case strings.HasPrefix(l, "Date template hits:"):
			section = "date"
		case strings.HasPrefix(l, "`-"):
			section = ""
		case section == "fail" || section == "ignore":
			if m := ruleHitRE.FindStringSubmatch(l); m != nil {
				if section == "fail" {
					s.Failures = append(s.Failures, m[1])
				} else {
					s.Ignores = append(s.Ignores, m[1])
				}
			}
		case section == "date" && strings.HasPrefix(l, "|  ["):
			s.Dates = append(s.Dates, strings.TrimPrefix(l, "|  "))
		}
	}
	slices.Sort(s.Dates)
	return s
}

// sampleLog is one of Fail2Ban's sample logs and the configuration directory
// holding its filter.
type sampleLog struct{ name, confDir string }

// samples are the sample logs of the reference tree that have a filter:
// its stock filter.d and its tests' (zzz-*).
func samples(tr *f2bref.Tree) ([]sampleLog, error) {
	ents, err := os.ReadDir(tr.SampleLogs)
	if err != nil {
		return nil, err
	}
	var out []sampleLog
	for _, e := range ents {
		for _, conf := range []string{tr.ConfDir, filepath.Join(tr.PyPath, "fail2ban", "tests", "config")} {
			if fileExists(filepath.Join(conf, "filter.d", e.Name()+".conf")) {
				out = append(out, sampleLog{e.Name(), conf})
				break
			}
		}
	}
	return out, nil
}

// refArgs are the arguments both tools get. --usedns no: <HOST> matches
// addresses only, and the result does not depend on DNS (banfleet never
// resolves a name).
func refArgs(s sampleLog, log string) []string {
	return []string{"--usedns", "no", "-c", s.confDir, log, s.name}
}

// fail2banSummaries runs fail2ban-regex of the reference tree on every
// sample log (once per tree: the outputs are cached as a fixture) and
// returns the directory holding them, one file per sample.
func fail2banSummaries(t *testing.T) string {
	return f2bref.Fixture(t, "regex-summaries", nil, func(tr *f2bref.Tree, dir string) error {
		list, err := samples(tr)
		if err != nil {
			return err
		}
		var mu sync.Mutex
		var errs []error
		jobs := make(chan sampleLog)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s := range jobs {
					out, err := tr.Regex(refArgs(s, filepath.Join(tr.SampleLogs, s.name))...).CombinedOutput()
					if err == nil {
						err = os.WriteFile(filepath.Join(dir, s.name), out, 0o644)
					} else {
						err = fmt.Errorf("fail2ban-regex %s: %w\n%s", s.name, err, out)
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			}()
		}
		for _, s := range list {
			jobs <- s
		}
		close(jobs)
		wg.Wait()
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	})
}

// TestSummaryAsFail2BanRegex runs fail2ban-regex and banfleet-agent regex
// on every sample log of Fail2Ban's corpus with its filter and requires the
// same numbers: lines tested, ignored, matched, missed; hits per failregex
// and ignoreregex; date template hits.
func TestSummaryAsFail2BanRegex(t *testing.T) {
	tr := f2bref.Require(t)
	refDir := fail2banSummaries(t)
	list, err := samples(tr)
	require.NoError(t, err)
	require.Greater(t, len(list), 80, "sample logs with a filter")
	for _, s := range list {
		t.Run(s.name, func(t *testing.T) {
			ref, err := os.ReadFile(filepath.Join(refDir, s.name))
			require.NoError(t, err)
			var out, errb bytes.Buffer
			require.Equal(t, 0, Run(refArgs(s, filepath.Join(tr.SampleLogs, s.name)), &out, &errb), errb.String())
			want, got := parseSummary(t, string(ref)), parseSummary(t, out.String())
			require.Equal(t, want, got)
		})
	}
}

// TestNoCheckAll: --no-check-all counts the daemon's decisions, which
// differ from fail2ban-regex's on sshd's "Failed publickey for invalid
// user" lines (failregex 3 decides; the NOFAIL failregex 4 matches too).
func TestNoCheckAll(t *testing.T) {
	tr := f2bref.Require(t)
	log := filepath.Join(tr.SampleLogs, "sshd")
	var out, errb bytes.Buffer
	require.Equal(t, 0, Run([]string{"--usedns", "no", "-c", tr.ConfDir, log, "sshd"}, &out, &errb), errb.String())
	require.Equal(t, "Lines: 148 lines, 42 ignored, 64 matched, 42 missed", parseSummary(t, out.String()).Lines)
	out.Reset()
	require.Equal(t, 0, Run([]string{"--usedns", "no", "-c", tr.ConfDir, log, "sshd", "--no-check-all"}, &out, &errb), errb.String())
	got := parseSummary(t, out.String())
	require.Equal(t, "Lines: 148 lines, 40 ignored, 66 matched, 42 missed", got.Lines)
	require.Contains(t, got.Failures, "4) [25]", "fail2ban-regex: 4) [27]")
}

// sameAsFail2BanRegex runs both tools with args (the summary) and
// requires the same numbers; it returns banfleet-agent regex's output.
func sameAsFail2BanRegex(t *testing.T, args ...string) string {
	t.Helper()
	tr := f2bref.Require(t)
	ref, err := tr.Regex(args...).CombinedOutput()
	require.NoError(t, err, "fail2ban-regex %q: %s", args, ref)
	var out, errb bytes.Buffer
	require.Equal(t, 0, Run(args, &out, &errb), errb.String())
	require.Equal(t, parseSummary(t, string(ref)), parseSummary(t, out.String()), "fail2ban-regex %q", args)
	return out.String()
}
