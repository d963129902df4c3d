package date

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustNew(t testing.TB, o Options) *Detector {
	t.Helper()
	d, err := New(o)
	require.NoError(t, err)
	return d
}

// TestNewYear: dates without a year are in the current year unless that
// puts them more than a day ahead of now; times without a date are today
// unless that is in the future (strptime.reGroupDictStrptime).
func TestNewYear(t *testing.T) {
	zurich := posixZone(t, f2bTZ)
	at := func(y int, mo time.Month, d, h, mi, s int) time.Time { return time.Date(y, mo, d, h, mi, s, 0, zurich) }
	for _, c := range []struct {
		name    string
		pattern string
		now     time.Time
		line    string
		want    time.Time
	}{
		{"last second of the year, seen just after", "", at(2026, 1, 1, 0, 0, 5), "Dec 31 23:59:59 host sshd[1]: x", at(2025, 12, 31, 23, 59, 59)},
		{"first second of the year", "", at(2026, 1, 1, 0, 0, 5), "Jan  1 00:00:01 host sshd[1]: x", at(2026, 1, 1, 0, 0, 1)},
		{"a day ahead is still this year", "", at(2026, 1, 1, 0, 0, 5), "Jan  2 00:00:05 host x", at(2026, 1, 2, 0, 0, 5)},
		{"more than a day ahead is last year", "", at(2026, 1, 1, 0, 0, 5), "Jan  2 00:00:06 host x", at(2025, 1, 2, 0, 0, 6)},
		{"late clock before midnight", "", at(2025, 12, 31, 23, 30, 0), "Jan  1 00:00:01 host x", at(2025, 1, 1, 0, 0, 1)},
		{"explicit year wins", "", at(2026, 1, 1, 0, 0, 5), "Dec 31 23:59:59 2026 host x", at(2026, 12, 31, 23, 59, 59)},
		{"ISO has its year", "", at(2026, 1, 1, 0, 0, 5), "2025-12-31T23:59:59+01:00 host x", at(2025, 12, 31, 23, 59, 59)},
		{"two-digit year", "", at(2026, 1, 1, 0, 0, 5), "31/12/25 23:59:59 host x", at(2025, 12, 31, 23, 59, 59)},
		{"time only, earlier today", "{^LN-BEG}%H:%M:%S", at(2026, 1, 1, 0, 30, 0), "00:15:00 host x", at(2026, 1, 1, 0, 15, 0)},
		{"time only, later: yesterday", "{^LN-BEG}%H:%M:%S", at(2026, 1, 1, 0, 30, 0), "23:59:59 host x", at(2025, 12, 31, 23, 59, 59)},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := mustNew(t, Options{Pattern: c.pattern, Location: zurich, Year: 2026})
			got, _, _, ok := d.Find([]byte(c.line), c.now)
			require.True(t, ok)
			require.True(t, c.want.Equal(got), "got %v, want %v", got, c.want)
		})
	}

	t.Run("Feb 29 outside a leap year is no date", func(t *testing.T) {
		d := mustNew(t, Options{Location: zurich, Year: 2026})
		line := "Feb 29 12:00:00 host x"
		got, s, e, ok := d.Find([]byte(line), at(2026, 3, 1, 12, 0, 0))
		require.True(t, ok)
		require.True(t, got.IsZero())
		require.Equal(t, "Feb 29 12:00:00", line[s:e])
	})
}

// TestSyslogTakesTheFastPath: the first syslog line tries the line-anchored
// ISO template (Fail2Ban's first) and then matches the line-anchored BSD
// syslog template, both hand-written; from then on that template is first
// and the only one tried.
func TestSyslogTakesTheFastPath(t *testing.T) {
	d := mustNew(t, Options{Location: time.UTC, Year: 2026})
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	line := []byte("Nov 26 06:35:46 host sshd[1234]: Failed password for root from 192.0.2.1 port 22 ssh2")
	_, s, e, ok := d.Find(line, now)
	require.True(t, ok)
	require.Equal(t, "Nov 26 06:35:46", string(line[s:e]))
	require.LessOrEqual(t, d.searches, 2)
	require.Zero(t, d.engine)
	for i := 0; i < 3; i++ {
		d.searches = 0
		tm, _, _, ok := d.Find(line, now)
		require.True(t, ok)
		require.Equal(t, time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), tm)
		require.Equal(t, 1, d.searches)
		require.Zero(t, d.engine)
		require.Same(t, d.entries[0].t, d.last)
		require.NotNil(t, d.last.fast)
	}
}

