package f2b

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/filter"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		def  Definition
		err  error
		kind string
		idx  int
	}{
		{"empty", Definition{FailRegex: []string{"<HOST>", "  "}}, ErrEmptyRegex, "failregex", 1},
		{"no id", Definition{FailRegex: []string{"<HOST>", "x", "y"}}, ErrNoFailureID, "failregex", 1},
		{"syntax", Definition{FailRegex: []string{"<HOST>", "<HOST>", "<HOST>", "(<HOST>"}}, nil, "failregex", 3},
		{"ignore", Definition{FailRegex: []string{"<HOST>"}, IgnoreRegex: []string{"[x"}}, nil, "ignoreregex", 0},
		{"pref", Definition{PrefRegex: "(?P<content>", FailRegex: []string{"<HOST>"}}, nil, "prefregex", 0},
		{"global flag", Definition{FailRegex: []string{"x(?i)<HOST>"}}, nil, "failregex", 0},
		{"lookbehind width", Definition{FailRegex: []string{"(?<=a|bc)<HOST>"}}, nil, "failregex", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.def, Options{})
			require.Error(t, err)
			var re *RegexError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Equal(t, c.kind, re.Kind)
			require.Equal(t, c.idx, re.Index)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
			}
			t.Log(err)
		})
	}
	_, err := Compile(Definition{Name: "x"}, Options{})
	require.ErrorIs(t, err, ErrNoFailRegex)
	_, err = Compile(Definition{FailRegex: []string{"<HOST>"}, UseDNS: "maybe"}, Options{})
	require.ErrorIs(t, err, ErrBadOption)
	_, err = Compile(Definition{FailRegex: []string{"<HOST>"}}, Options{Dates: func(string, *time.Location) (DateFinder, error) {
		return nil, errors.New("bad pattern")
	}})
	require.ErrorContains(t, err, "bad pattern")
	// a failure id in the prefregex is enough
	_, err = Compile(Definition{PrefRegex: `^<F-MLFID>\S+</F-MLFID> <F-CONTENT>.+</F-CONTENT>$`, FailRegex: []string{"^x$"}}, Options{})
	require.NoError(t, err)
}

func TestSSHDVerdicts(t *testing.T) {
	c := compileSSHD(t, "normal")
	cases := []struct {
		line    string
		verdict filter.Verdict
		addr    string
		user    string
		rule    int
	}{
		{"Nov 26 11:59:50 web-01 sshd[100]: Failed password for root from 192.0.2.1 port 22 ssh2", filter.Failed, "192.0.2.1", "root", 3},
		{"Nov 26 11:59:50 web-01 sshd[101]: Failed password for invalid user admin from 2001:db8::1 port 22 ssh2", filter.Failed, "2001:db8::1", "admin", 3},
		{"Nov 26 11:59:50 web-01 sshd[102]: Invalid user oracle from 192.0.2.2 port 4242", filter.Failed, "192.0.2.2", "oracle", 5},
		{"Nov 26 11:59:50 web-01 sshd[103]: Connection closed by invalid user x 192.0.2.3 port 1 [preauth]", filter.Ignored, "", "x", 19},
		{"Nov 26 11:59:50 web-01 sshd[104]: Accepted publickey for alice from 10.0.0.1 port 5 ssh2: ED25519 SHA256:x", filter.Ignored, "", "alice", 20},
		{"Nov 26 11:59:50 web-01 sshd[105]: Failed password for root from ::ffff:192.0.2.5 port 22 ssh2", filter.Failed, "192.0.2.5", "root", 3},
		{"Nov 26 11:59:50 web-01 sshd[106]: Failed password for root from ::ffff:c000:206 port 22 ssh2", filter.Failed, "192.0.2.6", "root", 3},
		{"Nov 26 11:59:50 web-01 sshd[107]: Failed password for root from evil.example port 22 ssh2", filter.Ignored, "", "root", 3},
		{"Nov 26 11:59:50 web-01 sshd[108]: Failed password for root from 192.0.2.300 port 22 ssh2", filter.Ignored, "", "root", 3},
		{"Nov 26 11:59:50 web-01 CRON[1]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", filter.NoMatch, "", "", 0},
		{"Nov 26 11:59:50 web-01 sshd[109]: Server listening on 0.0.0.0 port 22.", filter.NoMatch, "", "", 0},
		{"garbage", filter.NoMatch, "", "", 0},
		{"", filter.NoMatch, "", "", 0},
	}
	m := c.New()
	for _, tc := range cases {
		f, v := m.Match([]byte(tc.line), testNow)
		require.Equal(t, tc.verdict, v, tc.line)
		if v == filter.NoMatch {
			continue
		}
		require.Equal(t, tc.user, f.User, tc.line)
		require.Equal(t, tc.rule, f.Rule, tc.line)
		require.Equal(t, time.Date(2026, 11, 26, 11, 59, 50, 0, time.UTC), f.Time, tc.line)
		if tc.addr != "" {
			require.Equal(t, netip.MustParseAddr(tc.addr), f.Addr, tc.line)
		} else {
			require.False(t, f.Addr.IsValid(), tc.line)
		}
	}
	require.Equal(t, "sshd", m.Name())
	st := m.Stats()
	require.Equal(t, uint64(len(cases)), st.Lines)
	require.Equal(t, uint64(5), st.Failed)
}

