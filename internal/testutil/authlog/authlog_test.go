package authlog_test

import (
	"bufio"
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
)

// gen generates a log in memory.
func gen(t testing.TB, o authlog.Options) ([]byte, authlog.Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := authlog.Generate(&buf, o)
	require.NoError(t, err)
	return buf.Bytes(), st
}

func lines(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, f := range []authlog.Format{authlog.Classic, authlog.ISO} {
		t.Run(f.String(), func(t *testing.T) {
			o := authlog.Options{Lines: 30_000, Seed: 42, Format: f}
			a, sa := gen(t, o)
			b, sb := gen(t, o)
			require.Equal(t, a, b, "same options, same bytes")
			require.Equal(t, sa, sb)

			o.Seed = 43
			c, _ := gen(t, o)
			require.NotEqual(t, a, c, "another seed, another log")
		})
	}
}

func TestGenerateProportions(t *testing.T) {
	const n = 200_000
	log, st := gen(t, authlog.Options{Lines: n, Seed: 1})
	ls := lines(log)
	require.Len(t, ls, n)
	require.Equal(t, n, st.Lines)

	total := 0
	for _, c := range st.ByKind {
		total += c
	}
	require.Equal(t, n, total, "every line has a kind")
	require.InDelta(t, authlog.AttackShare, st.AttackShare(), 0.01, "attack lines")
	require.InDelta(t, 0.70, float64(st.ByClass[authlog.Noise])/n, 0.01, "noise lines")

	for _, k := range authlog.Kinds() {
		require.Positive(t, st.ByKind[k], "kind %s never generated", k)
	}

	// About one injection attempt per 10,000 lines.
	attempts := map[int]bool{}
	for _, tr := range st.Truth {
		if tr.Injected.IsValid() {
			attempts[tr.Conn] = true
		}
	}
	want := n / authlog.InjectionEvery
	require.GreaterOrEqual(t, len(attempts), want/2)
	require.LessOrEqual(t, len(attempts), want*3/2)

	// Addresses: some repeat a lot, many appear in one connection only,
	// IPv6 is well represented, and every one is a documentation address.
	conns := map[netip.Addr]map[int]bool{}
	failures, v6 := 0, 0
	doc := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32"),
	}
	for _, tr := range st.Truth {
		inDoc := false
		for _, p := range doc {
			inDoc = inDoc || p.Contains(tr.Addr)
		}
		require.True(t, inDoc, "line %d: %s is not a documentation address", tr.Line, tr.Addr)
		if tr.Kind.Class() != authlog.Failure {
			continue
		}
		failures++
		if tr.Addr.Is6() {
			v6++
		}
		if conns[tr.Addr] == nil {
			conns[tr.Addr] = map[int]bool{}
		}
		conns[tr.Addr][tr.Conn] = true
	}
	require.Equal(t, len(conns), st.SourceAddrs)
	once, top := 0, 0
	for _, c := range conns {
		if len(c) == 1 {
			once++
		}
		top = max(top, len(c))
	}
	require.Greater(t, float64(once)/float64(len(conns)), 0.5, "most addresses are seen once")
	require.Greater(t, float64(top)/float64(st.Connections), 0.03, "a heavy hitter")
	require.InDelta(t, 0.25, float64(v6)/float64(failures), 0.1, "IPv6 share of failures")
}

func TestGenerateParsesWithSyslogPrefix(t *testing.T) {
	start := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	for _, f := range []authlog.Format{authlog.Classic, authlog.ISO} {
		t.Run(f.String(), func(t *testing.T) {
			log, st := gen(t, authlog.Options{Lines: 50_000, Seed: 7, Format: f, Host: "web-1", Start: start})
			require.False(t, st.Start.Before(start))
			require.Less(t, st.Start.Sub(start), time.Minute)
			prev := time.Time{}
			for i, l := range lines(log) {
				p, ok := parseSyslog(l, f, st.End.Year())
				require.True(t, ok, "line %d does not parse: %q", i+1, l)
				require.Equal(t, "web-1", p.host, "line %d", i+1)
				require.NotEmpty(t, p.daemon, "line %d", i+1)
				require.NotEmpty(t, p.msg, "line %d", i+1)
				require.False(t, p.time.Before(prev), "line %d goes back in time", i+1)
				require.False(t, p.time.Before(start.Truncate(time.Second)) || p.time.After(st.End), "line %d: %v outside the log's span", i+1, p.time)
				if f == authlog.ISO {
					require.True(t, p.time.After(prev), "line %d: ISO timestamps are strictly increasing", i+1)
				}
				prev = p.time
			}
		})
	}
}

type syslogLine struct {
	time              time.Time
	host, daemon, msg string
}