func TestOptions(t *testing.T) {
	t.Run("bad pattern names the line", func(t *testing.T) {
		_, err := New(Options{Pattern: "{^LN-BEG}\n%Y-%m-%d %Q"})
		var pe *PatternError
		require.True(t, errors.As(err, &pe))
		require.Equal(t, "%Y-%m-%d %Q", pe.Pattern)
	})
	t.Run("duplicate template", func(t *testing.T) {
		_, err := New(Options{Pattern: "EPOCH\nEpoch"})
		require.Error(t, err)
	})
	t.Run("duplicates of defaults are skipped", func(t *testing.T) {
		d := mustNew(t, Options{Pattern: "{^LN-BEG}EPOCH\n{^LN-BEG}"})
		require.Len(t, d.entries, 17)
	})
	t.Run("regex Python refuses", func(t *testing.T) {
		_, err := New(Options{Pattern: "^(%H:%M:%S"})
		require.Error(t, err)
	})
	t.Run("logtimezone", func(t *testing.T) {
		for in, off := range map[string]int{"UTC": 0, "UTC+0200": 7200, "CET": 3600, "-04:30": -16200, "GMT-04": -14400, "": 0, "CEST-01": 3600} {
			loc, err := ParseTimeZone(in)
			require.NoError(t, err, in)
			_, got := time.Unix(0, 0).In(loc).Zone()
			require.Equal(t, off, got, in)
		}
		_, err := ParseTimeZone("Europe/Paris")
		require.Error(t, err)
	})
	t.Run("a zone in the line wins", func(t *testing.T) {
		loc, err := ParseTimeZone("UTC+0200")
		require.NoError(t, err)
		d := mustNew(t, Options{Location: loc, Year: 2026})
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		got, _, _, ok := d.Find([]byte("2026-11-26T06:35:46Z x"), now)
		require.True(t, ok)
		require.Equal(t, time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), got.UTC())
		got, _, _, ok = d.Find([]byte("2026-11-26T06:35:46 x"), now)
		require.True(t, ok)
		require.Equal(t, time.Date(2026, 11, 26, 4, 35, 46, 0, time.UTC), got.UTC())
	})
	t.Run("empty date", func(t *testing.T) {
		d := mustNew(t, Options{Pattern: "{NONE}"})
		got, s, e, ok := d.Find([]byte("Nov 26 06:35:46 x"), time.Now())
		require.True(t, ok)
		require.True(t, got.IsZero())
		require.Equal(t, s, e)
	})
	t.Run("no date", func(t *testing.T) {
		d := mustNew(t, Options{})
		_, _, _, ok := d.Find([]byte("Connection closed by 192.0.2.1 port 22 [preauth]"), time.Now())
		require.False(t, ok)
	})
	t.Run("epoch keeps the fraction", func(t *testing.T) {
		d := mustNew(t, Options{Pattern: "EPOCH"})
		got, _, _, ok := d.Find([]byte("1106513999.250 x"), time.Now())
		require.True(t, ok)
		require.Equal(t, time.Unix(1106513999, 250e6), got.Round(time.Microsecond).UTC().In(time.Local))
	})
}

// TestFindDoesNotAllocate: neither the hand-written matchers nor the regex
// engine allocate once a detector is warm.
func TestFindDoesNotAllocate(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct{ pattern, line string }{
		{"", benchSyslog},
		{"", benchISO},
		{"", benchApache},
		{"", "Connection closed by 192.0.2.1 port 22 [preauth]"},
		{"", "[1106513999.250] x"},
		{"", "x audit(1106513999.250:12): y"},
		{"", "@4000000041f4104f00000000 x"},
		{"", "PDT Apr 16 21:05:29 x"},
		{"^%Y-%m-%d %H:%M:%S(?:\\s*%Z)?", "2026-11-26 06:35:46 CET x"},
		{"^[^\\[]*\\[({DATE})\n{^LN-BEG}", benchApache},
		{"^<\\d+>\\d+\\s+{DATE}", "<38>1 2026-11-26T06:35:46.123456+01:00 host x"},
		{"LEPOCH", "1138049999555 x"},
	} {
		d := mustNew(t, Options{Pattern: c.pattern, Location: posixZone(t, f2bTZ), Year: 2026})
		line := []byte(c.line)
		d.Find(line, now)
		allocs := testing.AllocsPerRun(50, func() { d.Find(line, now) })
		require.Zero(t, allocs, "pattern %q line %q", c.pattern, c.line)
	}
}
