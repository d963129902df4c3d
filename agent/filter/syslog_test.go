package filter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSyslogPrefix(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	tests := []struct {
		name   string
		line   string
		loc    *time.Location
		ok     bool
		time   time.Time
		host   string
		daemon string
		pid    int
		msg    string
	}{
		{name: "classic", line: "Nov 26 06:35:46 host sshd[123]: Failed password", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd", pid: 123, msg: "Failed password"},
		{name: "space padded day", line: "Jan  5 01:31:41 www sshd[1643]: x", ok: true,
			time: time.Date(2026, 1, 5, 1, 31, 41, 0, time.UTC), host: "www", daemon: "sshd", pid: 1643, msg: "x"},
		{name: "unpadded day", line: "Feb 7 16:01:07 linux-m899 sshd[5106]: x", ok: true,
			time: time.Date(2026, 2, 7, 16, 1, 7, 0, time.UTC), host: "linux-m899", daemon: "sshd", pid: 5106, msg: "x"},
		{name: "zero padded day", line: "Jul 05 18:22:44 mercury sshd[4669]: x", ok: true,
			time: time.Date(2026, 7, 5, 18, 22, 44, 0, time.UTC), host: "mercury", daemon: "sshd", pid: 4669, msg: "x"},
		{name: "lower-case month, fraction", line: "nov 26 06:35:46.250 host sshd: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 250e6, time.UTC), host: "host", daemon: "sshd", msg: "x"},
		{name: "one-digit hour", line: "Nov 26 6:35:46 host sshd: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd", msg: "x"},
		{name: "classic in a location", line: "Nov 26 06:35:46 host sshd[1]: x", loc: ny, ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, ny), host: "host", daemon: "sshd", pid: 1, msg: "x"},
		{name: "iso utc", line: "2026-11-26T06:35:46.123456+00:00 host sshd[123]: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 123456000, time.UTC), host: "host", daemon: "sshd", pid: 123, msg: "x"},
		{name: "iso negative offset", line: "2026-11-26T01:35:46-05:00 host sshd[123]: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd", pid: 123, msg: "x"},
		{name: "iso offset without colon", line: "2026-11-26T12:05:46+0530 host sshd[123]: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd", pid: 123, msg: "x"},
		{name: "iso zulu", line: "2026-11-26T06:35:46Z host sshd[123]: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd", pid: 123, msg: "x"},
		{name: "iso without offset uses loc", line: "2026-11-26T06:35:46 host sshd[123]: x", loc: ny, ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, ny), host: "host", daemon: "sshd", pid: 123, msg: "x"},
		{name: "iso with space", line: "2026-11-26 06:35:46,5 host sshd[123]: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 5e8, time.UTC), host: "host", daemon: "sshd", pid: 123, msg: "x"},
		{name: "iso long fraction", line: "2026-11-26T06:35:46.123456789123Z host sshd: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 123456789, time.UTC), host: "host", daemon: "sshd", msg: "x"},
		{name: "iso year ignores now", line: "2015-04-16T18:02:50.321974+00:00 host sshd[2716]: x", ok: true,
			time: time.Date(2015, 4, 16, 18, 2, 50, 321974000, time.UTC), host: "host", daemon: "sshd", pid: 2716, msg: "x"},
		{name: "sshd-session", line: "Nov 26 06:35:46 host sshd-session[9]: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd-session", pid: 9, msg: "x"},
		{name: "no host", line: "Nov 23 21:50:19 sshd[8148]: Disconnecting", ok: true,
			time: time.Date(2026, 11, 23, 21, 50, 19, 0, time.UTC), daemon: "sshd", pid: 8148, msg: "Disconnecting"},
		{name: "bracketed, no host", line: "Mar  3 00:17:22 [sshd]: User root", ok: true,
			time: time.Date(2026, 3, 3, 0, 17, 22, 0, time.UTC), daemon: "sshd", msg: "User root"},
		{name: "bracketed without colon", line: "Jun 25 23:53:34 [sshd] User root", ok: true,
			time: time.Date(2026, 6, 25, 23, 53, 34, 0, time.UTC), daemon: "sshd", msg: "User root"},
		{name: "tag without colon", line: "Nov 26 06:35:46 host sshd[1] x y", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd", pid: 1, msg: "x y"},
		{name: "qualifier", line: "Nov 26 06:35:46 host pop(pam_unix)[4920]: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "pop", pid: 4920, msg: "x"},
		{name: "malformed pid", line: "Nov 26 06:35:46 host sshd[12a]: x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd[12a]", msg: "x"},
		{name: "solaris id", line: "Mar 29 05:59:23 dusky sshd[20878]: [ID 800047 auth.info] Failed x", ok: true,
			time: time.Date(2026, 3, 29, 5, 59, 23, 0, time.UTC), host: "dusky", daemon: "sshd", pid: 20878, msg: "Failed x"},
		{name: "blanks after tag", line: "Nov 26 06:35:46 host sshd[1]:  \t x ", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd", pid: 1, msg: "x "},
		{name: "empty message", line: "Nov 26 06:35:46 host sshd[1]:", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 46, 0, time.UTC), host: "host", daemon: "sshd", pid: 1, msg: ""},
		{name: "kernel", line: "Nov 26 06:35:02 host kernel: [1234567.890123] x", ok: true,
			time: time.Date(2026, 11, 26, 6, 35, 2, 0, time.UTC), host: "host", daemon: "kernel", msg: "[1234567.890123] x"},

		{name: "empty", line: ""},
		{name: "no timestamp", line: "host sshd[1]: x"},
		{name: "bad month", line: "Foo 26 06:35:46 host sshd[1]: x"},
		{name: "day 32", line: "Nov 32 06:35:46 host sshd[1]: x"},
		{name: "day 0", line: "Nov 0 06:35:46 host sshd[1]: x"},
		{name: "feb 30", line: "Feb 30 06:35:46 host sshd[1]: x"},
		{name: "hour 24", line: "Nov 26 24:35:46 host sshd[1]: x"},
		{name: "minute 60", line: "Nov 26 06:60:46 host sshd[1]: x"},
		{name: "second 61", line: "Nov 26 06:35:61 host sshd[1]: x"},
		{name: "one-digit minute", line: "Nov 26 06:5:46 host sshd[1]: x"},
		{name: "no blank after time", line: "Nov 26 06:35:46host sshd[1]: x"},
		{name: "date only", line: "Nov 26 06:35:46"},
		{name: "no tag", line: "Nov 26 06:35:46 host"},
		{name: "iso bad month", line: "2026-13-26T06:35:46Z host sshd[1]: x"},
		{name: "iso feb 29 non-leap", line: "2026-02-29T06:35:46Z host sshd[1]: x"},
		{name: "iso bad offset", line: "2026-11-26T06:35:46+25:00 host sshd[1]: x"},
		{name: "iso short offset", line: "2026-11-26T06:35:46+05 host sshd[1]: x"},
		{name: "iso junk after time", line: "2026-11-26T06:35:46x host sshd[1]: x"},
		{name: "iso truncated", line: "2026-11-26T06:35"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := tc.loc
			if loc == nil {
				loc = time.UTC
			}
			p, ok := ParseSyslogPrefix([]byte(tc.line), now, loc)
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			require.True(t, tc.time.Equal(p.Time), "time %v, want %v", p.Time, tc.time)
			require.Equal(t, loc, p.Time.Location())
			require.Equal(t, tc.host, string(p.Host))
			require.Equal(t, tc.daemon, string(p.Daemon))
			require.Equal(t, tc.pid, p.PID)
			require.Equal(t, tc.msg, string(p.Msg))
		})
	}
}

// TestYearInference: a classic timestamp has no year. Like Fail2Ban, use
// now's year unless that puts the line more than a day in the future.
func TestYearInference(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		line string
		want time.Time
		ok   bool
	}{
		{"new year: late line from last year", time.Date(2027, 1, 1, 0, 5, 0, 0, time.UTC),
			"Dec 31 23:59:59", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"new year: line of the new year", time.Date(2027, 1, 1, 0, 5, 0, 0, time.UTC),
			"Jan  1 00:04:00", time.Date(2027, 1, 1, 0, 4, 0, 0, time.UTC), true},
		{"less than a day ahead stays this year", time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
			"Nov 28 11:00:00", time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC), true},
		{"more than a day ahead is last year", time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
			"Nov 28 13:00:00", time.Date(2025, 11, 28, 13, 0, 0, 0, time.UTC), true},
		// Fail2Ban's quirk, reproduced: a clock running ahead across New
		// Year puts the line at the start of the current (old) year.
		{"ahead across new year (Fail2Ban quirk)", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC),
			"Jan  1 00:30:00", time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC), true},
		{"feb 29 from last (leap) year", time.Date(2029, 1, 2, 0, 0, 0, 0, time.UTC),
			"Feb 29 12:00:00", time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), true},
		{"feb 29 in a leap year", time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC),
			"Feb 29 12:00:00", time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), true},
		{"feb 29 with no leap year near", time.Date(2027, 3, 10, 0, 0, 0, 0, time.UTC),
			"Feb 29 12:00:00", time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := ParseSyslogPrefix([]byte(tc.line+" host sshd[1]: x"), tc.now, time.UTC)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.True(t, tc.want.Equal(p.Time), "got %v, want %v", p.Time, tc.want)
			}
		})
	}

	// The year is now's year in the line's location, not in UTC.
	tokyo := time.FixedZone("JST", 9*3600)
	now := time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC) // 2027-01-01 01:00 in Tokyo
	p, ok := ParseSyslogPrefix([]byte("Jan  1 00:30:00 host sshd[1]: x"), now, tokyo)
	require.True(t, ok)
	require.Equal(t, 2027, p.Time.Year())
}

func TestParseSyslogPrefixZeroAlloc(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, l := range append(append([]string{}, noiseLines...), "garbage", "2026-11-26T06:35:46+05:30 h sshd[1]: x") {
		b := []byte(l)
		allocs := testing.AllocsPerRun(100, func() { ParseSyslogPrefix(b, now, time.Local) })
		require.Zero(t, allocs, "%q", l)
	}
}
