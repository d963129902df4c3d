package fail2ban

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// value is one option value with the place its first line came from.
type value struct {
	s    string
	file string
	line int
}

// section is an ordered map of options, like the dicts configparser keeps:
// keys in first-insertion order, a later set keeps the key's place. A nil
// *value stands for Python's None.
type section struct {
	name string
	keys []string
	vals map[string]*value
}

func newSection(name string) *section {
	return &section{name: name, vals: map[string]*value{}}
}

func (s *section) get(k string) (*value, bool) {
	if s == nil {
		return nil, false
	}
	v, ok := s.vals[k]
	return v, ok
}

func (s *section) has(k string) bool {
	_, ok := s.get(k)
	return ok
}

func (s *section) set(k string, v *value) {
	if _, ok := s.vals[k]; !ok {
		s.keys = append(s.keys, k)
	}
	s.vals[k] = v
}

func (s *section) setString(k, v string) { s.set(k, &value{s: v}) }

// update is dict.update.
func (s *section) update(o *section) {
	if o == nil {
		return
	}
	for _, k := range o.keys {
		s.set(k, o.vals[k])
	}
}

func (s *section) clone() *section {
	c := &section{name: s.name, keys: append([]string(nil), s.keys...), vals: make(map[string]*value, len(s.vals))}
	for k, v := range s.vals {
		c.vals[k] = v
	}
	return c
}

func (s *section) len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// mergeDicts is helpers._merge_dicts: {**x, **y}, or x itself when y is empty.
func mergeDicts(x, y *section) *section {
	if y.len() == 0 {
		return x
	}
	r := x.clone()
	r.update(y)
	return r
}

// iniFile is one file as configparser reads it (strict, "=" and ":" as
// delimiters, "#" and ";" full-line comments, ";" inline comments after
// whitespace, lower-cased keys, indented continuation lines).
type iniFile struct {
	path     string
	defaults *section
	sections []*section
	byName   map[string]*section
}

func (f *iniFile) section(name string) *section { return f.byName[name] }

// parseINI reads data the way Python's configparser.ConfigParser (strict,
// inline_comment_prefixes=";", as Fail2Ban builds it) reads a file opened in
// text mode with UTF-8.
func parseINI(path string, data []byte) (*iniFile, error) {
	f := &iniFile{path: path, defaults: newSection("DEFAULT"), byName: map[string]*section{}}
	if !utf8.Valid(data) {
		line := 1 + strings.Count(string(data[:invalidUTF8At(data)]), "\n")
		return nil, &Error{File: path, Line: line, Err: ErrSyntax, Detail: "not valid UTF-8"}
	}
	type pending struct {
		sec  *section
		key  string
		vals []string
	}
	var (
		cur         *section // nil until the first section header
		sectname    string
		opt         *pending // the option continuation lines go to; nil = None
		indentLevel = 0
		added       = map[string]bool{}
		addedOpt    = map[[2]string]bool{}
		all         []*pending
	)
	syntaxErr := func(lineno int, format string, args ...any) error {
		return &Error{File: path, Line: lineno, Err: ErrSyntax, Detail: fmt.Sprintf(format, args...)}
	}
	for i, line := range splitUniversal(string(data)) {
		lineno := i + 1
		commentStart := -1
		// inline comments: ";" at the start or after whitespace
		for from := 0; ; {
			j := strings.IndexByte(line[from:], ';')
			if j < 0 {
				break
			}
			j += from
			if j == 0 {
				commentStart = 0
				break
			}
			if r, _ := utf8.DecodeLastRuneInString(line[:j]); pyIsSpace(r) {
				commentStart = j
				break
			}
			from = j + 1
		}
		// full-line comments
		if t := pyStrip(line); strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
			commentStart = 0
		}
		val := line
		if commentStart >= 0 {
			val = line[:commentStart]
		}
		val = pyStrip(val)
		if val == "" {
			// empty_lines_in_values: an empty line (with no comment) belongs
			// to the value being read
			if commentStart < 0 && cur != nil && opt != nil && opt.key != "" {
				opt.vals = append(opt.vals, "")
			}
			continue
		}
		curIndent := 0
		for _, r := range line {
			if !pyIsSpace(r) {
				break
			}
			curIndent++
		}
		if cur != nil && opt != nil && opt.key != "" && curIndent > indentLevel {
			opt.vals = append(opt.vals, val)
			continue
		}
		indentLevel = curIndent
		if hdr, ok := sectionHeader(val); ok {
			sectname = hdr
			switch {
			case f.byName[hdr] != nil:
				if added[hdr] {
					return nil, syntaxErr(lineno, "section %q already exists", hdr)
				}
				cur = f.byName[hdr]
			case hdr == "DEFAULT":
				cur = f.defaults
			default:
				cur = newSection(hdr)
				f.sections = append(f.sections, cur)
				f.byName[hdr] = cur
				added[hdr] = true
			}
			opt = nil
			continue
		}
		if cur == nil {
			return nil, syntaxErr(lineno, "file contains no section headers: %q", line)
		}
		d := strings.IndexAny(val, "=:")
		if d < 0 {
			return nil, syntaxErr(lineno, "no '=' or ':' in %q", line)
		}
		name := pyLower(pyRStrip(val[:d]))
		if name == "" {
			return nil, syntaxErr(lineno, "no option name in %q", line)
		}
		if addedOpt[[2]string{sectname, name}] {
			return nil, syntaxErr(lineno, "option %q in section %q already exists", name, sectname)
		}
		addedOpt[[2]string{sectname, name}] = true
		opt = &pending{sec: cur, key: name, vals: []string{pyStrip(val[d+1:])}}
		all = append(all, opt)
		cur.set(name, &value{file: path, line: lineno})
	}
	// _join_multiline_values
	for _, p := range all {
		p.sec.vals[p.key].s = pyRStrip(strings.Join(p.vals, "\n"))
	}
	return f, nil
}

// sectionHeader matches configparser's SECTCRE, `\[(?P<header>.+)\]`,
// anchored at the start of the stripped line.
func sectionHeader(s string) (string, bool) {
	if !strings.HasPrefix(s, "[") {
		return "", false
	}
	j := strings.LastIndexByte(s, ']')
	if j < 2 {
		return "", false
	}
	return s[1:j], true
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