// TestSSHDConnection follows one connection: the address-less "Too many
// authentication failures" takes the address from the connection's earlier
// line (MLFID), and counts the attempts.
func TestSSHDConnection(t *testing.T) {
	m := compileSSHD(t, "normal").New()
	r := m.Process([]byte("Nov 26 11:59:50 web-01 sshd[200]: Failed password for root from 192.0.2.9 port 22 ssh2"), testNow)
	require.Equal(t, filter.Failed, r.Verdict)
	require.Equal(t, 1, r.Attempts)
	require.Equal(t, " web-01 sshd[200]: ", r.Groups["mlfid"])
	r = m.Process([]byte("Nov 26 11:59:51 web-01 sshd[200]: Disconnecting: Too many authentication failures for root [preauth]"), testNow)
	require.Equal(t, filter.Failed, r.Verdict)
	require.Equal(t, 17, r.Rule)
	require.Equal(t, netip.MustParseAddr("192.0.2.9"), r.Addr)
	require.Equal(t, "root", r.User)
	require.Equal(t, []string{"root"}, r.Users)
	// another connection without an address yet: pending
	r = m.Process([]byte("Nov 26 11:59:52 web-01 sshd[201]: Disconnecting: Too many authentication failures [preauth]"), testNow)
	require.Equal(t, filter.Ignored, r.Verdict)
	require.True(t, r.Pending)
	// a publickey failure for a valid user is not a failure by itself ...
	r = m.Process([]byte("Nov 26 11:59:53 web-01 sshd[202]: Failed publickey for bob from 192.0.2.10 port 22 ssh2: RSA SHA256:x"), testNow)
	require.Equal(t, filter.Ignored, r.Verdict)
	require.True(t, r.NoFail)
	// ... a second user on the same connection makes it one
	r = m.Process([]byte("Nov 26 11:59:54 web-01 sshd[202]: Failed publickey for carol from 192.0.2.10 port 22 ssh2: RSA SHA256:y"), testNow)
	require.Equal(t, filter.Failed, r.Verdict)
	require.ElementsMatch(t, []string{"bob", "carol"}, r.Users)
	require.Equal(t, 2, r.Attempts)
}

func TestJournal(t *testing.T) {
	c, err := Compile(loadSSHD(t, "normal-journal"), Options{Dates: newSyslogDates})
	require.NoError(t, err)
	m := c.New()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f, v := m.MatchAt([]byte("web-01 sshd[7]: Invalid user x from 192.0.2.4 port 1"), at)
	require.Equal(t, filter.Failed, v)
	require.Equal(t, at, f.Time)
	require.Equal(t, netip.MustParseAddr("192.0.2.4"), f.Addr)
	// Match on a journal filter uses now as the entry's time
	f, v = m.Match([]byte("web-01 sshd[8]: Invalid user y from 192.0.2.5 port 1"), testNow)
	require.Equal(t, filter.Failed, v)
	require.Equal(t, testNow, f.Time)
}

