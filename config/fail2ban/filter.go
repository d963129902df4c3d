package fail2ban

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Version is the Fail2Ban release whose semantics this package reproduces;
// jails see it as %(fail2ban_version)s.
const Version = "1.0.2"

// FilterDef is a filter after Fail2Ban has read it: the final strings it
// would hand to its regex compiler, after %(name)s interpolation and <tag>
// substitution. Fail2Ban's regex tags (<HOST>, <ADDR>, <IP4>, <IP6>, <DNS>,
// <CIDR>, <SUBNET>, <SKIPLINES>, <F-...>) are left for the regex compiler.
type FilterDef struct {
	// Name is the filter's name (the spec without options).
	Name string
	// PrefRegex is the prefix regex every line must match first; "" = none.
	PrefRegex string
	// FailRegex lists the failure regexes, one per non-empty line.
	FailRegex []string
	// IgnoreRegex lists the ignore regexes, one per non-empty line.
	IgnoreRegex []string
	// MaxLines is the size of the multi-line buffer (1 when unset, as in
	// Fail2Ban's server).
	MaxLines int
	// DatePattern is the datepattern value ("" = unset: Fail2Ban's default
	// date templates).
	DatePattern string
	// JournalMatch is the systemd journal match: a list of alternatives
	// (OR), each a list of FIELD=value terms (AND). Each line of the
	// journalmatch value starts an alternative; "+" starts another.
	JournalMatch [][]string
	// UseDNS is the usedns value as written ("" = unset).
	UseDNS string
	// Mode is the filter's "mode" parameter: a spec argument, else [Init],
	// else [Definition] or DEFAULT ("" if the filter has none).
	Mode string
	// Options are the filter's parameters after substitution: its [Init]
	// options, the spec's arguments (which win) and logtype.
	Options map[string]string
	// Files lists the files read, in order (includes and .local files).
	Files []string
}

// filterOptSpecs is FilterReader._configOpts, in order.
var filterOptSpecs = []optSpec{
	{"string", "usedns", nil},
	{"string", "prefregex", nil},
	{"string", "ignoreregex", nil},
	{"string", "failregex", nil},
	{"int", "maxlines", nil},
	{"string", "datepattern", nil},
	{"string", "journalmatch", nil},
}

// optSpec is one entry of Fail2Ban's option templates: type, name, default
// (nil = None).
type optSpec struct {
	typ  string
	name string
	def  *string
}

func strp(s string) *string { return &s }

// getOptions is ConfigReaderUnshared.getOptions without conversion: the
// options of specs in section sec (vars first, then the section, then
// DEFAULT). Options named in pOpts are skipped. A missing option gets its
// default, or is absent when the default is None.
func (st *store) getOptions(sec string, specs []optSpec, pOpts *section, shouldExist bool) (*section, error) {
	out := newSection(sec)
	for _, o := range specs {
		if pOpts.has(o.name) {
			continue
		}
		v, err := st.get(sec, o.name, pOpts)
		switch {
		case errors.Is(err, errNoSection):
			if shouldExist {
				return nil, errAt(nil, sec, "", ErrNotFound, "no section [%s]", sec)
			}
			out.set(o.name, defValue(o.def))
		case errors.Is(err, errNoOption):
			if o.def != nil {
				out.set(o.name, defValue(o.def))
			}
		case err != nil:
			return nil, err
		default:
			out.set(o.name, v)
		}
	}
	return out, nil
}

func defValue(d *string) *value {
	if d == nil {
		return nil
	}
	return &value{s: *d}
}

// filterReader is Fail2Ban's FilterReader (a DefinitionInitConfigReader).
type filterReader struct {
	name     string
	st       *store
	files    []string
	initOpts *section // filter arguments, logtype, then [Init] (+ known/...)
	opts     *section // [Definition] options read by getOptions
	pOpts    *section
	defCache map[string]*value
}

