package f2b

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// fixtures maps a reference fixture's file name to its path once made.
var fixtures sync.Map

// referenceFixture returns the file out that testdata/script writes from
// the reference Fail2Ban tree (internal/testutil/f2bref): made at test time, cached
// under .cache/f2bfixtures, never committed. Without the tree the test
// skips (fails under BANFLEET_E2E=1).
func referenceFixture(t testing.TB, script, out string) string {
	t.Helper()
	if p, ok := fixtures.Load(out); ok {
		return p.(string)
	}
	script = filepath.Join("testdata", script)
	abs, err := filepath.Abs(script)
	require.NoError(t, err)
	dir := f2bref.Fixture(t, "f2b-"+out, []string{script}, func(tr *f2bref.Tree, dir string) error {
		return tr.RunPython("", abs, filepath.Join(dir, out))
	})
	p := filepath.Join(dir, out)
	fixtures.Store(out, p)
	return p
}

// syslogDates is a minimal DateFinder for tests and benchmarks (the real
// one is agent/filter/date): a classic syslog date "Mmm dd HH:MM:SS" or an
// ISO 8601 date at the start of the line, the way Fail2Ban's {^LN-BEG}
// templates cut them.
type syslogDates struct {
	loc *time.Location
	// the last classic date seen (logs repeat the same second)
	last           [15]byte
	lastT, lastNow time.Time
	lastOK         bool
}

func newSyslogDates(_ string, loc *time.Location) (DateFinder, error) {
	if loc == nil {
		loc = time.UTC
	}
	return &syslogDates{loc: loc}, nil
}

func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