func TestNoDateTakesLastDateOrNow(t *testing.T) {
	c := compileSSHD(t, "normal")
	m := c.New()
	_, v := m.Match([]byte("Nov 26 11:59:50 web-01 sshd[1]: Invalid user x from 192.0.2.1 port 1"), testNow)
	require.Equal(t, filter.Failed, v)
	r := m.Process([]byte("web-01 sshd[1]: Invalid user x from 192.0.2.1 port 1"), testNow)
	require.True(t, r.NoDate)
	require.Equal(t, filter.Failed, r.Verdict)
	require.Equal(t, time.Date(2026, 11, 26, 11, 59, 50, 0, time.UTC), r.Time, "last date, 10 s old")
	later := testNow.Add(2 * time.Minute)
	r = m.Process([]byte("web-01 sshd[1]: Invalid user x from 192.0.2.1 port 1"), later)
	require.Equal(t, later, r.Time, "last date too old: now")
	require.Equal(t, uint64(2), m.Stats().NoDate)
}

func TestDatesFailingInNewGiveBadLine(t *testing.T) {
	calls := 0
	c, err := Compile(Definition{Name: "x", FailRegex: []string{"<HOST>"}}, Options{Dates: func(string, *time.Location) (DateFinder, error) {
		calls++
		if calls > 1 {
			return nil, errors.New("gone")
		}
		return newSyslogDates("", nil)
	}})
	require.NoError(t, err)
	_, v := c.New().Match([]byte("192.0.2.1"), testNow)
	require.Equal(t, filter.BadLine, v)
}

func TestUseDNS(t *testing.T) {
	for _, tc := range []struct {
		usedns, line string
		verdict      filter.Verdict
		id           string
	}{
		{"warn", "fail evil.example", filter.Ignored, "evil.example"},
		{"yes", "fail evil.example", filter.Ignored, "evil.example"},
		{"raw", "fail evil.example", filter.Ignored, "evil.example"},
		{"no", "fail evil.example", filter.NoMatch, ""},
		{"warn", "fail 192.0.2.1", filter.Failed, "192.0.2.1"},
		{"no", "fail [2001:db8::2]", filter.Failed, "2001:db8::2"},
	} {
		c, err := Compile(Definition{Name: "t", FailRegex: []string{`^fail <HOST>$`}, UseDNS: tc.usedns}, Options{})
		require.NoError(t, err)
		r := c.New().Process([]byte(tc.line), testNow)
		require.Equal(t, tc.verdict, r.Verdict, "%s %s", tc.usedns, tc.line)
		require.Equal(t, tc.id, r.ID, "%s %s", tc.usedns, tc.line)
	}
}

func TestSubnetAndFailureID(t *testing.T) {
	c, err := Compile(Definition{Name: "t", FailRegex: []string{`^net <SUBNET>$`, `^id <F-ID/> from <ADDR>$`, `^only <F-ID/>$`}}, Options{})
	require.NoError(t, err)
	m := c.New()
	r := m.Process([]byte("net 192.0.2.77/24"), testNow)
	require.Equal(t, filter.Failed, r.Verdict)
	require.Equal(t, netip.MustParsePrefix("192.0.2.0/24"), r.Prefix)
	require.Equal(t, netip.MustParseAddr("192.0.2.0"), r.Addr)
	r = m.Process([]byte("id session-7 from 192.0.2.8"), testNow)
	require.Equal(t, filter.Failed, r.Verdict)
	require.Equal(t, "session-7", r.ID)
	require.Equal(t, netip.MustParseAddr("192.0.2.8"), r.Addr)
	r = m.Process([]byte("only 192.0.2.9"), testNow)
	require.Equal(t, filter.Ignored, r.Verdict, "an address only in <F-ID> is not used")
	require.Equal(t, "192.0.2.9", r.ID)
}

