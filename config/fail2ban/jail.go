package fail2ban

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// Defaults of Fail2Ban's server for options a jail does not set.
const (
	DefaultMaxRetry = 3
	DefaultFindTime = 10 * time.Minute
	DefaultBanTime  = 10 * time.Minute
)

// Jail is one enabled jail of a Fail2Ban configuration, resolved as
// fail2ban-client would send it to the server.
type Jail struct {
	// Name is the jail's section name.
	Name string
	// Enabled is the jail's enabled option (LoadJails returns only enabled
	// jails).
	Enabled bool
	// FilterSpec is the filter option, e.g. "sshd[mode=normal]" ("" = none).
	FilterSpec string
	// Filter is the filter as this jail uses it: read with the jail's
	// options and backend, then the jail's own prefregex, failregex,
	// ignoreregex, maxlines, datepattern, usedns and journalmatch applied
	// (see the package documentation). It is non-nil even without a filter
	// option (then it holds only the jail's own regexes).
	Filter *FilterDef
	// Backend is the backend option ("auto", "pyinotify", "polling",
	// "systemd", "systemd[journalflags=1]", ...).
	Backend string
	// Journal is true for a systemd* backend: the jail reads the journal,
	// logtype is "journal" and LogPath is empty.
	Journal bool
	// LogPath lists the logpath globs (Python glob syntax), one per line.
	LogPath []LogPath
	// Port is the port option split on commas: names ("ssh"), numbers,
	// ranges ("1000:1010"), as Fail2Ban's actions receive them.
	Port []string
	// Protocol is the protocol option ("tcp" if unset).
	Protocol string
	// MaxRetry is the maxretry option (DefaultMaxRetry if unset).
	MaxRetry int
	// FindTime is the findtime option (DefaultFindTime if unset).
	FindTime time.Duration
	// BanTime is the bantime option (DefaultBanTime if unset). A negative
	// value (Fail2Ban's "-1") means the ban is permanent; see PermanentBan.
	BanTime time.Duration
	// IgnoreIP lists the ignoreip entries (split on spaces and commas):
	// addresses, CIDR subnets or host names.
	IgnoreIP []string
	// UseDNS is the effective usedns value (Filter.UseDNS).
	UseDNS string
	// BanTimeIncrement holds the bantime.* options, raw.
	BanTimeIncrement BanTimeIncrement
	// Options holds every option Fail2Ban's JailReader reads for the jail
	// (enabled, backend, maxretry, maxmatches, findtime, bantime,
	// bantime.*, ignore*, filter, logtimezone, logencoding, logpath, action
	// and the filter options), after %(name)s interpolation, unconverted,
	// plus port and protocol.
	Options map[string]string
}

// PermanentBan reports whether bans of this jail never expire.
func (j Jail) PermanentBan() bool { return j.BanTime < 0 }

// LogPath is one logpath line: a glob, read from the end of the file when
// Tail ("tail" after the glob) or from the start ("head", the default).
type LogPath struct {
	Glob string
	Tail bool
}

// BanTimeIncrement holds Fail2Ban's bantime.increment and friends, as
// written ("" = unset).
type BanTimeIncrement struct {
	Increment    string // bantime.increment (a bool)
	Factor       string // bantime.factor
	Formula      string // bantime.formula
	Multipliers  string // bantime.multipliers
	MaxTime      string // bantime.maxtime
	RndTime      string // bantime.rndtime
	OverallJails string // bantime.overalljails (a bool)
}

// jailOpts1st and jailOptSpecs are JailReader._configOpts1st and
// _configOpts.
var (
	jailOpts1st = []optSpec{
		{"bool", "enabled", strp("False")},
		{"string", "backend", strp("auto")},
		{"string", "filter", strp("")},
	}
	jailOptSpecs = append([]optSpec{
		{"bool", "enabled", strp("False")},
		{"string", "backend", strp("auto")},
		{"int", "maxretry", nil},
		{"int", "maxmatches", nil},
		{"string", "findtime", nil},
		{"string", "bantime", nil},
		{"bool", "bantime.increment", nil},
		{"string", "bantime.factor", nil},
		{"string", "bantime.formula", nil},
		{"string", "bantime.multipliers", nil},
		{"string", "bantime.maxtime", nil},
		{"string", "bantime.rndtime", nil},
		{"bool", "bantime.overalljails", nil},
		{"string", "ignorecommand", nil},
		{"bool", "ignoreself", nil},
		{"string", "ignoreip", nil},
		{"string", "ignorecache", nil},
		{"string", "filter", strp("")},
		{"string", "logtimezone", nil},
		{"string", "logencoding", nil},
		{"string", "logpath", nil},
		{"string", "action", strp("")},
	}, filterOptSpecs...)
)

