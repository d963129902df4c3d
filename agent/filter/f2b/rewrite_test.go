package f2b

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// compareEngines runs rx on each buffer with RE2 (after the rewrites) and
// with the backtracking engine (the original regex) and requires the same match and groups.
func compareEngines(t *testing.T, rx *regex, bufs []string) (matches int) {
	t.Helper()
	require.NotNil(t, rx.progs, "expected %q to run on RE2", rx.src)
	var st searchState
	for _, b := range bufs {
		buf := []byte(b)
		got, ok, err := rx.search(&st, buf, nil)
		require.NoError(t, err)
		want := make([]int, 2*(rx.ngroups+1))
		var bt searchState
		wok, err := rx.searchBT(&bt, buf, want)
		require.NoError(t, err)
		require.Equal(t, wok, ok, "%q on %q", rx.src, b)
		if !ok {
			continue
		}
		matches++
		for g := 1; g <= rx.ngroups; g++ {
			if rx.names[g] == "" {
				continue
			}
			require.Equal(t, want[2*g:2*g+2], got[2*g:2*g+2], "group %s of %q on %q", rx.names[g], rx.src, b)
		}
		require.Equal(t, want[:2], got[:2], "whole match of %q on %q", rx.src, b)
	}
	return matches
}

// failedLines generates sshd "Failed ..." lines that probe the rewritten
// conditionals and "(?:(?! from ).)*" loops: user names with spaces, " from ",
// colons, trailing text after ssh2, several addresses.
func failedLines(r *rand.Rand, n int) []string {
	users := []string{"root", "invalid", "a b", "x from y", "from", " from ", "a:b", "user from 1.2.3.4", "ü", "", "-", "a  b", "fro", "m from"}
	hosts := []string{"192.0.2.1", "2001:db8::7", "host.example", "1.2.3", "::ffff:192.0.2.9", "[192.0.2.3]", "999.1.1.1"}
	tails := []string{"", " port 22", " port 22 ssh2", " on x", " port 1 ssh2: RSA SHA256:abc", " ssh2", ": extra", " port 2 ssh2: from 192.0.2.77", " from 192.0.2.8 port 3 ssh2", " [preauth]", ": ", " port 22 ssh2: x from y"}
	methods := []string{"password", "publickey", "none", "keyboard-interactive/pam"}
	var out []string
	for i := 0; i < n; i++ {
		var b strings.Builder
		b.WriteString("Failed ")
		b.WriteString(methods[r.IntN(len(methods))])
		b.WriteString(" for ")
		if r.IntN(2) == 0 {
			b.WriteString("invalid user ")
		}
		b.WriteString(users[r.IntN(len(users))])
		if r.IntN(4) > 0 {
			b.WriteString(" from ")
			b.WriteString(hosts[r.IntN(len(hosts))])
		}
		b.WriteString(tails[r.IntN(len(tails))])
		if r.IntN(5) == 0 {
			b.WriteString(tails[r.IntN(len(tails))])
		}
		b.WriteByte('\n')
		out = append(out, b.String())
	}
	return out
}

func TestRewrittenSSHDRulesMatchRegexp2(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	lines := failedLines(r, 20000)
	for _, mode := range []string{"normal", "ddos", "extra", "aggressive"} {
		d := loadSSHD(t, mode)
		for i, fr := range d.FailRegex {
			if !strings.Contains(fr, "(?(") {
				continue
			}
			rx, err := compileRegex("failregex", i, fr, "warn", false, false, 0)
			require.NoError(t, err)
			n := compareEngines(t, rx, lines)
			t.Logf("%s failregex[%d] (%d RE2 programs): %d lines, %d matches, identical", mode, i, len(rx.progs), len(lines), n)
		}
	}
}

