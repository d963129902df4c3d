package fail2ban

import (
	"strings"
)

// store is the merged configuration of one name (a filter, "jail"): what
// Fail2Ban's SafeConfigParserWithIncludes holds after reading every file.
// Values are raw; interpolation happens in get.
type store struct {
	defaults *section
	secs     map[string]*section
	order    []string
}

func newStore() *store {
	return &store{defaults: newSection("DEFAULT"), secs: map[string]*section{}}
}

// storeOf is the parser of a single file (used to read its [INCLUDES]).
func storeOf(f *iniFile) *store {
	st := newStore()
	st.defaults = f.defaults
	for _, s := range f.sections {
		st.secs[s.name] = s
		st.order = append(st.order, s.name)
	}
	return st
}

func (st *store) ensureSection(name string) *section {
	s := st.secs[name]
	if s == nil {
		s = newSection(name)
		st.secs[name] = s
		st.order = append(st.order, name)
	}
	return s
}

// merge adds one file's sections the way SafeConfigParserWithIncludes.read
// does: DEFAULT is updated, a section seen before is updated key by key with
// the values it overrides kept in section "KNOWN/<name>", and a conditional
// section "name?cond" adds its keys to "name" suffixed with "?cond".
func (st *store) merge(f *iniFile) {
	st.defaults.update(f.defaults)
	for _, s := range f.sections {
		name := s.name
		if base, cond, ok := conditionalName(name); ok {
			name = base
			c := newSection(base)
			for _, k := range s.keys {
				c.set(k+cond, s.vals[k])
			}
			s = c
		}
		if s2 := st.secs[name]; s2 != nil {
			known := st.ensureSection("KNOWN/" + name)
			for _, k := range s2.keys {
				if s.has(k) {
					known.set(k, s2.vals[k])
				}
			}
			s2.update(s)
		} else {
			c := s.clone()
			c.name = name
			st.secs[name] = c
			st.order = append(st.order, name)
		}
	}
}

// conditionalName matches Fail2Ban's CONDITIONAL_RE, `^(\w+)(\?.+)$`.
func conditionalName(n string) (base, cond string, ok bool) {
	q := strings.IndexByte(n, '?')
	if q <= 0 || q == len(n)-1 {
		return "", "", false
	}
	for _, r := range n[:q] {
		if !pyIsWord(r) {
			return "", "", false
		}
	}
	if strings.ContainsRune(n[q:], '\n') {
		return "", "", false
	}
	return n[:q], n[q:], true
}

// mergeSection is SafeConfigParserWithIncludes.merge_section with a prefix:
// every option not already prefixed is stored as prefix+key. A nil value
// (None: a filter without [Definition]) is stored too; referring to it is
// an error, as in Fail2Ban.
func (st *store) mergeSection(name string, opts *section, pref string) {
	sec := st.ensureSection(name)
	for _, k := range opts.keys {
		if strings.HasPrefix(k, pref) || k == "__name__" {
			continue
		}
		sec.set(pref+k, opts.vals[k])
	}
}

// lookup finds a raw option the way configparser's get does before
// interpolating: the given vars, then the section, then DEFAULT.
func (st *store) lookup(sectionName, option string, vars *section) (*value, *section, error) {
	sec := st.secs[sectionName]
	if sec == nil && sectionName != "DEFAULT" {
		return nil, nil, errNoSection
	}
	option = pyLower(option)
	if v, ok := vars.get(option); ok {
		return v, sec, nil
	}
	if v, ok := sec.get(option); ok {
		return v, sec, nil
	}
	if v, ok := st.defaults.get(option); ok {
		return v, sec, nil
	}
	return nil, sec, errNoOption
}

// get is ConfigParser.get(section, option, vars=vars) with Fail2Ban's
// interpolation (BasicInterpolationWithName). A nil result is Python's None.
func (st *store) get(sectionName, option string, vars *section) (*value, error) {
	v, sec, err := st.lookup(sectionName, option, vars)
	if err != nil || v == nil {
		return v, err
	}
	if !strings.Contains(v.s, "%") {
		return v, nil
	}
	ip := &interp{st: st, section: sectionName, option: pyLower(option), origin: v, vars: vars, sec: sec,
		overlay: map[string]*value{}}
	var b strings.Builder
	if err := ip.some(&b, v.s, 1); err != nil {
		return nil, err
	}
	return &value{s: b.String(), file: v.file, line: v.line}, nil
}

// getEx is SafeConfigParserWithIncludes.get_ex: a "sec/opt" name reads
// another section ("known/opt" the overridden value, then the section's
// own; "default/opt" DEFAULT) before the plain lookup.
func (st *store) getEx(sectionName, option string, vars *section) (*value, error) {
	if strings.Contains(option, "/") {
		if sec, opt, ok := sectionOptName(option); ok {
			var cands []string
			switch pyLower(sec) {
			case "known":
				cands = []string{"KNOWN/" + sectionName, sectionName}
			case "default":
				cands = []string{"DEFAULT"}
			default:
				cands = []string{sec}
			}
			for _, c := range cands {
				v, err := st.get(c, opt, nil)
				if err == nil {
					return v, nil
				}
				if !isLookupMiss(err) {
					return nil, err
				}
			}
		}
	}
	return st.get(sectionName, option, vars)
}