// readFilter reads filter name (from a spec) under confDir, with the spec's
// arguments. It returns an error wrapping ErrNotFound if no file exists.
func readFilter(l *loader, confDir, name string, args *section) (*filterReader, error) {
	file := name
	if strings.HasPrefix(file, "./") {
		file = absPath(file)
	}
	base := pyJoin(strings.TrimRight(confDir, "/"), pyJoin("filter.d", file))
	var st *store
	var files []string
	var err error
	if confDir != "" || l.builtin == nil {
		if st, files, err = l.read(base); err != nil {
			return nil, fmt.Errorf("filter %s: %w", name, err)
		}
	}
	if st == nil && l.builtin != nil && !strings.Contains(file, "/") {
		// not in confDir: the built-in filter of that name, if any
		bl := newLoader()
		bl.fsys = l.builtin
		if st, files, err = bl.read(pyJoin("filter.d", file)); err != nil {
			return nil, fmt.Errorf("built-in filter %s: %w", name, err)
		}
		for i, f := range files {
			files[i] = BuiltinPrefix + f
		}
	}
	if st == nil {
		return nil, fmt.Errorf("filter %s: %w: no %s.conf or .local", name, ErrNotFound, base)
	}
	return &filterReader{name: name, st: st, files: files, initOpts: args.clone(), defCache: map[string]*value{}}, nil
}

// applyAutoOptions is FilterReader.applyAutoOptions: logtype "journal" for a
// systemd backend, else "file", unless an argument or [Definition] sets it.
func (fr *filterReader) applyAutoOptions(backend string) {
	if v, _ := fr.initOpts.get("logtype"); v != nil && v.s != "" {
		return
	}
	if fr.st.secs["Definition"].has("logtype") {
		return
	}
	lt := "file"
	if strings.HasPrefix(backend, "systemd") {
		lt = "journal"
	}
	fr.initOpts.setString("logtype", lt)
}

// getOptions is DefinitionInitConfigReader.getOptions.
func (fr *filterReader) getOptions(pOpts *section, all bool) error {
	if pOpts == nil {
		pOpts = newSection("")
	}
	if fr.initOpts.len() > 0 {
		pOpts = mergeDicts(pOpts, fr.initOpts)
	}
	opts, err := fr.st.getOptions("Definition", filterOptSpecs, pOpts, false)
	if err != nil {
		return fmt.Errorf("filter %s: %w", fr.name, err)
	}
	fr.opts, fr.pOpts = opts, pOpts
	if init := fr.st.secs["Init"]; init != nil {
		for _, opt := range slices.Clone(init.keys) {
			if opt == "__name__" {
				continue
			}
			var v *value
			if !strings.HasPrefix(opt, "known/") {
				if v, err = fr.st.get("Init", opt, nil); err != nil {
					return fmt.Errorf("filter %s: %w", fr.name, err)
				}
				fr.initOpts.set("known/"+opt, v)
			}
			if !fr.initOpts.has(opt) {
				if v == nil {
					if v, err = fr.st.get("Init", opt, nil); err != nil {
						return fmt.Errorf("filter %s: %w", fr.name, err)
					}
				}
				fr.initOpts.set(opt, v)
			}
		}
	}
	if def := fr.st.secs["Definition"]; all && def != nil {
		for _, opt := range slices.Clone(def.keys) {
			if opt == "__name__" || fr.opts.has(opt) {
				continue
			}
			v, err := fr.st.get("Definition", opt, nil)
			if err != nil {
				return fmt.Errorf("filter %s: %w", fr.name, err)
			}
			fr.opts.set(opt, v)
		}
	}
	return nil
}

// combOption is DefinitionInitConfigReader.getCombOption: a tag not among
// the combined options is looked up in [Definition] (with "sec/opt" and
// "known/opt" forms), and remembered.
func (fr *filterReader) combOption(name string) (*value, error) {
	if v, ok := fr.defCache[name]; ok {
		return v, nil
	}
	v, err := fr.st.getEx("Definition", name, fr.pOpts)
	if err != nil {
		if !isLookupMiss(err) {
			return nil, fmt.Errorf("filter %s: <%s>: %w", fr.name, name, err)
		}
		v = nil
	}
	fr.defCache[name] = v
	return v, nil
}

