package journal

import (
	"bytes"
	"math"
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

// These tests run the real journalctl on journal files that
// systemd-journal-remote builds from the fixture export streams. They skip
// without those tools, or fail under BANFLEET_E2E=1.

// allTime is a lookback reaching the start of the journal.
const allTime = time.Duration(math.MaxInt64)

func goldenLines(g []golden) []string {
	var out []string
	for _, e := range g {
		out = append(out, e.Line)
	}
	return out
}

// fixtureTime is the time Fail2Ban gives fixture entry e.
func fixtureTime(t testing.TB, e exportEntry) time.Time {
	var rt, src string
	for _, f := range e {
		switch f.name {
		case "__REALTIME_TIMESTAMP":
			rt = string(f.value)
		case "_SOURCE_REALTIME_TIMESTAMP":
			src = string(f.value)
		}
	}
	if src != "" {
		rt = src
	}
	us, err := strconv.ParseInt(rt, 10, 64)
	require.NoError(t, err)
	return time.UnixMicro(us)
}

// TestE2EFollowDirectory follows a journal directory from its start and
// checks every line against Fail2Ban's output for the same journal file,
// and every time against the fixture.
func TestE2EFollowDirectory(t *testing.T) {
	tl := needJournalTools(t)
	dir := t.TempDir()
	writeJournal(t, tl, filepath.Join(dir, "e2e-1.journal"), fixtureExport(t, 0))
	want := loadE2EGolden(t)["e2e-1"]

	s := newTestSource(t, Options{Directory: dir, Since: allTime, Journalctl: tl.journalctl})
	r := start(t, s)
	r.waitEntries(t, len(want))
	r.stop(t)
	got := r.col.all()
	require.Equal(t, goldenLines(want), r.col.lines())

	cursors := map[string]bool{}
	for i, e := range got {
		fx := fixtureBatches()[0][i]
		require.True(t, fixtureTime(t, fx).Equal(e.Time), "entry %d time %v", i, e.Time)
		require.InDelta(t, want[i].Time, float64(e.Time.UnixMicro())/1e6, 1e-6, "entry %d: Fail2Ban's time", i)
		require.NoError(t, ValidCursor(e.Cursor))
		require.False(t, cursors[e.Cursor], "duplicate cursor")
		cursors[e.Cursor] = true
	}
	// _SOURCE_REALTIME_TIMESTAMP wins, as in Fail2Ban.
	require.Equal(t, fixtureT0-1234, got[0].Time.UnixMicro())
	// Binary, non-UTF-8 message with a NUL; multi-line message.
	require.Contains(t, string(got[4].Line), "user \uFFFD\uFFFDadm\uFFFD from 192.0.2.1 port 22 ssh2\x00tail")
	require.Contains(t, string(got[5].Line), `ssh2: ED25519 SHA256:abc\nsecond line\n`)
	for _, e := range got {
		require.NotContains(t, string(e.Line), "\n")
	}
	require.Equal(t, got[len(got)-1].Cursor, s.Cursor())
}

// TestE2EFollowSeveralBoots: a directory holding two boots is followed
// whole (journalctl --follow alone would show only the newest boot).
func TestE2EFollowSeveralBoots(t *testing.T) {
	tl := needJournalTools(t)
	dir := t.TempDir()
	writeJournal(t, tl, filepath.Join(dir, "e2e-1.journal"), fixtureExport(t, 0))
	writeJournal(t, tl, filepath.Join(dir, "e2e-2.journal"), fixtureExport(t, 1))
	g := loadE2EGolden(t)
	want := append(goldenLines(g["e2e-1"]), goldenLines(g["e2e-2"])...)

	s := newTestSource(t, Options{Directory: dir, Since: allTime, Journalctl: tl.journalctl})
	r := start(t, s)
	r.waitEntries(t, len(want))
	r.stop(t)
	require.Equal(t, want, r.col.lines())
}

// fixtureMatches applies sd-journal match semantics to a fixture entry:
// any group; within a group every field, and for a field any of its values.
func fixtureMatches(e exportEntry, groups [][]string) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		byField := map[string][]string{}
		for _, term := range g {
			name, _, _ := strings.Cut(term, "=")
			byField[name] = append(byField[name], term)
		}
		ok := true
		for _, terms := range byField {
			ok = ok && slices.ContainsFunc(terms, func(term string) bool {
				return slices.ContainsFunc(e, func(f field) bool { return f.name+"="+string(f.value) == term })
			})
		}
		if ok {
			return true
		}
	}
	return false
}

