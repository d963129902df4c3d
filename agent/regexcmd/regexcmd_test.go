package regexcmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/shared/f2bref"
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
