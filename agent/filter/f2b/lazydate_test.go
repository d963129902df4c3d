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
	require.NotNil(t, c.lineLits, "sshd's standard prefregex gives a line literal")
	m := c.New()
	now := time.Date(2026, 11, 26, 6, 36, 0, 0, time.UTC)
	_, v := m.Match([]byte("Nov 26 06:35:40 h1 CRON[5]: pam_unix(cron:session): session opened for user root"), now)
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
