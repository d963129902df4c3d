package agent

import (
	"fmt"
	"time"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/filter/date"
	"github.com/banfleet/banfleet/agent/filter/f2b"
	"github.com/banfleet/banfleet/config"
)

// lineFilter is what a source runs each line through.
type lineFilter interface {
	Match(line []byte, now time.Time) (filter.Failure, filter.Verdict)
}

// atFilter matches a line whose time is known from elsewhere (the journal).
type atFilter interface {
	MatchAt(line []byte, t time.Time) (filter.Failure, filter.Verdict)
}

// filterFactory makes one filter per log source (Fail2Ban filters keep
// per-source state: multi-line buffers, date template order).
type filterFactory func() lineFilter

// DateFinder adapts agent/filter/date to the engine.
func dateFinder(pattern string, loc *time.Location) (f2b.DateFinder, error) {
	return date.New(date.Options{Pattern: pattern, Location: loc})
}

// newFilterFactory compiles a jail's filter once: Fail2Ban regexes through
// the failregex engine, otherwise a built-in filter.
func newFilterFactory(name string, j config.AgentJail) (filterFactory, error) {
	if j.Regex() {
		logType := "file"
		if j.FromJournal() {
			logType = "journal"
		}
		c, err := f2b.Compile(f2b.Definition{
			Name: name, PrefRegex: j.PrefRegex, FailRegex: j.FailRegex, IgnoreRegex: j.IgnoreRegex,
			MaxLines: j.MaxLines, DatePattern: j.DatePattern, UseDNS: j.UseDNS, LogType: logType,
		}, f2b.Options{Dates: dateFinder})
		if err != nil {
			return nil, fmt.Errorf("jail %s: filter %s: %w", name, j.Filter, err)
		}
		return func() lineFilter { return c.New() }, nil
	}
	flt, err := filter.Builtin(j.Filter, filter.Options{Mode: "normal"})
	if err != nil {
		return nil, fmt.Errorf("jail %s: %w", name, err)
	}
	return func() lineFilter { return flt }, nil
}