// sectionOptName matches SECTION_OPTNAME_CRE, `^([\w\-]+)/([^\s>]+)$`
// (where $ also matches before a final newline).
func sectionOptName(s string) (sec, opt string, ok bool) {
	s = strings.TrimSuffix(s, "\n")
	slash := strings.IndexByte(s, '/')
	if slash <= 0 || slash == len(s)-1 {
		return "", "", false
	}
	for _, r := range s[:slash] {
		if !pyIsWord(r) && r != '-' {
			return "", "", false
		}
	}
	for _, r := range s[slash+1:] {
		if pyIsSpace(r) || r == '>' {
			return "", "", false
		}
	}
	return s[:slash], s[slash+1:], true
}

// maxInterpolationDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// interp is one BasicInterpolationWithName.before_get call.
type interp struct {
	st      *store
	section string
	option  string
	origin  *value
	vars    *section
	sec     *section
	// overlay is the first map of configparser's ChainMap: __name__ and the
	// %(sec/opt)s values _map_section_options found.
	overlay map[string]*value
}

func (ip *interp) find(key string) (*value, bool) {
	if key == "__name__" {
		return &value{s: ip.section}, true
	}
	if v, ok := ip.overlay[key]; ok {
		return v, true
	}
	if v, ok := ip.vars.get(key); ok {
		return v, true
	}
	if v, ok := ip.sec.get(key); ok {
		return v, true
	}
	return ip.st.defaults.get(key)
}

func (ip *interp) fail(format string, args ...any) error {
	return errAt(ip.origin, ip.section, ip.option, ErrInterpolation, format, args...)
}

// some is BasicInterpolation._interpolate_some with Fail2Ban's wrapper.
func (ip *interp) some(b *strings.Builder, rest string, depth int) error {
	ip.mapSectionOptions(rest)
	if depth > maxInterpolationDepth {
		return ip.fail("references nested deeper than %d levels", maxInterpolationDepth)
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			return nil
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		if len(rest) < 2 {
			return ip.fail("'%%' must be followed by '%%' or '(', found: %q", rest)
		}
		switch rest[1] {
		case '%':
			b.WriteByte('%')
			rest = rest[2:]
		case '(':
			end := strings.IndexByte(rest[2:], ')')
			if end <= 0 || 2+end+1 >= len(rest) || rest[2+end+1] != 's' {
				return ip.fail("bad interpolation variable reference %q", rest)
			}
			name := pyLower(rest[2 : 2+end])
			rest = rest[2+end+2:]
			v, ok := ip.find(name)
			if !ok {
				return ip.fail("%%(%s)s: no option %q in section %q or DEFAULT", name, name, ip.section)
			}
			if v == nil {
				return ip.fail("%%(%s)s: option has no value", name)
			}
			if strings.Contains(v.s, "%") {
				if err := ip.some(b, v.s, depth+1); err != nil {
					return err
				}
			} else {
				b.WriteString(v.s)
			}
		default:
			return ip.fail("'%%' must be followed by '%%' or '(', found: %q", rest)
		}
	}
	return nil
}

// mapSectionOptions is SafeConfigParserWithIncludes._map_section_options:
// every %(sec/opt)s in rest that is not an option already gets the raw value
// of opt in section sec ("known": the overridden value, else DEFAULT;
// "default": DEFAULT).
func (ip *interp) mapSectionOptions(rest string) {
	if !strings.Contains(rest, "/") || !strings.Contains(rest, "%(") {
		return
	}
	for i := 0; i+1 < len(rest); i++ {
		sopt, opt, n, ok := sectionOptRef(rest[i:])
		if !ok {
			continue
		}
		i += n - 1
		if _, ok := ip.find(sopt); ok { // `sopt in map`: the key as written
			continue
		}
		sec := sopt[:len(sopt)-len(opt)-1]
		var v *value
		usedef := false
		switch pyLower(sec) {
		case "default":
			usedef = true
		case "known":
			var found bool
			v, found = ip.st.secs["KNOWN/"+ip.section].get(opt)
			usedef = !found
		default:
			s := ip.st.secs[sec]
			if s == nil {
				continue
			}
			var found bool
			v, found = s.get(opt)
			usedef = !found
		}
		if usedef {
			var found bool
			if v, found = ip.st.defaults.get(opt); !found {
				continue
			}
		}
		ip.overlay[sopt] = v
	}
}

// sectionOptRef matches SECTION_OPTSUBST_CRE, `%\(([\w\-]+/([^\)]+))\)s`,
// at the start of s and returns group 1, group 2 and the match length.
func sectionOptRef(s string) (sopt, opt string, n int, ok bool) {
	if !strings.HasPrefix(s, "%(") {
		return "", "", 0, false
	}
	i := 2
	for i < len(s) {
		r, size := decodeRune(s[i:])
		if !pyIsWord(r) && r != '-' {
			break
		}
		i += size
	}
	if i == 2 || i >= len(s) || s[i] != '/' {
		return "", "", 0, false
	}
	j := strings.IndexByte(s[i+1:], ')')
	if j <= 0 {
		return "", "", 0, false
	}
	end := i + 1 + j
	if end+1 >= len(s) || s[end+1] != 's' {
		return "", "", 0, false
	}
	return s[2:end], s[i+1 : end], end + 2, true
}
