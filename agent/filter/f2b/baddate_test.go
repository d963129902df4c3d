package f2b

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/filter/date"
)

var (
	badClassic = regexp.MustCompile(`^([A-Z][a-z]{2} [ 0-9]\d) (\d\d):(\d\d:\d\d)`)
	badISO     = regexp.MustCompile(`^(\d{4})-(\d\d)-(\d\d)([T ]\d\d:\d\d:\d\d)`)
)

// badDates returns line with its leading date made impossible (Feb 30,
// hour 24), in the line's own format, or nil.
func badDates(line string) []string {
	if m := badClassic.FindStringSubmatchIndex(line); m != nil {
		rest := line[m[1]:]
		return []string{
			"Feb 30 " + line[m[4]:m[5]] + ":" + line[m[6]:m[7]] + rest,
			line[m[2]:m[3]] + " 24:" + line[m[6]:m[7]] + rest,
		}
	}
	if m := badISO.FindStringSubmatchIndex(line); m != nil {
		return []string{line[:m[3]] + "-02-30" + line[m[8]:]}
	}
	return nil
}

// TestBadDateIsBadLine: a line whose date is no valid time never yields a
// failure with a zero time. For every stock filter, on every sample line
// that is a failure, the same line with an impossible date (classic
// syslog and ISO 8601) is BadLine for Match and MatchAt's callers (the
// agent counts it as unparsed), counted in Stats.BadDate, while Process
// (the tools, which count as fail2ban-regex) still matches it as Fail2Ban
// does, with a zero time and Result.BadDate.
func TestBadDateIsBadLine(t *testing.T) {
	s := loadSamples(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	dates := func(pattern string, loc *time.Location) (DateFinder, error) {
		return date.New(date.Options{Pattern: pattern, Location: loc})
	}
	seen := map[string]bool{}
	filters, variants := map[string]bool{}, map[string]int{}
	for _, sf := range s.Filters {
		if len(sf.Opts) > 0 || seen[sf.Def.Name] || sf.Def.LogType == "journal" {
			continue
		}
		seen[sf.Def.Name] = true
		c, err := Compile(sf.Def, Options{Dates: dates, Location: time.UTC, AddressGuard: true})
		require.NoError(t, err, sf.Name)
		for _, st := range sf.Steps {
			if st.Journal {
				continue
			}
			if _, v := c.New().Match([]byte(st.Line), now); v != filter.Failed {
				continue
			}
			for _, bad := range badDates(st.Line) {
				d, err := dates(sf.Def.DatePattern, time.UTC)
				require.NoError(t, err)
				dt, ds, de, ok := d.Find([]byte(bad), now)
				m := c.New()
				fail, v := m.Match([]byte(bad), now)
				if v == filter.Failed || v == filter.Ignored {
					require.False(t, fail.Time.IsZero(), "%s: %q: %v with a zero time", sf.Name, bad, v)
				}
				if !ok || ds >= de || !dt.IsZero() {
					continue // the template does not read it as a date at all
				}
				require.Equal(t, filter.BadLine, v, "%s: %q", sf.Name, bad)
				require.Equal(t, filter.Failure{}, fail, "%s: %q", sf.Name, bad)
				require.Equal(t, uint64(1), m.Stats().BadDate, "%s: %q", sf.Name, bad)
				r := c.New().Process([]byte(bad), now)
				require.True(t, r.BadDate, "%s: %q", sf.Name, bad)
				require.True(t, r.Time.IsZero(), "%s: %q", sf.Name, bad)
				filters[sf.Name] = true
				if badClassic.MatchString(bad) {
					variants["classic"]++
				} else {
					variants["iso"]++
				}
			}
		}
	}
	t.Logf("impossible dates made BadLine: %v lines of %d stock filters", variants, len(filters))
	require.Greater(t, len(filters), 20)
	require.Greater(t, variants["classic"], 100)
	require.Greater(t, variants["iso"], 5)
}

// TestBadDateKeepsLastDate: a line with an impossible date does not
// become the last date a later line without one takes, nor drop a pending
// earlier date (Fail2Ban keeps its last date).
func TestBadDateKeepsLastDate(t *testing.T) {
	c, err := Compile(loadSSHD(t, "normal"), Options{Location: time.UTC, Dates: func(pattern string, loc *time.Location) (DateFinder, error) {
		return date.New(date.Options{Pattern: pattern, Location: loc})
	}})
	require.NoError(t, err)
	m := c.New()
	now := time.Date(2026, 11, 27, 12, 0, 30, 0, time.UTC)
	fail, v := m.Match([]byte("Nov 27 12:00:00 h sshd[1]: Invalid user a from 192.0.2.1 port 1"), now)
	require.Equal(t, filter.Failed, v)
	require.Equal(t, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), fail.Time)
	_, v = m.Match([]byte("Feb 30 12:00:10 h sshd[1]: Invalid user a from 192.0.2.1 port 1"), now)
	require.Equal(t, filter.BadLine, v)
	fail, v = m.Match([]byte("sshd[1]: Invalid user a from 192.0.2.1 port 1"), now)
	require.Equal(t, filter.Failed, v)
	require.Equal(t, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), fail.Time, "the last valid date")
	require.Equal(t, Stats{Lines: 3, Failed: 2, NoDate: 1, BadDate: 1}, m.Stats())
}