// parseSyslog reads "STAMP HOST TAG: MSG", TAG being "prog[pid]" or
// "prog", STAMP classic ("Nov 26 06:35:46", in UTC, of year) or RFC 3339.
func parseSyslog(l string, f authlog.Format, year int) (syslogLine, bool) {
	var p syslogLine
	var err error
	rest := l
	if f == authlog.ISO {
		stamp, r, ok := strings.Cut(l, " ")
		if !ok {
			return p, false
		}
		p.time, err = time.Parse(time.RFC3339Nano, stamp)
		rest = r
	} else {
		if len(l) < 16 || l[15] != ' ' {
			return p, false
		}
		p.time, err = time.Parse("Jan _2 15:04:05 2006", l[:15]+" "+strconv.Itoa(year))
		rest = l[16:]
	}
	if err != nil {
		return p, false
	}
	host, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return p, false
	}
	tag, msg, ok := strings.Cut(rest, ": ")
	if !ok || strings.Contains(tag, " ") && !strings.HasPrefix(tag, "kernel") {
		return p, false
	}
	p.host, p.daemon, p.msg = host, strings.SplitN(tag, "[", 2)[0], msg
	return p, true
}

func TestTruthSidecar(t *testing.T) {
	var side bytes.Buffer
	_, st := gen(t, authlog.Options{Lines: 20_000, Seed: 5, Truth: &side})
	got, err := authlog.ReadTruth(&side)
	require.NoError(t, err)
	require.Equal(t, st.Truth, got)

	var again bytes.Buffer
	require.NoError(t, authlog.WriteTruth(&again, got))
	back, err := authlog.ReadTruth(&again)
	require.NoError(t, err)
	require.Equal(t, got, back)

	_, st2 := gen(t, authlog.Options{Lines: 20_000, Seed: 5, DiscardTruth: true})
	require.Empty(t, st2.Truth)
	require.Equal(t, st.ByKind, st2.ByKind)
}

// TestTruthMatchesText checks the ground truth against the lines: a failure
// line names its true address (unless its kind is address-less), an
// injected address appears in the line, and noise lines have no truth.
func TestTruthMatchesText(t *testing.T) {
	log, st := gen(t, authlog.Options{Lines: 100_000, Seed: 9})
	ls := lines(log)
	hasTruth := map[int]bool{}
	for _, tr := range st.Truth {
		hasTruth[tr.Line] = true
		l := ls[tr.Line-1]
		require.Contains(t, l, "sshd[", "line %d", tr.Line)
		if tr.Injected.IsValid() {
			require.Contains(t, l, tr.Injected.String(), "line %d", tr.Line)
		}
		if tr.Kind.Class() == authlog.Failure && !tr.Kind.Hostless() {
			require.Contains(t, l, tr.Addr.String(), "line %d", tr.Line)
		}
	}
	require.Equal(t, st.ByClass[authlog.Failure]+st.ByClass[authlog.Companion], len(st.Truth))
}

// TestBuiltinSSHDAgainstTruth runs banfleet's built-in sshd filter (as the
// agent runs it) over a generated log: it blames only real sources, never
// an injected address, and finds every failure that names its address,
// except some lines with an injected address (the address guard refuses
// those it can read both ways).
func TestBuiltinSSHDAgainstTruth(t *testing.T) {
	log, st := gen(t, authlog.Options{Lines: 200_000, Seed: 11, Format: authlog.ISO})
	mk, err := jailfilter.New("sshd", config.AgentJail{Filter: "sshd"})
	require.NoError(t, err)
	f := mk()
	truth := map[int]authlog.Truth{}
	for _, tr := range st.Truth {
		truth[tr.Line] = tr
	}
	sc := bufio.NewScanner(bytes.NewReader(log))
	for n := 1; sc.Scan(); n++ {
		fail, v := f.Match(sc.Bytes(), st.End)
		tr, ok := truth[n]
		if v == filter.Failed {
			require.True(t, ok, "line %d is noise but Failed: %s", n, sc.Text())
			require.Equal(t, tr.Addr, fail.Addr, "line %d (%s): %s", n, tr.Kind, sc.Text())
		}
		if ok && tr.Kind.Class() == authlog.Failure && !tr.Kind.Hostless() && v != filter.Failed {
			require.True(t, tr.Injected.IsValid(), "line %d (%s) not found: %s", n, tr.Kind, sc.Text())
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for name, o := range map[string]authlog.Options{
		"negative lines": {Lines: -1},
		"format":         {Format: authlog.Format(9)},
		"kind":           {Kinds: []authlog.Kind{"nope"}},
		"noise only":     {Kinds: []authlog.Kind{authlog.CronCmd}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := authlog.Generate(&bytes.Buffer{}, o)
			require.ErrorIs(t, err, authlog.ErrOptions)
		})
	}
	_, err := authlog.ParseFormat("rfc5424")
	require.ErrorIs(t, err, authlog.ErrOptions)
}

func TestKindsOption(t *testing.T) {
	_, st := gen(t, authlog.Options{Lines: 2_000, Seed: 1, Kinds: []authlog.Kind{authlog.RefusedConnect}})
	for _, tr := range st.Truth {
		require.Equal(t, authlog.RefusedConnect, tr.Kind, "line %d", tr.Line)
	}
	require.Positive(t, st.ByKind[authlog.RefusedConnect])
}
