// Package jailfilter builds the filter a jail runs: Fail2Ban regexes (from
// filter.d or the jail) through the failregex engine with the date
// detector, or a built-in filter. The agent, banfleet-agent regex and the
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

// New compiles a jail's filter once: Fail2Ban regexes through the failregex
// engine, otherwise a built-in filter. The engine runs with its address
// guard: a line whose failregex could also have taken another address from
// it (text the client controls, such as a user name, holding " from <addr>")
// names nobody, where Fail2Ban would credit the injected address.
func New(name string, j config.AgentJail) (Factory, error) {
	if j.Regex() {
		c, err := f2b.Compile(Definition(name, j), f2b.Options{Dates: DateFinder, AddressGuard: true})
		if err != nil {
			return nil, err // names the filter and the regex
		}
		return func() filter.AtFilter { return c.New() }, nil
	}
	flt, err := filter.Builtin(j.Filter, filter.Options{Mode: "normal"})
	if err != nil {
		return nil, fmt.Errorf("jail %s: %w", name, err)
	}
	return func() filter.AtFilter { return flt }, nil
}
