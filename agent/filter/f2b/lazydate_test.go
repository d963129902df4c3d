package f2b

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/filter"
)

// A line of another daemon is rejected before its date is looked for, yet
// Fail2Ban's last-date rule still sees that date: a following sshd line
// without a date of its own takes it (it is under 60 s old).
func TestRejectedLineKeepsLastDate(t *testing.T) {
	c := compileSSHD(t, "normal")
	require.NotNil(t, c.lines, "sshd's failregexes give line literals")
	m := c.New()
	now := time.Date(2026, 11, 26, 6, 36, 0, 0, time.UTC)
	_, v := m.Match([]byte("Nov 26 06:35:40 h1 CRON[5]: (root) CMD (run-parts /etc/cron.hourly)"), now)
	require.Equal(t, filter.NoMatch, v)
	require.True(t, m.hasPend, "the rejected line waits for its date to be needed")
	f, v := m.Match([]byte("h1 sshd[7]: Failed password for root from 203.0.113.9 port 1 ssh2"), now)
	require.Equal(t, filter.Failed, v)
	require.Equal(t, time.Date(2026, 11, 26, 6, 35, 40, 0, time.UTC), f.Time.UTC(), "the dateless failure takes the rejected line's date")

	// A line with its own date makes a pending one irrelevant.
	m.Match([]byte("Nov 26 06:35:41 h1 CRON[5]: x"), now)
	f, v = m.Match([]byte("Nov 26 06:35:50 h1 sshd[7]: Failed password for root from 203.0.113.9 port 1 ssh2"), now)
	require.Equal(t, filter.Failed, v)
	require.Equal(t, 50, f.Time.UTC().Second())
	require.False(t, m.hasPend)
}

// Fail2Ban's __prefix_line makes the daemon optional: a line without
// "sshd" whose message is an sshd failure matches (fail2ban-regex counts
// it), so it must not be rejected early for lacking the daemon's name.
func TestLineWithoutDaemonNotRejected(t *testing.T) {
	c, err := Compile(loadSSHD(t, "normal"), Options{Location: time.UTC, Dates: newSyslogDates})
	require.NoError(t, err)
	now := time.Date(2026, 11, 26, 6, 36, 0, 0, time.UTC)
	f, v := c.New().Match([]byte("Nov 26 06:35:46 host Invalid user x from 192.0.2.7 port 22"), now)
	require.Equal(t, filter.Failed, v)
	require.Equal(t, "192.0.2.7", f.Addr.String())
}
