package fail2ban

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/knadh/koanf/v2"
)

// Provider is a koanf.Provider for a Fail2Ban configuration directory: its
// Read returns the enabled jails (LoadJails) as the nested map
//
//	{"jails": {"<jail>": {<key>: <value>, ...}, ...}}
//
// so that a Fail2Ban configuration and banfleet's YAML decode into the same
// structs (and can be layered: load the Provider, then the YAML file to
// override). The keys of each jail are:
//
//	enabled        bool      always true (only enabled jails are read)
//	filter         string    the filter spec, e.g. "sshd[mode=normal]"
//	backend        string    "auto", "systemd", ...
//	journal        bool      true for a systemd* backend (no logpath then)
//	logpath        []string  the logpath globs (Python glob syntax)
//	logpath_tail   []string  those of them read from the end ("... tail")
//	port           []string  the port option split on commas
//	protocol       string    "tcp", "udp", ...
//	maxretry       int
//	findtime       string    a Go duration, e.g. "10m0s"
//	bantime        string    a Go duration; negative ("-1s") = permanent
//	ignoreip       []string
//	usedns         string    the effective usedns
//	prefregex      string    the filter as the jail uses it: final regex
//	failregex      []string  strings with Fail2Ban's <HOST>, <F-...> tags
//	ignoreregex    []string
//	maxlines       int
//	datepattern    string
//	journalmatch   [][]string  alternatives of FIELD=value terms
//	bantime_increment, bantime_factor, bantime_formula,
//	bantime_multipliers, bantime_maxtime, bantime_rndtime,
//	bantime_overalljails   string  Fail2Ban's bantime.* options, raw
//
// Keys whose value is empty (an empty string or list, an unset bantime.*)
// are left out. WithKeys restricts the keys, e.g. to those a strictly
// decoded struct knows. A jail name holding koanf's key delimiter (".")
// cannot be addressed as one key.
type Provider struct {
	confDir string
	prefix  string
	keys    []string
	onError func(error)
	builtin fs.FS
}

var _ koanf.Provider = (*Provider)(nil)

// ProviderOption configures a Provider.
type ProviderOption func(*Provider)

// WithPrefix sets the top-level key the jails are under (default "jails";
// "" puts the jail names at the top).
func WithPrefix(prefix string) ProviderOption { return func(p *Provider) { p.prefix = prefix } }

// WithKeys emits only the given per-jail keys.
func WithKeys(keys ...string) ProviderOption {
	return func(p *Provider) { p.keys = slices.Clone(keys) }
}

// WithJailErrors makes Read skip broken jails, passing each one's error
// (a *JailError) to report, instead of failing. A broken file still fails.
func WithJailErrors(report func(error)) ProviderOption {
	return func(p *Provider) { p.onError = report }
}

// WithBuiltinFilters reads the filters confDir has no file of from
// builtin, a configuration directory holding filter.d (see LoadFilterOr).
func WithBuiltinFilters(builtin fs.FS) ProviderOption {
	return func(p *Provider) { p.builtin = builtin }
}

// NewProvider returns a Provider reading confDir (e.g. "/etc/fail2ban").
func NewProvider(confDir string, opts ...ProviderOption) *Provider {
	p := &Provider{confDir: confDir, prefix: "jails"}
	for _, o := range opts {
		o(p)
	}
	return p
}

// ReadBytes is not supported.
func (p *Provider) ReadBytes() ([]byte, error) { return nil, ErrNoBytes }

// Read loads the jails and returns them as a nested map.
func (p *Provider) Read() (map[string]any, error) {
	jails, err := LoadJailsOr(p.confDir, p.builtin)
	if err != nil {
		var je *JailError
		if p.onError == nil || !errors.As(err, &je) {
			return nil, fmt.Errorf("fail2ban configuration %s: %w", p.confDir, err)
		}
		for _, e := range unwrapJoined(err) {
			p.onError(e)
		}
	}
	out := map[string]any{}
	for i := range jails {
		out[jails[i].Name] = p.jailMap(&jails[i])
	}
	if p.prefix == "" {
		return out, nil
	}
	return map[string]any{p.prefix: out}, nil
}

func unwrapJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (p *Provider) jailMap(j *Jail) map[string]any {
	m := map[string]any{
		"enabled":  j.Enabled,
		"journal":  j.Journal,
		"maxretry": j.MaxRetry,
		"findtime": j.FindTime.String(),
		"bantime":  j.BanTime.String(),
	}
	setStr := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	setList := func(k string, v []string) {
		if len(v) > 0 {
			m[k] = slices.Clone(v)
		}
	}
	setStr("filter", j.FilterSpec)
	setStr("backend", j.Backend)
	var globs, tails []string
	for _, lp := range j.LogPath {
		globs = append(globs, lp.Glob)
		if lp.Tail {
			tails = append(tails, lp.Glob)
		}
	}
	setList("logpath", globs)
	setList("logpath_tail", tails)
	setList("port", j.Port)
	setStr("protocol", j.Protocol)
	setList("ignoreip", j.IgnoreIP)
	setStr("usedns", j.UseDNS)
	if f := j.Filter; f != nil {
		setStr("prefregex", f.PrefRegex)
		setList("failregex", f.FailRegex)
		setList("ignoreregex", f.IgnoreRegex)
		m["maxlines"] = f.MaxLines
		setStr("datepattern", f.DatePattern)
		if len(f.JournalMatch) > 0 {
			jm := make([][]string, len(f.JournalMatch))
			for i, g := range f.JournalMatch {
				jm[i] = slices.Clone(g)
			}
			m["journalmatch"] = jm
		}
	}
	inc := j.BanTimeIncrement
	for k, v := range map[string]string{
		"increment": inc.Increment, "factor": inc.Factor, "formula": inc.Formula, "multipliers": inc.Multipliers,
		"maxtime": inc.MaxTime, "rndtime": inc.RndTime, "overalljails": inc.OverallJails,
	} {
		setStr("bantime_"+k, v)
	}
	if p.keys != nil {
		for k := range m {
			if !slices.Contains(p.keys, k) {
				delete(m, k)
			}
		}
	}
	return m
}