// TestE2EJournalMatch reads a journal file (Files, so journalctl runs to
// the end and the first pass is complete) with Fail2Ban journalmatch values.
func TestE2EJournalMatch(t *testing.T) {
	tl := needJournalTools(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "e2e-1.journal")
	writeJournal(t, tl, file, fixtureExport(t, 0))
	golden := loadE2EGolden(t)["e2e-1"]

	for _, c := range []struct {
		match string
		n     int
	}{
		{"", 11},
		{"_SYSTEMD_UNIT=ssh.service", 8},
		{"_SYSTEMD_UNIT=ssh.service + _COMM=sshd", 9}, // OR: sshd outside the unit too
		{"_SYSTEMD_UNIT=cron.service", 1},
		{"_SYSTEMD_UNIT=ssh.service _SYSTEMD_UNIT=cron.service", 9}, // same field: OR
		{"_COMM=sshd _SYSTEMD_UNIT=session-3.scope", 1},             // AND
		{"_SYSTEMD_UNIT=cron.service\n_SYSTEMD_UNIT=session-3.scope", 2},
		{"_SYSTEMD_UNIT=nothing.service", 0},
	} {
		t.Run(c.match, func(t *testing.T) {
			groups, err := ParseMatch(c.match)
			require.NoError(t, err)
			var want []string
			for i, e := range fixtureBatches()[0] {
				if fixtureMatches(e, groups) {
					want = append(want, golden[i].Line)
				}
			}
			require.Len(t, want, c.n, "fixture expectation")

			s := newTestSource(t, Options{Files: []string{filepath.Join(dir, "*.journal")}, Match: groups,
				Since: allTime, Journalctl: tl.journalctl, PollInterval: time.Hour})
			pass := make(chan struct{}, 1)
			s.onPass = func() { pass <- struct{}{} }
			r := start(t, s)
			select {
			case <-pass:
			case <-time.After(15 * time.Second):
				t.Fatal("journalctl did not finish reading the file")
			}
			r.stop(t)
			if want == nil {
				require.Empty(t, r.col.lines())
				return
			}
			require.Equal(t, want, r.col.lines())
			require.Zero(t, s.stats.Failures.Load())
		})
	}
}

// TestE2EResume stops after the first file, resumes from the saved cursor
// once a second file was written while "down" (only its entries come), and
// keeps following as a third file appears.
func TestE2EResume(t *testing.T) {
	tl := needJournalTools(t)
	dir := t.TempDir()
	writeJournal(t, tl, filepath.Join(dir, "e2e-1.journal"), fixtureExport(t, 0))
	g := loadE2EGolden(t)

	s1 := newTestSource(t, Options{Directory: dir, Since: allTime, Journalctl: tl.journalctl})
	r1 := start(t, s1)
	r1.waitEntries(t, len(g["e2e-1"]))
	r1.stop(t)
	saved := s1.Cursor()
	require.NotEmpty(t, saved)

	writeJournal(t, tl, filepath.Join(dir, "e2e-2.journal"), fixtureExport(t, 1))
	s2 := newTestSource(t, Options{Directory: dir, Cursor: saved, Since: allTime, Journalctl: tl.journalctl})
	r2 := start(t, s2)
	r2.waitEntries(t, len(g["e2e-2"]))
	writeJournal(t, tl, filepath.Join(dir, "e2e-3.journal"), fixtureExport(t, 2))
	r2.waitEntries(t, len(g["e2e-2"])+len(g["e2e-3"]))
	r2.stop(t)
	require.Equal(t, append(goldenLines(g["e2e-2"]), goldenLines(g["e2e-3"])...), r2.col.lines())
	require.Equal(t, uint64(1), s2.stats.Starts.Load())
}

// TestE2EResumeAfterVacuum: the saved cursor's entry is gone (its file was
// vacuumed). journalctl --after-cursor would then skip the first remaining
// entry; the inclusive seek must deliver it.
func TestE2EResumeAfterVacuum(t *testing.T) {
	tl := needJournalTools(t)
	dir := t.TempDir()
	first := filepath.Join(dir, "e2e-1.journal")
	writeJournal(t, tl, first, fixtureExport(t, 0))
	g := loadE2EGolden(t)

	s1 := newTestSource(t, Options{Directory: dir, Since: allTime, Journalctl: tl.journalctl})
	r1 := start(t, s1)
	r1.waitEntries(t, len(g["e2e-1"]))
	r1.stop(t)

	writeJournal(t, tl, filepath.Join(dir, "e2e-2.journal"), fixtureExport(t, 1))
	require.NoError(t, os.Remove(first))
	s2 := newTestSource(t, Options{Directory: dir, Cursor: s1.Cursor(), Journalctl: tl.journalctl})
	r2 := start(t, s2)
	r2.waitEntries(t, len(g["e2e-2"]))
	r2.stop(t)
	require.Equal(t, goldenLines(g["e2e-2"]), r2.col.lines())
}