// LoadJails reads confDir's jail configuration (jail.conf, jail.d/*.conf,
// jail.local, jail.d/*.local and their includes, such as paths-*.conf) and
// returns its enabled jails in the order their sections first appear, each
// with its filter loaded from confDir/filter.d.
//
// A broken file makes LoadJails fail. A broken jail (a bad value, an
// unresolvable reference, a filter that is missing or broken) does not stop
// the others: LoadJails returns the jails that loaded together with an
// error joining one error per broken jail, each naming the jail and, where
// it can, the file, line and key.
func LoadJails(confDir string) ([]Jail, error) {
	return loadJails(confDir, nil, false)
}

// LoadJailsOr is LoadJails with builtin as the fallback for filters
// confDir does not have (see LoadFilterOr).
func LoadJailsOr(confDir string, builtin fs.FS) ([]Jail, error) {
	return loadJails(confDir, builtin, false)
}

// loadJails is LoadJails; force reads disabled jails too (as
// JailsReader(force_enable=True)).
func loadJails(confDir string, builtin fs.FS, force bool) ([]Jail, error) {
	confDir = strings.TrimRight(confDir, "/")
	l := newLoader()
	l.builtin = builtin
	st, _, err := l.read(pyJoin(confDir, "jail"))
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("%w: no jail.conf or jail.local in %s", ErrNotFound, confDir)
	}
	// JailReader.getOptions: static options every jail can refer to
	st.defaults.setString("fail2ban_version", Version)
	st.defaults.setString("fail2ban_confpath", confDir)
	var (
		jails []Jail
		errs  []error
	)
	for _, name := range append([]string(nil), st.order...) {
		if name == "INCLUDES" || strings.HasPrefix(name, "KNOWN/") {
			continue
		}
		j, err := readJail(l, st, confDir, name, force)
		if err != nil {
			errs = append(errs, &JailError{Jail: name, Err: err})
			continue
		}
		if j != nil {
			jails = append(jails, *j)
		}
	}
	return jails, errors.Join(errs...)
}

// convertVars gives options the form Python's str() gives the converted
// values JailReader passes on: bools "True"/"False", ints normalized.
func convertVars(opts *section, specs []optSpec) (*section, error) {
	out := newSection(opts.name)
	for _, o := range specs {
		v, ok := opts.get(o.name)
		if !ok {
			continue
		}
		if v == nil {
			out.set(o.name, nil)
			continue
		}
		switch o.typ {
		case "bool":
			out.set(o.name, &value{s: pyBoolStr(asBool(v.s)), file: v.file, line: v.line})
		case "int":
			n, err := pyInt(v.s)
			if err != nil {
				return nil, errAt(v, opts.name, o.name, ErrValue, "%v", err)
			}
			out.set(o.name, &value{s: strconv.Itoa(n), file: v.file, line: v.line})
		default:
			out.set(o.name, v)
		}
	}
	return out, nil
}

