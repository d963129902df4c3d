package lab

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSyslogLine(t *testing.T) {
	ts := time.Date(2026, 11, 6, 6, 35, 46, 123456789, time.UTC)
	msg := "Failed password for root from 10.77.0.66 port 41348 ssh2"
	require.Equal(t,
		"2026-11-06T06:35:46.123456+00:00 h1 sshd[1234]: Failed password for root from 10.77.0.66 port 41348 ssh2",
		SyslogLine(LogFormatISO, ts, "h1", "sshd", 1234, msg))
	require.Equal(t,
		"Nov  6 06:35:46 h2 sshd[1234]: Failed password for root from 10.77.0.66 port 41348 ssh2",
		SyslogLine(LogFormatClassic, ts, "h2", "sshd", 1234, msg))
	require.Equal(t,
		"Nov 26 06:35:46 h2 CRON: x",
		SyslogLine(LogFormatClassic, ts.AddDate(0, 0, 20), "h2", "CRON", 0, "x"))
	cet := time.FixedZone("CET", 3600)
	require.Equal(t, "2026-11-06T07:35:46.123456+01:00 h3 sshd[1]: x",
		SyslogLine(LogFormatISO, ts.In(cet), "h3", "sshd", 1, "x"))
}

func TestSSHDStderrMessage(t *testing.T) {
	for raw, want := range map[string]string{
		"Failed password for root from 10.77.0.66 port 41348 ssh2\r\n": "Failed password for root from 10.77.0.66 port 41348 ssh2",
		"Server listening on 10.77.0.11 port 22.\r\n":                  "Server listening on 10.77.0.11 port 22.",
		"no newline":                   "no newline",
		"Invalid user a\tb from x\r\n": `Invalid user a\tb from x`,
		"two\nlines\r\n":               `two\nlines`,
		"bell\a and \\001\r\n":         `bell\a and \001`,
		"esc \x1b\r\n":                 `esc \033`,
	} {
		require.Equal(t, want, sshdStderrMessage([]byte(raw)), "%q", raw)
	}
}

func TestSyslogFileRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	s, err := openSyslogFile(path, "h1", LogFormatISO)
	require.NoError(t, err)
	defer s.close()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		return string(b)
	}
	require.NoError(t, s.raw("one"))
	require.NoError(t, s.rotate())
	require.NoError(t, s.raw("two\n"))
	require.Equal(t, "one\n", read(path+".1"))
	require.Equal(t, "two\n", read(path))

	require.NoError(t, s.copyTruncate())
	require.Equal(t, "two\n", read(path+".1"))
	require.Equal(t, "one\n", read(path+".2"))
	require.Equal(t, "", read(path))
	require.NoError(t, s.raw("three"))
	require.Equal(t, "three\n", read(path), "after copytruncate the writer appends from offset 0")

	for range maxRotations + 2 {
		require.NoError(t, s.rotate())
	}
	_, err = os.Stat(path + ".5")
	require.ErrorIs(t, err, os.ErrNotExist)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(logMode), fi.Mode().Perm())
}
