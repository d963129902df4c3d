package regexcmd

import (
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// summaryNumbers are the figures of a summary both tools print the same
// way: the Lines: line, the date template hits and the per-failregex hits.
type summaryNumbers struct {
	Lines    string
	Dates    []string // "[hits] template", sorted
	Failures []string // "n) [hits]"
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
		case strings.HasPrefix(l, "Date template hits:"):
			section = "date"
		case strings.HasPrefix(l, "`-"):
			section = ""
		case section == "fail":
			if m := ruleHitRE.FindStringSubmatch(l); m != nil {
				s.Failures = append(s.Failures, m[1])
			}
		case section == "date" && strings.HasPrefix(l, "|  ["):
			s.Dates = append(s.Dates, strings.TrimPrefix(l, "|  "))
		}
	}
	slices.Sort(s.Dates)
	return s
}

// TestSummaryAsFail2BanRegex runs fail2ban-regex and banfleet-agent regex
// on Fail2Ban's sample logs with their filters and compares the numbers.
func TestSummaryAsFail2BanRegex(t *testing.T) {
	tr := f2bref.Require(t)
	tests := []struct {
		filter string
		// checkAll is set where fail2ban-regex's summary, which tries
		// every failregex on every line (checkAllRegex), differs from the
		// engine, which stops at the first rule that decides a line (the
		// daemon's mode): the numbers then are what each prints.
		checkAll *[2]string
	}{
		{filter: "sshd", checkAll: &[2]string{
			"Lines: 148 lines, 42 ignored, 64 matched, 42 missed", // "Failed publickey for invalid user": failregex 3 and the NOFAIL failregex 4
			"Lines: 148 lines, 40 ignored, 66 matched, 42 missed",
		}},
		{filter: "ejabberd-auth"}, // multi-line (maxlines 2), comments between the lines
		{filter: "postfix"},
		{filter: "dovecot"},
		{filter: "apache-auth"},
		{filter: "nginx-http-auth"},
		{filter: "mongodb-auth"}, // maxlines 10
		{filter: "slapd"},        // maxlines 20
		{filter: "guacamole"},    // maxlines 2
		{filter: "named-refused"},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			log := filepath.Join(tr.SampleLogs, tc.filter)
			// --usedns no: banfleet reads <HOST> as addresses only (a host
			// name is never resolved), and the result does not depend on DNS.
			ref, err := tr.Regex("--usedns", "no", "-c", tr.ConfDir, log, tc.filter).CombinedOutput()
			require.NoError(t, err, "fail2ban-regex: %s", ref)
			var out, errb bytes.Buffer
			require.Equal(t, 0, Run([]string{"-c", tr.ConfDir, log, tc.filter}, &out, &errb), errb.String())
			want, got := parseSummary(t, string(ref)), parseSummary(t, out.String())
			require.Equal(t, want.Dates, got.Dates, "date template hits")
			if tc.checkAll != nil {
				require.Equal(t, tc.checkAll[0], want.Lines, "fail2ban-regex")
				require.Equal(t, tc.checkAll[1], got.Lines, "banfleet-agent regex")
				return
			}
			require.Equal(t, want.Lines, got.Lines)
			require.Equal(t, want.Failures, got.Failures, "failregex hits")
		})
	}
}