// getCombined is DefinitionInitConfigReader.getCombined: the definition
// options merged with the init options, tags substituted.
func (fr *filterReader) getCombined() (*section, error) {
	comb := fr.opts
	if fr.initOpts.len() > 0 {
		comb = mergeDicts(comb, fr.initOpts)
	}
	if comb.len() == 0 {
		return newSection(""), nil
	}
	ignore := map[string]bool{}
	for _, k := range comb.keys {
		if base, _, ok := conditionalName(k); ok {
			ignore[base] = true
		}
	}
	res, err := substituteTags(comb, ignore, fr.combOption)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Section == "" {
			e.Section = "Definition"
		}
		return nil, fmt.Errorf("filter %s: %w", fr.name, err)
	}
	if v, _ := res.get("maxlines"); v != nil {
		if _, err := pyInt(v.s); err != nil {
			return nil, fmt.Errorf("filter %s: %w", fr.name, errAt(v, "Definition", "maxlines", ErrValue, "%v", err))
		}
	}
	return res, nil
}

// convert is FilterReader.convert folded into a FilterDef: what the server
// keeps after the filter's commands. It also returns the combined options.
func (fr *filterReader) convert() (*FilterDef, *section, error) {
	comb, err := fr.getCombined()
	if err != nil {
		return nil, nil, err
	}
	d := &FilterDef{Name: fr.name, MaxLines: 1, Options: map[string]string{}, Files: slices.Clone(fr.files)}
	if err := d.fill(comb, "Definition", nil); err != nil {
		return nil, nil, fmt.Errorf("filter %s: %w", fr.name, err)
	}
	for _, k := range fr.initOpts.keys {
		if strings.HasPrefix(k, "known/") {
			continue
		}
		if v := comb.vals[k]; v != nil {
			d.Options[k] = v.s
		}
	}
	if v := comb.vals["mode"]; v != nil {
		d.Mode = v.s
	} else if v, err := fr.combOption("mode"); err == nil && v != nil {
		d.Mode = v.s // [Definition] or DEFAULT, as <mode> would resolve
	}
	return d, comb, nil
}

