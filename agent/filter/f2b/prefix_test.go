package f2b

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
)

// prefixLines builds date-less syslog headers (and messages) out of the
// parts the common prefregexes know, and parts that trip them.
func prefixLines(r *rand.Rand, daemon string, n int) []string {
	parts := []string{"", " ", "  ", "\t", "[]", "<auth.info>", "<a.b.c>", "<a>b.c> ", "host", "web-01", "kernel: [ 12.345]", "kernel:[1.2]:",
		"@vserver_x", daemon, daemon + "[123]", daemon + "[123]:", "[" + daemon + "]:", "(" + daemon + ")", daemon + "(pam_unix)[9]:",
		"[9]: " + daemon + ":", ":", ": ", "[ID 800047 auth.info]", "error: ", "fatal: PAM: ", "error: PAM: ", "Failed password",
		"é", "\u00a0", "\u2003", "٣", "\xff", "x)y", daemon + "(a)b)", "[12", "]", ")", "\x1c", "sshd-session[1]:", "sshd-auth[2]:",
		"sshd-sessionx[1]:", "CRON[5]:", "[sshd-session]", "sshd(é)[1]:", "host\u00a0sshd[1]:", "\n", "x\ny"}
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

// builtinSSHD is banfleet's own filter.d/sshd.conf in a mode.
func builtinSSHD(t testing.TB, mode string) Definition {
	fd, err := config.LoadFilter("", "sshd[mode="+mode+"]", "auto")
	require.NoError(t, err)
	return Definition{Name: fd.Name, PrefRegex: fd.PrefRegex, FailRegex: fd.FailRegex, IgnoreRegex: fd.IgnoreRegex,
		MaxLines: fd.MaxLines, DatePattern: fd.DatePattern}
}

// checkPrefix compares the prefix program with the regex on lines; it
// returns how many the program decided.
func checkPrefix(t *testing.T, name string, c *Compiled, lines []string) int {
	t.Helper()
	var st searchState
	definite := 0
	for _, l := range lines {
		buf := []byte(l + "\n")
		got, gok, def := c.pref.prefix.Match(buf, nil)
		want, wok, err := c.pref.search(&st, buf, nil)
		require.NoError(t, err)
		if !def {
			continue
		}
		definite++
		require.Equal(t, wok, gok, "%s: %q", name, l)
		if wok {
			require.Equal(t, want, got, "%s: %q", name, l)
		}
	}
	return definite
}

// TestPrefixProgramMatchesRegex checks the prefix program against the
// compiled regex on sample lines and generated headers, for every stock
// prefregex it runs and banfleet's own sshd filter, and that it decides
// nearly all of them.
func TestPrefixProgramMatchesRegex(t *testing.T) {
	s := loadSamples(t)
	seen := map[string]bool{}
	r := rand.New(rand.NewPCG(5, 6))
	type job struct {
		name  string
		c     *Compiled
		lines []string
	}
	var jobs []job
	for _, sf := range s.Filters {
		if sf.Def.PrefRegex == "" || seen[sf.Def.PrefRegex] || sf.Def.MaxLines > 1 {
			continue
		}
		seen[sf.Def.PrefRegex] = true
		c, err := Compile(sf.Def, Options{})
		require.NoError(t, err)
		if c.pref.prefix == nil {
			t.Logf("%s: prefregex not of the header shape: %.80s…", sf.Name, c.pref.src)
			continue
		}
		j := job{name: sf.Name, c: c}
		for _, st := range sf.Steps {
			j.lines = append(j.lines, st.Line)
			if len(st.Line) > 16 {
				j.lines = append(j.lines, st.Line[15:])
			}
		}
		jobs = append(jobs, j)
	}
	c, err := Compile(builtinSSHD(t, "aggressive"), Options{})
	require.NoError(t, err)
	require.NotNil(t, c.pref.prefix, "banfleet's sshd prefregex")
	jobs = append(jobs, job{name: "builtin sshd", c: c})
	for _, j := range jobs {
		lines := append(j.lines, prefixLines(r, "sshd", 20000)...)
		lines = append(lines, prefixLines(r, j.name, 2000)...)
		lines = append(lines, strings.Repeat(" ", 5000)+"x", strings.Repeat("a ", 3000), strings.Repeat("[1]", 2000))
		definite := checkPrefix(t, j.name, j.c, lines)
		t.Logf("%s: %d of %d lines decided by the prefix program, all as the regex", j.name, definite, len(lines))
		require.Greater(t, definite, len(lines)*9/10, j.name)
	}
	// sshd's (stock and banfleet's) and the other common.conf filters
	require.GreaterOrEqual(t, len(jobs), 10)
}

// TestPrefixProgramSSHD: the common sshd headers are decided by the
// program, for Fail2Ban's filter and banfleet's, as the regex decides them.
func TestPrefixProgramSSHD(t *testing.T) {
	for _, c := range []*Compiled{compileSSHD(t, "normal"), mustCompile(t, builtinSSHD(t, "normal"))} {
		require.NotNil(t, c.pref.prefix)
		for _, l := range []string{
			" web-01 sshd[1234]: Failed password for root from 1.2.3.4 port 22 ssh2",
			" web-01 sshd[1234]: error: PAM: Authentication failure for x from h",
			" web-01 sshd-session[1234]: Failed password for root from 1.2.3.4 port 22 ssh2",
			" host sshd: Invalid user a from 1.2.3.4",
			" [sshd]: x",
			" host sshd(pam_unix)[12]: x",
			" host CRON[1]: pam_unix(cron:session): session opened",
			"[] host sshd[1]: x",
			" <auth.info> host sshd[1]: x",
			" host kernel: [ 1.2] sshd[1]: x",
			" host sshd[1]: [ID 800047 auth.info] x",
			" host sshd[1]: ",
			" host sshd[1]:",
			" héte sshd[1]: x",
			" host sshd[1]: é",
		} {
			require.Equal(t, 1, checkPrefix(t, l, c, []string{l}), "decided: %q", l)
		}
	}
}

func mustCompile(t testing.TB, d Definition) *Compiled {
	c, err := Compile(d, Options{})
	require.NoError(t, err)
	return c
}

func TestPrefixProgramNotUsedForMultiline(t *testing.T) {
	d := loadSSHD(t, "normal")
	d.MaxLines = 2
	c, err := Compile(d, Options{Dates: newSyslogDates, Location: time.UTC})
	require.NoError(t, err)
	require.Nil(t, c.pref.prefix)
}

// BenchmarkPrefregex: the prefregex on common headers, by the prefix
// program and by the regex, for Fail2Ban's sshd filter and banfleet's.
// One op is one line.
func BenchmarkPrefregex(b *testing.B) {
	lines := [][]byte{
		[]byte(" web-01 sshd[1234]: Failed password for root from 203.0.113.9 port 4242 ssh2\n"),
		[]byte(" web-01 sshd-session[1234]: Invalid user admin from 203.0.113.9 port 4242\n"),
		[]byte(" web-01 CRON[5]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n"),
		[]byte(" web-01 sshd[1234]: error: PAM: Authentication failure for root from 203.0.113.9\n"),
	}
	for _, f := range []struct {
		name string
		def  func(testing.TB, string) Definition
	}{{"stock", loadSSHD}, {"builtin", builtinSSHD}} {
		c, err := Compile(f.def(b, "normal"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f.name+"/program", func(b *testing.B) {
			var spans []int
			for i := 0; b.Loop(); i++ {
				spans, _, _ = c.pref.prefix.Match(lines[i&3], spans)
			}
		})
		b.Run(f.name+"/regex", func(b *testing.B) {
			var st searchState
			var spans []int
			for i := 0; b.Loop(); i++ {
				spans, _, _ = c.pref.search(&st, lines[i&3], spans)
			}
		})
	}
}