// readJail is JailReader.getOptions and convert for one jail; nil if the
// jail is disabled (and force is false).
func readJail(l *loader, st *store, confDir, name string, force bool) (*Jail, error) {
	raw1, err := st.getOptions(name, jailOpts1st, nil, true)
	if err != nil {
		return nil, err
	}
	raw1.name = name
	first, err := convertVars(raw1, jailOpts1st)
	if err != nil {
		return nil, err
	}
	if !force && first.vals["enabled"].s != "True" {
		return nil, nil
	}
	spec := first.vals["filter"]
	var fr *filterReader
	if spec.s != "" {
		fname, args, err := extractOptions(spec.s)
		if err != nil {
			return nil, locate(err, spec, name, "filter")
		}
		if fr, err = readFilter(l, confDir, fname, args); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, errAt(spec, name, "filter", ErrNotFound, "unable to read the filter %q", fname)
			}
			return nil, err
		}
		comb, err := fr.jailPass1(first)
		if err != nil {
			return nil, err
		}
		st.mergeSection(name, comb, "known/")
	}
	raw, err := st.getOptions(name, jailOptSpecs, nil, false)
	if err != nil {
		return nil, err
	}
	raw.name = name
	all, err := convertVars(raw, jailOptSpecs)
	if err != nil {
		return nil, err
	}
	if !force && all.vals["enabled"].s != "True" {
		return nil, nil
	}
	var def *FilterDef
	if fr != nil {
		if def, err = fr.jailPass2(all); err != nil {
			return nil, err
		}
	} else {
		def = &FilterDef{MaxLines: 1, Options: map[string]string{}}
		own := newSection(name)
		for _, o := range filterOptSpecs {
			if v, ok := all.get(o.name); ok {
				own.set(o.name, v)
			}
		}
		if err := def.fill(own, name, nil); err != nil {
			return nil, err
		}
	}
	j := &Jail{
		Name:       name,
		Enabled:    all.vals["enabled"].s == "True",
		FilterSpec: spec.s,
		Filter:     def,
		Backend:    all.vals["backend"].s,
		MaxRetry:   DefaultMaxRetry,
		FindTime:   DefaultFindTime,
		BanTime:    DefaultBanTime,
		UseDNS:     def.UseDNS,
		Options:    map[string]string{},
	}
	for _, k := range raw.keys {
		if v := raw.vals[k]; v != nil {
			j.Options[k] = v.s
		}
	}
	j.Journal = strings.HasPrefix(j.Backend, "systemd")
	if v := all.vals["maxretry"]; v != nil {
		j.MaxRetry, _ = strconv.Atoi(v.s)
	}
	for _, t := range []struct {
		key string
		dst *time.Duration
	}{{"findtime", &j.FindTime}, {"bantime", &j.BanTime}} {
		if v := all.vals[t.key]; v != nil {
			d, err := parseTime(v.s)
			if err != nil {
				return nil, errAt(v, name, t.key, ErrValue, "%v", err)
			}
			*t.dst = d
		}
	}
	if v := all.vals["ignoreip"]; v != nil {
		j.IgnoreIP = splitWords(v.s)
	}
	inc := &j.BanTimeIncrement
	for key, dst := range map[string]*string{
		"bantime.increment": &inc.Increment, "bantime.factor": &inc.Factor, "bantime.formula": &inc.Formula,
		"bantime.multipliers": &inc.Multipliers, "bantime.maxtime": &inc.MaxTime, "bantime.rndtime": &inc.RndTime,
		"bantime.overalljails": &inc.OverallJails,
	} {
		if v := raw.vals[key]; v != nil {
			*dst = v.s
		}
	}
	if v := raw.vals["logpath"]; v != nil && !j.Journal {
		if j.LogPath, err = parseLogPath(v); err != nil {
			return nil, errAt(v, name, "logpath", ErrValue, "%v", err)
		}
	}
	port, err := st.get(name, "port", nil)
	if err != nil && !isLookupMiss(err) {
		return nil, err
	}
	if port != nil {
		j.Options["port"] = port.s
		for _, p := range strings.Split(port.s, ",") {
			if p = pyStrip(p); p != "" {
				j.Port = append(j.Port, p)
			}
		}
	}
	j.Protocol = "tcp"
	proto, err := st.get(name, "protocol", nil)
	if err != nil && !isLookupMiss(err) {
		return nil, err
	}
	if proto != nil {
		j.Options["protocol"] = proto.s
		j.Protocol = proto.s
	}
	return j, nil
}

// parseLogPath splits a logpath value the way JailReader.convert does: one
// glob per line, the word after the last space an option, head or tail.
func parseLogPath(v *value) ([]LogPath, error) {
	var out []LogPath
	for _, line := range strings.Split(v.s, "\n") {
		if line == "" {
			continue
		}
		lp := LogPath{Glob: line}
		if i := strings.LastIndexByte(line, ' '); i >= 0 {
			lp.Glob = line[:i]
			switch opt := strings.ToLower(line[i+1:]); opt {
			case "tail":
				lp.Tail = true
			case "head":
			default:
				return nil, fmt.Errorf("%q: the word after the last space must be head or tail, not %q (a glob cannot contain spaces)", line, line[i+1:])
			}
		}
		out = append(out, lp)
	}
	return out, nil
}