// fill applies the filter options of opts the way FilterReader._fillStream
// and the server do: prefregex, usedns, maxlines and datepattern are set,
// failregex, ignoreregex and journalmatch lines are added. Options set in
// first are skipped: _fillStream puts prefregex, usedns and maxlines at the
// front of the command stream, so for a jail the filter's own values (from
// its arguments or [Init]) are sent after the jail's and win.
func (d *FilterDef) fill(opts *section, sec string, first *section) error {
	for _, k := range opts.keys {
		v := opts.vals[k]
		if v == nil {
			continue
		}
		if first != nil && (k == "prefregex" || k == "usedns" || k == "maxlines") && first.vals[k] != nil {
			continue
		}
		switch k {
		case "failregex":
			d.FailRegex = append(d.FailRegex, nonEmptyLines(v.s)...)
		case "ignoreregex":
			d.IgnoreRegex = append(d.IgnoreRegex, nonEmptyLines(v.s)...)
		case "prefregex":
			d.PrefRegex = v.s
		case "usedns":
			d.UseDNS = v.s
		case "datepattern":
			d.DatePattern = v.s
		case "maxlines":
			n, err := pyInt(v.s)
			if err != nil {
				return errAt(v, sec, k, ErrValue, "%v", err)
			}
			d.MaxLines = n
		case "journalmatch":
			for _, line := range nonEmptyLines(v.s) {
				words, err := shlexSplit(line)
				if err != nil {
					return errAt(v, sec, k, ErrValue, "%v", err)
				}
				// server/filtersystemd.py addJournalMatch
				groups := [][]string{{}}
				for _, w := range words {
					if w == "+" {
						groups = append(groups, []string{})
					} else {
						groups[len(groups)-1] = append(groups[len(groups)-1], w)
					}
				}
				d.JournalMatch = append(d.JournalMatch, groups...)
			}
		}
	}
	return nil
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// pyInt is Python's int() on a string: surrounding whitespace, a sign,
// digits with single underscores between them.
func pyInt(s string) (int, error) {
	t := pyStrip(s)
	u := t
	if strings.HasPrefix(u, "+") || strings.HasPrefix(u, "-") {
		u = u[1:]
	}
	if u == "" || u[0] == '_' || u[len(u)-1] == '_' || strings.Contains(u, "__") {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	n, err := strconv.Atoi(strings.ReplaceAll(t, "_", ""))
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

// LoadFilter reads filter spec ("sshd", "sshd[mode=aggressive]",
// `name[k=v, k2="v 2"]`) from confDir/filter.d the way Fail2Ban does: the
// files filter.d/<name>.conf, .d/*.conf, .local, .d/*.local with their
// includes, then both interpolation passes with the spec's options
// overriding same-named [Init] and [Definition] options.
//
// With jailOpts nil the filter is read as fail2ban-regex reads it (backend
// auto). Otherwise it is read as for a jail with those options (keys are
// lower-cased): "backend" selects logtype (journal for systemd*), the
// options are visible to %(name)s references, and the jail's own
// prefregex, failregex, ignoreregex, maxlines, datepattern, usedns and
// journalmatch replace (failregex, ignoreregex, journalmatch: add to) the
// filter's. jailOpts values are used as they are (no interpolation).
func LoadFilter(confDir, spec string, jailOpts map[string]string) (*FilterDef, error) {
	return loadFilter(newLoader(), confDir, spec, jailOpts)
}

// BuiltinPrefix starts the names FilterDef.Files gives the files of a
// built-in filter (LoadFilterOr).
const BuiltinPrefix = "builtin:"

// LoadFilterOr is LoadFilter with a fallback: a filter confDir has no file
// of (no filter.d/<name>.conf, .local …) is read from builtin, a
// configuration directory holding filter.d (such as an embed.FS), with no
// other files (a built-in filter stands alone: includes are read from
// builtin too). confDir "" reads from builtin alone. FilterDef.Files then
// names the files "builtin:filter.d/<name>.conf".
func LoadFilterOr(confDir string, builtin fs.FS, spec string, jailOpts map[string]string) (*FilterDef, error) {
	l := newLoader()
	l.builtin = builtin
	return loadFilter(l, confDir, spec, jailOpts)
}

func loadFilter(l *loader, confDir, spec string, jailOpts map[string]string) (*FilterDef, error) {
	name, args, err := extractOptions(spec)
	if err != nil {
		return nil, err
	}
	fr, err := readFilter(l, confDir, name, args)
	if err != nil {
		return nil, err
	}
	if jailOpts == nil {
		return fr.asRegex("auto")
	}
	all := newSection("")
	for _, k := range slices.Sorted(maps.Keys(jailOpts)) {
		all.setString(pyLower(k), jailOpts[k])
	}
	backend := "auto"
	if v, ok := all.get("backend"); ok {
		backend = v.s
	} else {
		all.setString("backend", backend)
	}
	first := newSection("")
	first.setString("enabled", "True")
	first.setString("backend", backend)
	first.setString("filter", spec)
	return fr.forJail(first, all)
}

// asRegex reads the filter the way fail2ban-regex does.
func (fr *filterReader) asRegex(backend string) (*FilterDef, error) {
	fr.applyAutoOptions(backend)
	if err := fr.getOptions(nil, false); err != nil {
		return nil, err
	}
	d, _, err := fr.convert()
	return d, err
}

// forJail runs the jail's steps of JailReader.getOptions and convert on a
// read filter, for LoadFilter (which has no jail section to merge into).
func (fr *filterReader) forJail(first, all *section) (*FilterDef, error) {
	if _, err := fr.jailPass1(first); err != nil {
		return nil, err
	}
	return fr.jailPass2(all)
}

// jailPass1 reads the filter with the jail's first options (enabled,
// backend, filter) and returns its combined options, which JailReader
// merges into the jail's section as known/<option>.
func (fr *filterReader) jailPass1(first *section) (*section, error) {
	backend := ""
	if v, _ := first.get("backend"); v != nil {
		backend = v.s
	}
	fr.applyAutoOptions(backend)
	if err := fr.getOptions(first, true); err != nil {
		return nil, err
	}
	return fr.getCombined()
}

// jailPass2 reads the filter again with all the jail's options and applies
// the jail's own filter options over the result.
func (fr *filterReader) jailPass2(all *section) (*FilterDef, error) {
	if err := fr.getOptions(all, false); err != nil {
		return nil, err
	}
	d, comb, err := fr.convert()
	if err != nil {
		return nil, err
	}
	jailFilterOpts := newSection("")
	for _, o := range filterOptSpecs {
		if v, ok := all.get(o.name); ok {
			jailFilterOpts.set(o.name, v)
		}
	}
	if err := d.fill(jailFilterOpts, all.name, comb); err != nil {
		return nil, err
	}
	return d, nil
}
