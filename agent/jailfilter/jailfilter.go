// Package jailfilter builds the filter a jail runs: Fail2Ban regexes (from
// filter.d, the jail, or a built-in filter such as banfleet's sshd.conf)
// through the failregex engine with the date detector. The agent, banfleet-agent regex and the
// benchmarks all build filters here, so they measure what runs.
package jailfilter

import (
	"fmt"
	"time"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/filter/date"
	"github.com/banfleet/banfleet/agent/filter/f2b"
	"github.com/banfleet/banfleet/config"
)

// Factory makes one filter per log source (Fail2Ban filters keep
// per-source state: multi-line buffers, date template order).
type Factory func() filter.AtFilter

// DateFinder adapts agent/filter/date to the engine.
func DateFinder(pattern string, loc *time.Location) (f2b.DateFinder, error) {
	return date.New(date.Options{Pattern: pattern, Location: loc})
}

// Definition is a jail's Fail2Ban filter as the engine takes it.
func Definition(name string, j config.AgentJail) f2b.Definition {
	logType := "file"
	if j.FromJournal() {
		logType = "journal"
	}
	return f2b.Definition{
		Name: name, PrefRegex: j.PrefRegex, FailRegex: j.FailRegex, IgnoreRegex: j.IgnoreRegex,
		MaxLines: j.MaxLines, DatePattern: j.DatePattern, UseDNS: j.UseDNS, LogType: logType,
	}
}

// New compiles a jail's filter once and returns a factory of per-source
// matchers. The filter is the jail's Fail2Ban regexes (from filter.d or the
// jail) or, when it has none yet, the filter its Filter spec names, read
// as config.LoadFilter reads it without a Fail2Ban directory: a built-in
// filter (agent/filter's filter.d, such as banfleet's own sshd.conf). Every
// filter runs on the failregex engine with its address guard: a line whose
// failregex could also have taken another address from it (text the
// client controls, such as a user name, holding " from <addr>") names
// nobody, where Fail2Ban would credit the injected address.
func New(name string, j config.AgentJail) (Factory, error) {
	if !j.Regex() {
		if err := j.ResolveFilter(""); err != nil {
			return nil, fmt.Errorf("jail %s: filter: %w", name, err)
		}
	}
	// The built-in filters read syslog lines, which always carry a date:
	// a line in which none is found is BadLine, which the agent counts as
	// unparsed, where Fail2Ban would match it with the previous line's date
	// or now. (A line whose date is no valid time is BadLine for every
	// filter.)
	c, err := f2b.Compile(Definition(name, j), f2b.Options{Dates: DateFinder, AddressGuard: true, DateRequired: j.BuiltinFilter()})
	if err != nil {
		return nil, err // names the filter and the regex
	}
	return func() filter.AtFilter { return c.New() }, nil
}
