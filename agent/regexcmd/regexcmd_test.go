package regexcmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

const sample = `2026-11-26T06:35:46.123456+00:00 h1 sshd[123]: Failed password for root from 203.0.113.9 port 4242 ssh2
Nov 26 06:35:47 h1 sshd[124]: Invalid user admin from 2001:db8::5 port 55
Nov 26 06:35:48 h1 CRON[5]: pam_unix(cron:session): session opened for user root
Nov 26 06:35:49 h1 sshd[125]: Failed password for invalid user ' from 192.0.2.66 port 22 ssh2: ' from 203.0.113.10 port 4444 ssh2
`

func TestRegexSummaryAndJSON(t *testing.T) {
	tr := f2bref.Require(t)
	log := filepath.Join(t.TempDir(), "auth.log")
	require.NoError(t, os.WriteFile(log, []byte(sample), 0o600))

	var out, errb bytes.Buffer
	code := Run([]string{"-c", tr.ConfDir, log, "sshd"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	// As fail2ban-regex counts them: 3 matched (the injection line matches too), 1 missed.
	require.Contains(t, out.String(), "Lines: 4 lines, 0 ignored, 3 matched, 1 missed")
	require.Contains(t, out.String(), "Failregex: 3 total")
	require.Contains(t, out.String(), "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day")

	out.Reset()
	code = Run([]string{"--json", "-c", tr.ConfDir, log, "sshd[mode=aggressive]"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var recs []Record
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r Record
		require.NoError(t, json.Unmarshal([]byte(l), &r), l)
		recs = append(recs, r)
	}
	require.Len(t, recs, 3)
	require.Equal(t, "203.0.113.9", recs[0].Host)
	require.Equal(t, "root", recs[0].User)
	require.Equal(t, 1, recs[0].Line)
	require.EqualValues(t, 1795674946, recs[0].Time, "Fail2Ban drops %f")
	require.Equal(t, "2001:db8::5", recs[1].Host)

	// With the agent's address guard the injection line credits nobody.
	out.Reset()
	code = Run([]string{"--json", "--guard", "-c", tr.ConfDir, log, "sshd"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.NotContains(t, out.String(), "192.0.2.66")
	require.Equal(t, 2, strings.Count(out.String(), "\n"))

	// A regex as FILTER, a single line as LOG.
	out.Reset()
	code = Run([]string{"Nov 26 06:35:46 h1 x: bad login from 198.51.100.4", `bad login from <HOST>$`}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "1 matched")

	// Usage errors exit 2 with a message naming what is wrong.
	errb.Reset()
	require.Equal(t, 2, Run([]string{"-c", tr.ConfDir, log, "nosuchfilter"}, &out, &errb))
	require.Contains(t, errb.String(), "nosuchfilter")
	require.Equal(t, 2, Run([]string{log}, &out, &errb))
}

func writeLog(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.log")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

const badLogin = `bad login for user (?P<user>\S*) from <HOST>$`

// A line over MaxLine is skipped and counted as missed; the lines after it
// are still read. fail2ban-regex reads it and misses it: the same numbers.
func TestOverLongLine(t *testing.T) {
	long := "Nov 26 06:35:47 h1 x: " + strings.Repeat("A", 20<<20)
	log := writeLog(t, "Nov 26 06:35:46 h1 x: bad login for user a from 198.51.100.4\n"+
		long+"\n"+
		"Nov 26 06:35:48 h1 x: bad login for user b from 198.51.100.5\n")
	var out, errb bytes.Buffer
	require.Equal(t, 0, Run([]string{log, badLogin}, &out, &errb), errb.String())
	require.Contains(t, out.String(), "Lines: 3 lines, 0 ignored, 2 matched, 1 missed")
	require.Contains(t, errb.String(), "skipped 1 line(s)")
	sameAsFail2BanRegex(t, log, badLogin)

	out.Reset()
	require.Equal(t, 0, Run([]string{"--json", log, badLogin}, &out, &errb), errb.String())
	require.Contains(t, out.String(), `"line":3,"host":"198.51.100.5"`)
}

// Comments and blank lines are skipped as fail2ban-regex skips them, and a
// last line without a newline is not read (fail2ban-regex waits for it).
func TestCommentsAndBlankLines(t *testing.T) {
	log := writeLog(t, "# a comment\n\n\r\n"+
		"Nov 26 06:35:46 h1 x: bad login for user a from 198.51.100.4\r\n"+
		" # not a comment\n"+
		"Nov 26 06:35:48 h1 x: bad login for user b from 198.51.100.5")
	out := sameAsFail2BanRegex(t, log, badLogin)
	require.Contains(t, out, "Lines: 2 lines, 0 ignored, 1 matched, 1 missed")
}

// Options may follow the positional arguments, as fail2ban-regex allows;
// "--" ends the options.
func TestOptionsAfterPositionals(t *testing.T) {
	tr := f2bref.Require(t)
	log := writeLog(t, sample)
	for _, args := range [][]string{
		{"--json", log, "sshd", "-c", tr.ConfDir},
		{log, "-c", tr.ConfDir, "sshd", "--json"},
		{"--json", "-c", tr.ConfDir, "--", log, "sshd"},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, 0, Run(args, &out, &errb), "%q: %s", args, errb.String())
		require.Equal(t, 3, strings.Count(out.String(), "\n"), "%q", args)
		require.Contains(t, out.String(), `"host":"203.0.113.9"`)
	}
	// fail2ban-regex takes options anywhere too: the same summary.
	sameAsFail2BanRegex(t, log, "sshd", "-c", tr.ConfDir, "--usedns", "no")
	sameAsFail2BanRegex(t, "--usedns", "no", log, "-c", tr.ConfDir, "sshd")

	var out, errb bytes.Buffer
	require.Equal(t, 2, Run([]string{log, "sshd", "-c"}, &out, &errb))
	require.Equal(t, 2, Run([]string{log, "sshd", "x", "y", "-c", tr.ConfDir}, &out, &errb))
}

// An empty user is kept in --json ("user":""), and records are what
// encoding/json would write.
func TestJSONRecords(t *testing.T) {
	log := writeLog(t, "Nov 26 06:35:46 h1 x: bad login for user  from 198.51.100.4\n"+
		"Nov 26 06:35:47 h1 x: bad login for user <\"é\x01\\>&amp from 2001:db8::1\n")
	var out, errb bytes.Buffer
	require.Equal(t, 0, Run([]string{"--json", log, badLogin}, &out, &errb), errb.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], `"user":""`)
	for _, l := range lines {
		var r Record
		require.NoError(t, json.Unmarshal([]byte(l), &r), l)
		want, err := json.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, string(want), l)
	}
}

func TestAppendJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\t\n\r", "<>&", "é\u2028\u2029", "bad\xffutf8", "\U0001F600"} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendString(nil, s)), "%q", s)
	}
	for _, f := range []float64{0, 1795674946, 1795674946.123456, 1e-7, 1e21, -2.5} {
		want, err := json.Marshal(f)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendFloat(nil, f)), "%v", f)
	}
}

// A line whose date is no valid time (Feb 30) counts in the summary as
// fail2ban-regex counts it (matched), but --json, the daemon's decisions,
// has no record for it: the agent skips such a line as unparsed.
func TestImpossibleDate(t *testing.T) {
	log := writeLog(t, "Nov 26 06:35:46 h1 x: bad login for user a from 198.51.100.4\n"+
		"Feb 30 06:35:47 h1 x: bad login for user b from 198.51.100.5\n"+
		"2026-02-30T06:35:48+00:00 h1 x: bad login for user c from 198.51.100.6\n")
	var out, errb bytes.Buffer
	require.Equal(t, 0, Run([]string{log, badLogin}, &out, &errb), errb.String())
	require.Contains(t, out.String(), "Lines: 3 lines, 0 ignored, 3 matched, 0 missed")
	out.Reset()
	require.Equal(t, 0, Run([]string{"--json", log, badLogin}, &out, &errb), errb.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 1, out.String())
	require.Contains(t, lines[0], `"host":"198.51.100.4"`)
}