func month(b []byte) int {
	switch string(b) {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

func (d *syslogDates) Find(line []byte, now time.Time) (time.Time, int, int, bool) {
	if len(line) >= 15 && line[3] == ' ' && line[6] == ' ' && line[9] == ':' && line[12] == ':' {
		if d.lastOK && string(line[:15]) == string(d.last[:]) && now.Sub(d.lastNow) < time.Hour {
			return d.lastT, 0, 15, true
		}
		mon := month(line[:3])
		day := line[4:6]
		if day[0] == ' ' {
			day = day[1:]
		}
		dd, ok1 := num(day)
		hh, ok2 := num(line[7:9])
		mm, ok3 := num(line[10:12])
		ss, ok4 := num(line[13:15])
		if mon > 0 && ok1 && ok2 && ok3 && ok4 {
			t := time.Date(now.In(d.loc).Year(), time.Month(mon), dd, hh, mm, ss, 0, d.loc)
			if t.After(now.Add(24 * time.Hour)) {
				t = t.AddDate(-1, 0, 0)
			}
			copy(d.last[:], line[:15])
			d.lastT, d.lastNow, d.lastOK = t, now, true
			return t, 0, 15, true
		}
	}
	if len(line) >= 19 && line[4] == '-' && line[7] == '-' && (line[10] == 'T' || line[10] == ' ') {
		end := 19
		for end < len(line) && line[end] != ' ' {
			end++
		}
		if t, err := time.Parse(time.RFC3339Nano, string(line[:end])); err == nil {
			return t, 0, end, true
		}
	}
	return time.Time{}, 0, 0, false
}

func loadSSHD(t testing.TB, mode string) Definition {
	b, err := os.ReadFile(referenceFixture(t, "gen_sshd.py", "sshd.json"))
	require.NoError(t, err)
	var defs map[string]Definition
	require.NoError(t, json.Unmarshal(b, &defs))
	d, ok := defs[mode]
	require.True(t, ok, mode)
	return d
}

func compileSSHD(t testing.TB, mode string) *Compiled {
	c, err := Compile(loadSSHD(t, mode), Options{Dates: newSyslogDates, Location: time.UTC})
	require.NoError(t, err)
	return c
}

// authLog generates a realistic Debian auth.log. Lines come from
// sessions, as in a real log: a brute-force connection writes several lines
// under one sshd pid (invalid user, pam_unix, Failed password, disconnect),
// a successful login writes its own (Accepted, pam_unix session, logind,
// disconnect), and cron and sudo add theirs. A few sessions of each kind run
// at once, so their lines interleave.
type authLog struct {
	r     *rand.Rand
	t     time.Time
	pid   int
	fail  []*session
	noise []*session
}

type session struct{ lines []string }

func newAuthLog(seed uint64) *authLog {
	return &authLog{r: rand.New(rand.NewPCG(seed, 7)), t: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC), pid: 10000}
}

var (
	users    = []string{"root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "user", "pi", "ftpuser", "guest", "deploy"}
	locals   = []string{"alice", "bob", "carol", "backup"}
	hostName = "web-01"
)

func (a *authLog) ip() string {
	if a.r.IntN(20) == 0 {
		return fmt.Sprintf("2001:db8:%x::%x", a.r.IntN(65536), a.r.IntN(65536))
	}
	return fmt.Sprintf("%d.%d.%d.%d", 1+a.r.IntN(222), a.r.IntN(256), a.r.IntN(256), 1+a.r.IntN(254))
}

func (a *authLog) newPid() int {
	a.pid += 1 + a.r.IntN(40)
	if a.pid > 4000000 {
		a.pid = 1000
	}
	return a.pid
}

// failSession is one attacking connection.
func (a *authLog) failSession() *session {
	pid, ip, port := a.newPid(), a.ip(), 1024+a.r.IntN(64000)
	u := users[a.r.IntN(len(users))]
	p := func(f string, args ...any) string { return fmt.Sprintf("sshd[%d]: ", pid) + fmt.Sprintf(f, args...) }
	var l []string
	switch n := a.r.IntN(100); {
	case n < 45: // invalid user
		l = append(l, p("Invalid user %s from %s port %d", u, ip, port),
			p("pam_unix(sshd:auth): check pass; user unknown"),
			p("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s", ip),
			p("Failed password for invalid user %s from %s port %d ssh2", u, ip, port))
		if a.r.IntN(2) == 0 {
			l = append(l, p("Failed password for invalid user %s from %s port %d ssh2", u, ip, port))
		}
		l = append(l, p("Received disconnect from %s port %d:11: Bye Bye [preauth]", ip, port),
			p("Disconnected from invalid user %s %s port %d [preauth]", u, ip, port))
	case n < 80: // root
		l = append(l, p("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root", ip))
		for k := 1 + a.r.IntN(5); k > 0; k-- {
			l = append(l, p("Failed password for root from %s port %d ssh2", ip, port))
		}
		if a.r.IntN(3) == 0 {
			l = append(l, p("error: maximum authentication attempts exceeded for root from %s port %d ssh2 [preauth]", ip, port),
				p("Disconnecting authenticating user root %s port %d: Too many authentication failures [preauth]", ip, port),
				p("PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root", ip))
		} else {
			l = append(l, p("Connection closed by authenticating user root %s port %d [preauth]", ip, port))
		}
	case n < 92: // scanners
		l = append(l, p("Connection closed by %s port %d [preauth]", ip, port))
	default:
		l = append(l, p("Unable to negotiate with %s port %d: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]", ip, port))
	}
	return &session{lines: l}
}

// noiseSession is a login, a cron run, a sudo command or logind chatter.
func (a *authLog) noiseSession() *session {
	u := locals[a.r.IntN(len(locals))]
	ip := fmt.Sprintf("10.0.%d.%d", a.r.IntN(4), 2+a.r.IntN(50))
	port := 1024 + a.r.IntN(64000)
	pid := a.newPid()
	sess := 100 + a.r.IntN(900)
	sshd := func(f string, args ...any) string { return fmt.Sprintf("sshd[%d]: ", pid) + fmt.Sprintf(f, args...) }
	logind := func(f string, args ...any) string { return "systemd-logind[512]: " + fmt.Sprintf(f, args...) }
	switch n := a.r.IntN(100); {
	case n < 30:
		return &session{lines: []string{
			sshd("Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:1Wq3ZfLJdxq8lJ0S5vMd1lJ1n2Yg6Ff1aO5bW8xQy1E", u, ip, port),
			sshd("pam_unix(sshd:session): session opened for user %s(uid=1000) by (uid=0)", u),
			logind("New session %d of user %s.", sess, u),
			sshd("Received disconnect from %s port %d:11: disconnected by user", ip, port),
			sshd("Disconnected from user %s %s port %d", u, ip, port),
			sshd("pam_unix(sshd:session): session closed for user %s", u),
			logind("Session %d logged out. Waiting for processes to exit.", sess),
			logind("Removed session %d.", sess),
		}}
	case n < 80:
		cron := fmt.Sprintf("CRON[%d]: ", pid)
		return &session{lines: []string{
			cron + "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
			cron + "pam_unix(cron:session): session closed for user root",
		}}
	default:
		sudo := fmt.Sprintf("sudo[%d]: ", pid)
		return &session{lines: []string{
			sudo + fmt.Sprintf("   %s : TTY=pts/0 ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl status nginx", u, u),
			sudo + fmt.Sprintf("pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=1000)", u),
			sudo + "pam_unix(sudo:session): session closed for user root",
		}}
	}
}

// next takes the next line of one of up to 4 concurrent sessions.
func (a *authLog) next(pool *[]*session, mk func() *session) string {
	for len(*pool) < 4 {
		*pool = append(*pool, mk())
	}
	i := a.r.IntN(len(*pool))
	s := (*pool)[i]
	l := s.lines[0]
	s.lines = s.lines[1:]
	if len(s.lines) == 0 {
		(*pool)[i] = mk()
	}
	a.t = a.t.Add(time.Duration(a.r.IntN(900)) * time.Millisecond)
	return a.t.Format("Jan _2 15:04:05") + " " + hostName + " " + l
}

// lines returns n lines, a fraction fail of them from attacking sessions.
func (a *authLog) lines(n int, fail float64) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		if a.r.Float64() < fail {
			out[i] = []byte(a.next(&a.fail, a.failSession))
		} else {
			out[i] = []byte(a.next(&a.noise, a.noiseSession))
		}
	}
	return out
}
