package journal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newTestSource is New with test logging and short backoffs.
func newTestSource(t testing.TB, o Options) *Source {
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	if o.Stats == nil {
		o.Stats = new(Stats)
	}
	s := New(o)
	s.minBackoff, s.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
	return s
}

// fakeJournalctl writes a shell script standing in for journalctl. Run n
// (1-based) records its arguments in args.N and its pid in pid.N, then runs
// the shell snippet steps[n-1] (the last one for later runs), which may use
// $D, the script's directory holding the files of stage.
func fakeJournalctl(t testing.TB, stage map[string][]byte, steps ...string) (path, dir string) {
	dir = t.TempDir()
	for name, data := range stage {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\nD=%s\n", dir)
	b.WriteString("n=$(($(cat $D/count 2>/dev/null || echo 0) + 1)); echo $n > $D/count\n")
	b.WriteString("for a in \"$@\"; do echo \"$a\"; done > $D/args.$n\necho $$ > $D/pid.$n\ncase $n in\n")
	for i, s := range steps {
		pat := strconv.Itoa(i + 1)
		if i == len(steps)-1 {
			pat = "*"
		}
		fmt.Fprintf(&b, "%s) %s ;;\n", pat, s)
	}
	b.WriteString("esac\n")
	path = filepath.Join(dir, "journalctl")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o755))
	return path, dir
}

func readArgs(t testing.TB, dir string, n int) []string {
	data, err := os.ReadFile(filepath.Join(dir, "args."+strconv.Itoa(n)))
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func entries(msgs ...string) []exportEntry {
	var out []exportEntry
	for _, m := range msgs {
		out = append(out, exportEntry{fld("__CURSOR", "t="+m), fld("__REALTIME_TIMESTAMP", "1700000000000000"),
			fld("_HOSTNAME", "h"), fld("SYSLOG_IDENTIFIER", "sshd"), fld("MESSAGE", m)})
	}
	return out
}

// TestRestartResumesAtCursor: journalctl dies after two entries; the
// restarted one is given the last cursor, and the entry at the cursor,
// which an inclusive seek returns again, is not delivered twice.
func TestRestartResumesAtCursor(t *testing.T) {
	path, dir := fakeJournalctl(t, map[string][]byte{
		"one": encodeExport(entries("a1", "b2")),
		"two": encodeExport(entries("b2", "c3")),
	}, `cat $D/one; echo "journalctl: boom" >&2; exit 3`, `cat $D/two; exec sleep 600`)
	s := newTestSource(t, Options{Journalctl: path, Directory: "/var/log/journal",
		Match: [][]string{{"_SYSTEMD_UNIT=ssh.service"}, {"_COMM=sshd"}}})
	r := start(t, s)
	r.waitEntries(t, 3)
	require.Equal(t, []string{"h sshd: a1", "h sshd: b2", "h sshd: c3"}, r.col.lines())
	require.Equal(t, "t=c3", s.Cursor())
	require.Equal(t, uint64(2), s.stats.Starts.Load())
	require.Equal(t, uint64(1), s.stats.Failures.Load())
	require.Equal(t, uint64(3), s.stats.Entries.Load())

	first, second := readArgs(t, dir, 1), readArgs(t, dir, 2)
	require.True(t, slices.ContainsFunc(first, func(a string) bool { return strings.HasPrefix(a, "--since=@") }),
		"first start uses --since: %q", first)
	require.Contains(t, second, "--cursor=t=b2")
	require.NotContains(t, strings.Join(second, " "), "--since")
	for _, a := range [][]string{first, second} {
		require.Contains(t, a, "--follow")
		require.Contains(t, a, "--no-tail")
		require.Contains(t, a, "--directory=/var/log/journal")
		require.Equal(t, []string{"--", "_SYSTEMD_UNIT=ssh.service", "+", "_COMM=sshd"}, a[len(a)-4:])
	}

	// Cancel: Run returns promptly and the follower is gone.
	pid, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "pid.2"))))))
	require.NoError(t, err)
	began := time.Now()
	r.stop(t)
	require.Less(t, time.Since(began), 3*time.Second)
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "journalctl (pid %d) still exists", pid)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestMalformedOutputRestarts: an undecodable stream kills journalctl and
// starts a new one from the last good cursor.
func TestMalformedOutputRestarts(t *testing.T) {
	bad := append(encodeExport(entries("a1")), "MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff"...)
	path, dir := fakeJournalctl(t, map[string][]byte{"bad": bad, "good": encodeExport(entries("a1", "b2"))},
		`cat $D/bad; exec sleep 600`, `cat $D/good; exec sleep 600`)
	s := newTestSource(t, Options{Journalctl: path})
	r := start(t, s)
	r.waitEntries(t, 2)
	require.Equal(t, []string{"h sshd: a1", "h sshd: b2"}, r.col.lines())
	require.Contains(t, readArgs(t, dir, 2), "--cursor=t=a1")
	require.Contains(t, readArgs(t, dir, 1), "--system", "default is the system journal")
	pid1, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "pid.1"))))))
	require.NoError(t, err)
	require.ErrorIs(t, syscall.Kill(pid1, 0), syscall.ESRCH, "first journalctl was not killed")
}