func TestAltGroups(t *testing.T) {
	// dovecot's quirk: F-ALT_USER1 fills user1, not user
	c, err := Compile(Definition{Name: "dovecot", FailRegex: []string{
		`^auth fail; logname=<F-ALT_USER1>\S*</F-ALT_USER1> ruser=<F-USER>\S*</F-USER> rhost=<HOST>(?:\s+user=<F-ALT_USER>\S*</F-ALT_USER>)?\s*$`,
	}}, Options{})
	require.NoError(t, err)
	m := c.New()
	r := m.Process([]byte("auth fail; logname=lg ruser= rhost=192.0.2.1 user=bob"), testNow)
	require.Equal(t, filter.Failed, r.Verdict)
	require.Equal(t, "bob", r.User, "alt_user fills an empty user")
	require.Equal(t, "lg", r.Groups["user1"])
	r = m.Process([]byte("auth fail; logname= ruser=alice rhost=192.0.2.1 user=bob"), testNow)
	require.Equal(t, "alice", r.User, "a user that is set wins")
}

func TestIgnoreRegex(t *testing.T) {
	fr := []string{`^a <HOST>$`, `^b <HOST>$`, `^c <HOST>$`, `^d <HOST>$`}
	for _, first := range []bool{false, true} {
		def := Definition{Name: "t", FailRegex: fr[:2], IgnoreRegex: []string{`192\.0\.2\.1$`}}
		if first {
			def.FailRegex = fr // 1 ignoreregex < 4 - 2: checked first
		}
		c, err := Compile(def, Options{})
		require.NoError(t, err)
		require.Equal(t, first, c.ignoreFirst)
		m := c.New()
		r := m.Process([]byte("a 192.0.2.1"), testNow)
		require.Equal(t, filter.NoMatch, r.Verdict)
		require.Equal(t, 0, r.IgnoreRegex)
		r = m.Process([]byte("b 192.0.2.2"), testNow)
		require.Equal(t, filter.Failed, r.Verdict)
	}
}

func TestMultiLineSkipLines(t *testing.T) {
	c, err := Compile(Definition{Name: "t", MaxLines: 3, FailRegex: []string{
		`^start (?P<fid>\d+)<SKIPLINES>end \d+ from <HOST>$`,
	}}, Options{})
	require.NoError(t, err)
	m := c.New()
	for _, l := range []string{"start 1", "noise", "end 1 from 192.0.2.1"} {
		r := m.Process([]byte(l), testNow)
		if l != "end 1 from 192.0.2.1" {
			require.Equal(t, filter.NoMatch, r.Verdict)
			continue
		}
		require.Equal(t, filter.Failed, r.Verdict)
		require.Equal(t, "1", r.ID)
		require.Equal(t, netip.MustParseAddr("192.0.2.1"), r.Addr)
		require.Equal(t, 2, r.Attempts, "the skipped line is not counted")
	}
	// the matched lines left the buffer
	r := m.Process([]byte("end 1 from 192.0.2.1"), testNow)
	require.Equal(t, filter.NoMatch, r.Verdict)
}

func TestBacktrackGivesUp(t *testing.T) {
	// a backreference keeps this on the backtracking engine; the nested
	// loops backtrack exponentially on a long word without the repeated
	// first letter
	c, err := Compile(Definition{Name: "t", FailRegex: []string{`^(?P<fid>.)(\w+\s?)*(?P=fid)$`}},
		Options{MaxSteps: 100000})
	require.NoError(t, err)
	require.Equal(t, EngineBacktrack, c.Regexes()[0].Engine)
	m := c.New()
	line := []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")
	_, v := m.Match(line, testNow)
	require.Equal(t, filter.NoMatch, v)
	require.Equal(t, uint64(1), m.Stats().GaveUp, "abandoned after MaxSteps, not a hang")
	r := m.Process([]byte("ab cda"), testNow)
	require.Equal(t, filter.Ignored, r.Verdict)
	require.Equal(t, "a", r.ID)
}

