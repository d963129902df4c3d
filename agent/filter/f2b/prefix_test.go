package f2b

import (
	"github.com/banfleet/banfleet/agent/filter/internal/pyre"

	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// prefixCases builds lines around the standard prefix's parts.
func prefixLines(r *rand.Rand, daemon string, n int) []string {
	parts := []string{"", " ", "  ", "\t", "[]", "<auth.info>", "<a.b.c>", "<a>b.c> ", "host", "web-01", "kernel: [ 12.345]", "kernel:[1.2]:",
		"@vserver_x", daemon, daemon + "[123]", daemon + "[123]:", "[" + daemon + "]:", "(" + daemon + ")", daemon + "(pam_unix)[9]:",
		"[9]: " + daemon + ":", ":", ": ", "[ID 800047 auth.info]", "error: ", "fatal: PAM: ", "error: PAM: ", "Failed password",
		"é", "\u00a0", "\u2003", "٣", "\xff", "x)y", daemon + "(a)b)", "[12", "]", ")", "\x1c", "sshd-session[1]:", "CRON[5]:"}
	var out []string
	for i := 0; i < n; i++ {
		var b strings.Builder
		k := 1 + r.IntN(7)
		for j := 0; j < k; j++ {
			b.WriteString(parts[r.IntN(len(parts))])
			if r.IntN(3) > 0 {
				b.WriteByte(' ')
			}
		}
		out = append(out, b.String())
	}
	return out
}

// TestPrefixParserMatchesRegex checks the hand-written prefregex against the
// compiled regex on generated lines, for every stock filter whose
// prefregex it recognises.
func TestPrefixParserMatchesRegex(t *testing.T) {
	s := loadSamples(t)
	seen := map[string]bool{}
	r := rand.New(rand.NewPCG(5, 6))
	recognised := 0
	for _, sf := range s.Filters {
		if sf.Def.PrefRegex == "" || seen[sf.Def.PrefRegex] {
			continue
		}
		seen[sf.Def.PrefRegex] = true
		c, err := Compile(sf.Def, Options{})
		require.NoError(t, err)
		if c.fast == nil {
			continue
		}
		recognised++
		var lines []string
		for _, st := range sf.Steps {
			lines = append(lines, st.Line)
			if len(st.Line) > 16 {
				lines = append(lines, st.Line[15:])
			}
		}
		lines = append(lines, prefixLines(r, c.fast.daemons[0], 20000)...)
		var st searchState
		definite := 0
		for _, l := range lines {
			buf := []byte(l + "\n")
			got, gok, def := c.fast.parse(buf, nil)
			want, wok, err := c.pref.search(&st, buf, nil)
			require.NoError(t, err)
			if !def {
				continue
			}
			definite++
			require.Equal(t, wok, gok, "%s: %q", sf.Name, l)
			if wok {
				require.Equal(t, want, got, "%s: %q", sf.Name, l)
			}
		}
		t.Logf("%s: daemons %q prefs %q: %d of %d lines decided by the parser, all as the regex", sf.Name, c.fast.daemons, c.fast.prefs, definite, len(lines))
	}
	// Only sshd's prefregex has the standard shape with finite parts among
	// the stock filters; the others run their prefregex as a regex.
	require.GreaterOrEqual(t, recognised, 1)
}

// TestPrefixParserSSHD checks the common sshd shapes are decided by the
// parser (so the fast path is taken) and agree with the regex.
func TestPrefixParserSSHD(t *testing.T) {
	c := compileSSHD(t, "normal")
	require.NotNil(t, c.fast)
	for _, l := range []string{
		" web-01 sshd[1234]: Failed password for root from 1.2.3.4 port 22 ssh2",
		" web-01 sshd[1234]: error: PAM: Authentication failure for x from h",
		" host sshd: Invalid user a from 1.2.3.4",
		" [sshd]: x",
		" host sshd(pam_unix)[12]: x",
		" host CRON[1]: pam_unix(cron:session): session opened",
		"[] host sshd[1]: x",
		" <auth.info> host sshd[1]: x",
		" host kernel: [ 1.2] sshd[1]: x",
		" host sshd[1]: [ID 800047 auth.info] x",
	} {
		buf := []byte(l + "\n")
		got, ok, def := c.fast.parse(buf, nil)
		require.True(t, def, l)
		var st searchState
		want, wok, _ := c.pref.search(&st, buf, nil)
		require.Equal(t, wok, ok, l)
		require.Equal(t, want, got, l)
	}
}

func TestFiniteStrings(t *testing.T) {
	require.Equal(t, []string{"error: PAM: ", "error: ", "fatal: PAM: ", "fatal: ", ""}, pyre.FiniteStrings(`(?:(?:error|fatal): (?:PAM: )?)?`))
	require.Equal(t, []string{"sshd-session", "sshd"}, pyre.FiniteStrings(`sshd(?:-session)?`))
	require.Equal(t, []string{"sshd", "sshd-session"}, pyre.FiniteStrings(`sshd(?:-session)??`))
	require.Nil(t, pyre.FiniteStrings(`\S+`))
	require.Nil(t, pyre.FiniteStrings(`(?P<x>a)`))
	require.True(t, slices.Equal([]string{""}, pyre.FiniteStrings("")))
}

func TestPrefixParserNotUsedForMultiline(t *testing.T) {
	d := loadSSHD(t, "normal")
	d.MaxLines = 2
	c, err := Compile(d, Options{Dates: newSyslogDates, Location: time.UTC})
	require.NoError(t, err)
	require.Nil(t, c.fast)
}