func TestConditionalElimination(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alpha := []string{"a", "b", "c", "x", ":", " "}
	var bufs []string
	for i := 0; i < 4000; i++ {
		var b strings.Builder
		for k := r.IntN(8); k > 0; k-- {
			b.WriteString(alpha[r.IntN(len(alpha))])
		}
		bufs = append(bufs, b.String()+"\n")
	}
	for _, re := range []string{
		`^(?P<a>a)?(?(a)b|c)`,
		`^(?P<a>a)?x(?(a)b|c)$`,
		`(?P<a>a)??b(?(a)c|x)`,
		`^(?:(?P<a>a)|b)+?(?(a)c)`, // inside a loop: left to the backtracking engine
		`^(?P<a>a|(?P<b>b))(?(b)c|x)(?(a):)`,
		`(?P<o>(?P<i>a)|b)(?(i)x|c)`,
		`^(?P<u>(?P<c>\S+)|(?:(?! x).)*?) x(?(c): |(?:(?! x).)*$)`,
	} {
		rx, err := compileRegex("failregex", 0, re, "no", false, false, 0)
		require.NoError(t, err, re)
		if rx.progs == nil {
			t.Logf("%s: backtracking engine", re)
			continue
		}
		n := compareEngines(t, rx, bufs)
		t.Logf("%s: RE2 (%d programs), %d matches identical", re, len(rx.progs), n)
	}
}

func TestTemperedDot(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alpha := []string{" from ", " fro", "m ", "f", " ", "x", "from", " from", "\u00e9", ":", "a", "b", "ab", "aba"}
	var bufs []string
	for i := 0; i < 5000; i++ {
		var b strings.Builder
		for k := r.IntN(7); k > 0; k-- {
			b.WriteString(alpha[r.IntN(len(alpha))])
		}
		bufs = append(bufs, b.String()+"\n")
	}
	for _, re := range []string{
		`^(?P<u>(?:(?! from ).)*?) from (?P<h>\S+)`,
		`^(?P<u>(?:(?! from ).)*)$`,
		`x(?P<u>(?:(?!aa).)*?)aab`,
		`(?P<u>(?:(?!ab).)*)$`,
		`^(?P<u>(?:(?!aba).)*?)aba`,
	} {
		rx, err := compileRegex("failregex", 0, re, "no", false, false, 0)
		require.NoError(t, err, re)
		n := compareEngines(t, rx, bufs)
		t.Logf("%s: %d matches identical", re, n)
	}
	// a loop whose end the continuation does not force stays on the backtracking engine
	rx, err := compileRegex("failregex", 0, `^(?P<u>(?:(?! from ).)*) x`, "no", false, false, 0)
	require.NoError(t, err)
	require.Nil(t, rx.progs)
}

func TestLookbehindIPv6(t *testing.T) {
	rx, err := compileRegex("failregex", 0, `from <HOST> port`, "yes", false, false, 0)
	require.NoError(t, err)
	require.NotNil(t, rx.progs)
	require.NotContains(t, rx.progs[0].src, "(?<=")
	var bufs []string
	for _, h := range []string{"::", "::1", "1::", "1:2:3:4:5:6:7:8", "fe80::1:2", ":::", "1:::2", "::ffff:1.2.3.4", "a::b::c", "1:2"} {
		bufs = append(bufs, fmt.Sprintf("x from %s port 22\n", h), fmt.Sprintf("x from [%s] port 22\n", h))
	}
	compareEngines(t, rx, bufs)
}

func TestWordBoundaryDecided(t *testing.T) {
	for re, re2 := range map[string]bool{
		` \bfoo`:       true,  // space before, word after: always a boundary
		`foo\b `:       true,  // word before, space after
		`foo\bbar`:     true,  // never: becomes an empty set
		`\bfoo`:        false, // unknown left side: backtracking
		`(?a:x\b)`:     true,  // ASCII \b is RE2's
		`failed\b`:     true,  // at the end: the next character is consumed
		`x \b`:         true,  // non-word before, at the end
		`failed\B`:     true,
		`(?:a|\.)\b`:   false, // word or not before: backtracking
		`a\B b`:        true,
		`(?:x|y)\b\.z`: true,
	} {
		rx, err := compileRegex("failregex", 0, "(?P<fid>x)?"+re, "no", false, false, 0)
		require.NoError(t, err, re)
		require.Equal(t, re2, rx.progs != nil, re)
		if rx.progs != nil {
			compareEngines(t, rx, []string{" foo\n", "foo \n", "foobar\n", "a b\n", "x.z\n", "y.z\n", "xx\n", "éfoo \n",
				"failed\n", "failedé\n", "failed.\n", "xfailed_\n", "failed٣x\n", "x  \n", "x é\n", "failed", "x "})
		}
	}
}