func TestNoAllocationOnNoMatch(t *testing.T) {
	c := compileSSHD(t, "normal")
	m := c.New()
	lines := [][]byte{
		[]byte("Nov 26 11:59:50 web-01 CRON[1]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
		[]byte("Nov 26 11:59:50 web-01 sshd[9]: Disconnected from user alice 10.0.0.2 port 51234"),
		[]byte("Nov 26 11:59:50 web-01 sshd[9]: pam_unix(sshd:session): session closed for user alice"),
		[]byte("Nov 26 11:59:50 web-01 systemd-logind[5]: New session 4 of user alice."),
		[]byte("no date at all"),
	}
	for _, l := range lines {
		m.Match(l, testNow) // warm up the buffers
		allocs := testing.AllocsPerRun(100, func() {
			if _, v := m.Match(l, testNow); v != filter.NoMatch {
				t.Fatalf("%q: %v", l, v)
			}
		})
		require.Zero(t, allocs, "%q", l)
	}
	// a multi-line filter keeps the last lines without allocating
	mc, err := Compile(Definition{Name: "ml", MaxLines: 3, FailRegex: []string{`^start (?P<fid>\d+)<SKIPLINES>end \d+ from <HOST>$`}}, Options{Dates: newSyslogDates})
	require.NoError(t, err)
	mm := mc.New()
	for i := 0; i < 5; i++ {
		mm.Match(lines[i%len(lines)], testNow)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			mm.Match(l, testNow)
		}
	})
	require.Zero(t, allocs)
}

func TestMLFIDCache(t *testing.T) {
	var c mlfidCache
	now := testNow
	f := func() *failInfo { x := c.alloc(); x.reset(); return x }
	for i := 0; i < 150; i++ {
		c.set(string(rune('A'+i%26))+string(rune('a'+i/26)), f(), now)
	}
	require.Len(t, c.m, 100)
	// FIFO: the first 50 went
	require.Nil(t, c.get("Aa", now))
	require.NotNil(t, c.get(string(rune('A'+149%26))+string(rune('a'+149/26)), now))
	// expired entries are not returned and are removed
	require.Nil(t, c.get(string(rune('A'+120%26))+string(rune('a'+120/26)), now.Add(6*time.Minute)))
	require.Len(t, c.m, 99)
	// setting a key again keeps its place: fill up, set the second oldest
	// again (the full cache drops the oldest), then one more new key drops it
	c.set("x1", f(), now)
	require.Len(t, c.m, 100)
	k51 := string(rune('A'+51%26)) + string(rune('a'+51/26))
	c.set(k51, f(), now)
	require.Nil(t, c.get(string(rune('A'+50%26))+string(rune('a'+50/26)), now))
	require.NotNil(t, c.get(k51, now))
	c.set("x2", f(), now) // 100 again
	c.set("x3", f(), now) // full: drops the oldest
	require.Nil(t, c.get(k51, now), "the entry set again kept its (oldest) place")
	require.NotNil(t, c.get("x3", now))
	c.recycle()
	require.NotEmpty(t, c.free)
}

func TestResultIsACopy(t *testing.T) {
	m := compileSSHD(t, "normal").New()
	r := m.Process([]byte("Nov 26 11:59:50 web-01 sshd[300]: Invalid user keep from 192.0.2.1 port 1"), testNow)
	for i := 0; i < 300; i++ {
		m.Process([]byte("Nov 26 11:59:50 web-01 sshd[301]: Invalid user zzzzzzzzzzzz from 192.0.2.99 port 1"), testNow)
	}
	require.Equal(t, "keep", r.User)
	require.Equal(t, "keep", r.Groups["user"])
	require.Equal(t, "Invalid user keep from 192.0.2.1 port 1", r.Line)
}

// TestCompiledSharedByMatchers runs Matchers of one Compiled in parallel
// (run with -race): a Compiled holds no mutable state.
func TestCompiledSharedByMatchers(t *testing.T) {
	c := compileSSHD(t, "normal")
	lines := newAuthLog(4).lines(2000, 0.5)
	want := make([]filter.Verdict, len(lines))
	m := c.New()
	for i, l := range lines {
		_, want[i] = m.Match(l, testNow)
	}
	done := make(chan []filter.Verdict)
	for g := 0; g < 4; g++ {
		go func() {
			m := c.New()
			got := make([]filter.Verdict, len(lines))
			for i, l := range lines {
				_, got[i] = m.Match(l, testNow)
			}
			done <- got
		}()
	}
	for g := 0; g < 4; g++ {
		require.Equal(t, want, <-done)
	}
}