// TestPollFiles: with Files, journalctl runs to the end (no --follow) and is
// run again every PollInterval from the cursor; a clean exit is no failure.
func TestPollFiles(t *testing.T) {
	path, dir := fakeJournalctl(t, map[string][]byte{
		"one": encodeExport(entries("a1")), "two": encodeExport(entries("a1", "b2")),
		"three": encodeExport(entries("b2")),
	}, `cat $D/one`, `cat $D/two`, `cat $D/three`)
	s := newTestSource(t, Options{Journalctl: path, Files: []string{"/j/*.journal", "/k/x.journal"},
		PollInterval: 10 * time.Millisecond})
	passes := make(chan struct{}, 100)
	s.onPass = func() { passes <- struct{}{} }
	r := start(t, s)
	for range 4 {
		select {
		case <-passes:
		case <-time.After(10 * time.Second):
			t.Fatal("no poll pass")
		}
	}
	require.Equal(t, []string{"h sshd: a1", "h sshd: b2"}, r.col.lines())
	require.Zero(t, s.stats.Failures.Load())
	a1, a3 := readArgs(t, dir, 1), readArgs(t, dir, 3)
	require.NotContains(t, a1, "--follow")
	require.Contains(t, a1, "--file=/j/*.journal")
	require.Contains(t, a1, "--file=/k/x.journal")
	require.Contains(t, a3, "--cursor=t=b2")
}

func TestStartErrors(t *testing.T) {
	s := New(Options{Journalctl: filepath.Join(t.TempDir(), "missing")})
	err := s.Run(context.Background(), func(Entry) {})
	require.ErrorIs(t, err, ErrStart)
	require.ErrorIs(t, s.Run(context.Background(), nil), ErrNilHandler)
	err = New(Options{Directory: "/d", Files: []string{"/f"}}).Run(context.Background(), func(Entry) {})
	require.ErrorIs(t, err, ErrInvalidOptions)
	err = New(Options{Match: [][]string{{"_COMM"}}}).Run(context.Background(), func(Entry) {})
	require.ErrorIs(t, err, ErrInvalidMatch)
}

func TestRunTwice(t *testing.T) {
	path, _ := fakeJournalctl(t, nil, `exec sleep 600`)
	s := newTestSource(t, Options{Journalctl: path})
	r := start(t, s)
	eventually(t, "running", s.running.Load)
	require.ErrorIs(t, s.Run(context.Background(), func(Entry) {}), ErrRunning)
	r.stop(t)
}

// TestBadCursorFallsBack: a saved cursor journalctl would refuse is dropped
// for the first-start lookback instead of failing forever.
func TestBadCursorFallsBack(t *testing.T) {
	path, dir := fakeJournalctl(t, map[string][]byte{"one": encodeExport(entries("a1"))}, `cat $D/one; exec sleep 600`)
	s := newTestSource(t, Options{Journalctl: path, Cursor: "not a cursor", Since: time.Hour})
	r := start(t, s)
	r.waitEntries(t, 1)
	var since string
	for _, a := range readArgs(t, dir, 1) {
		require.False(t, strings.HasPrefix(a, "--cursor"), a)
		if v, ok := strings.CutPrefix(a, "--since=@"); ok {
			since = v
		}
	}
	secs, err := strconv.ParseFloat(since, 64)
	require.NoError(t, err)
	require.InDelta(t, float64(time.Now().Add(-time.Hour).Unix()), secs, 60)
}

func TestArgs(t *testing.T) {
	at := time.Unix(1700000000, 123456000)
	s := New(Options{Directory: "/d", Match: [][]string{{"A=1", "B=2"}, {}, {"C=3"}}})
	require.Equal(t, []string{"--output=export", "--output-fields=" + outputFields, "--no-pager", "--quiet",
		"--no-tail", "--merge", "--follow", "--directory=/d", "--since=@1700000000.123456", "--", "A=1", "B=2", "+", "C=3"},
		s.args("", at, true))
	require.Equal(t, []string{"--output=export", "--output-fields=" + outputFields, "--no-pager", "--quiet",
		"--no-tail", "--merge", "--system", "--cursor=t=1"}, New(Options{}).args("t=1", at, false))
	// A lookback before 1970 reads the whole journal.
	require.NotContains(t, strings.Join(New(Options{}).args("", time.Unix(-5, 0), true), " "), "--since")
}