// TestE2ESince: a first start reads from now-Since on.
func TestE2ESince(t *testing.T) {
	tl := needJournalTools(t)
	dir := t.TempDir()
	writeJournal(t, tl, filepath.Join(dir, "e2e-1.journal"), fixtureExport(t, 0))
	g := loadE2EGolden(t)["e2e-1"]

	// Halfway between entries 4 and 5.
	since := time.Since(time.UnixMicro(fixtureT0 + 4_500_000))
	s := newTestSource(t, Options{Directory: dir, Since: since, Journalctl: tl.journalctl})
	r := start(t, s)
	r.waitEntries(t, len(g)-5)
	r.stop(t)
	require.Equal(t, goldenLines(g[5:]), r.col.lines())
}

// TestE2ESinceNow: Since 0 delivers only entries written from now on.
func TestE2ESinceNow(t *testing.T) {
	tl := needJournalTools(t)
	dir := t.TempDir()
	writeJournal(t, tl, filepath.Join(dir, "e2e-1.journal"), fixtureExport(t, 0))
	s := newTestSource(t, Options{Directory: dir, Journalctl: tl.journalctl})
	r := start(t, s)
	eventually(t, "journalctl started", func() bool { return s.stats.Starts.Load() == 1 })

	now := time.Now().Add(time.Second).UnixMicro()
	var live []exportEntry
	for i, msg := range []string{"Failed password for root from 203.0.113.20 port 1 ssh2",
		"Failed password for root from 203.0.113.21 port 2 ssh2"} {
		live = append(live, exportEntry{
			fld("__REALTIME_TIMESTAMP", strconv.FormatInt(now+int64(i), 10)),
			fld("__MONOTONIC_TIMESTAMP", strconv.FormatInt(fixtureMono+int64(i), 10)),
			fld("_BOOT_ID", "00112233445566778899aabbccddeeff"),
			fld("_HOSTNAME", "web2"), fld("SYSLOG_IDENTIFIER", "sshd"), fld("_PID", "1"), fld("MESSAGE", msg)})
	}
	writeJournal(t, tl, filepath.Join(dir, "live.journal"), encodeExport(live))
	r.waitEntries(t, 2)
	r.stop(t)
	require.Equal(t, []string{"web2 sshd[1]: Failed password for root from 203.0.113.20 port 1 ssh2",
		"web2 sshd[1]: Failed password for root from 203.0.113.21 port 2 ssh2"}, r.col.lines())
	require.Equal(t, now, r.col.all()[0].Time.UnixMicro())
}

// TestE2EMissingDirectory: journalctl fails while the directory is missing;
// the source keeps retrying and picks the journal up once it exists.
func TestE2EMissingDirectory(t *testing.T) {
	tl := needJournalTools(t)
	dir := filepath.Join(t.TempDir(), "later")
	s := newTestSource(t, Options{Directory: dir, Since: allTime, Journalctl: tl.journalctl})
	r := start(t, s)
	eventually(t, "two failed starts", func() bool { return s.stats.Failures.Load() >= 2 })
	require.NoError(t, os.Mkdir(dir, 0o755))
	writeJournal(t, tl, filepath.Join(dir, "e2e-2.journal"), fixtureExport(t, 1))
	r.waitEntries(t, 3)
	r.stop(t)
	require.Equal(t, goldenLines(loadE2EGolden(t)["e2e-2"]), r.col.lines())
}

// TestE2ECancelKillsJournalctl: cancelling Run while the real journalctl
// follows returns promptly and leaves no journalctl behind.
func TestE2ECancelKillsJournalctl(t *testing.T) {
	tl := needJournalTools(t)
	dir := t.TempDir()
	writeJournal(t, tl, filepath.Join(dir, "e2e-1.journal"), fixtureExport(t, 0))
	wrap := filepath.Join(t.TempDir(), "journalctl")
	pidFile := wrap + ".pid"
	require.NoError(t, os.WriteFile(wrap, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nexec "+tl.journalctl+" \"$@\"\n"), 0o755))

	s := newTestSource(t, Options{Directory: dir, Since: allTime, Journalctl: wrap})
	r := start(t, s)
	r.waitEntries(t, 11)
	pid, err := strconv.Atoi(string(bytes.TrimSpace(must(os.ReadFile(pidFile)))))
	require.NoError(t, err)
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	require.NoError(t, err)
	require.Equal(t, "journalctl", strings.TrimSpace(string(comm)))

	began := time.Now()
	r.stop(t)
	require.Less(t, time.Since(began), 2*time.Second, "Run took too long to return")
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "journalctl pid %d survived", pid)
}
