package fail2ban

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ExtractOptions splits a filter or action spec such as
// `sshd[mode=aggressive]` or `name[k=v, k2="v 2"][k3='x']` into its name and
// options, exactly as Fail2Ban's helpers.extractOptions: the name is
// everything before the first "[" (spaces included), values may be quoted
// with " or ' (then they may hold "," and "]"), are stripped, and a repeated
// key keeps its last value. Errors wrap ErrOptionSyntax.
func ExtractOptions(spec string) (name string, opts map[string]string, err error) {
	name, o, err := extractOptions(spec)
	if err != nil {
		return "", nil, err
	}
	opts = make(map[string]string, o.len())
	for _, k := range o.keys {
		opts[k] = o.vals[k].s
	}
	return name, opts, nil
}

// extractOptions is ExtractOptions keeping the options' order (that of
// Python's dict, which Fail2Ban's later steps depend on).
func extractOptions(spec string) (string, *section, error) {
	opts := newSection("")
	i := strings.IndexByte(spec, '[')
	if i < 0 {
		if spec == "" {
			return "", nil, optErr(spec, "unexpected option syntax")
		}
		return spec, opts, nil
	}
	j := strings.LastIndexByte(spec, ']')
	if i == 0 || j < i || pyStrip(spec[j+1:]) != "" {
		return "", nil, optErr(spec, "unexpected option syntax")
	}
	name, s := spec[:i], spec[i+1:j]
	// OPTION_EXTRACT_CRE, iterated like re.finditer
	for p := 0; p < len(s); {
		key, val, end, wrong, ok := optionAt(s, p)
		if ok {
			if wrong >= 0 {
				return "", nil, optErr(spec, "unexpected syntax at %d after option %q: %s", runeIndex(s, wrong), key, clip25(s[wrong:]))
			}
			opts.setString(key, pyStrip(val))
			p = end
			continue
		}
		// `,?\s*$`
		q := p
		if s[q] == ',' {
			q++
		}
		if pyStrip(s[q:]) == "" {
			break
		}
		return "", nil, optErr(spec, "expected option, wrong syntax at %d: %s", runeIndex(s, p), clip25(s[p:]))
	}
	return name, opts, nil
}

// optionAt matches the first alternative of OPTION_EXTRACT_CRE at s[p:]:
// `\s*([\w\-_\.]+)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|$|(?P<wrngA>.+))`.
// wrong is the start of wrngA, or -1.
func optionAt(s string, p int) (key, val string, end, wrong int, ok bool) {
	q := p
	for q < len(s) {
		r, n := utf8.DecodeRuneInString(s[q:])
		if !pyIsSpace(r) {
			break
		}
		q += n
	}
	k0 := q
	for q < len(s) {
		r, n := utf8.DecodeRuneInString(s[q:])
		if !pyIsWord(r) && r != '-' && r != '.' {
			break
		}
		q += n
	}
	if q == k0 || q >= len(s) || s[q] != '=' {
		return "", "", 0, -1, false
	}
	key = s[k0:q]
	q++
	quoted := false
	if q < len(s) && (s[q] == '"' || s[q] == '\'') {
		if c := strings.IndexByte(s[q+1:], s[q]); c >= 0 {
			val = s[q+1 : q+1+c]
			q += c + 2
			quoted = true
		}
	}
	if !quoted {
		c := q
		for c < len(s) && s[c] != ',' && s[c] != ']' {
			c++
		}
		val = s[q:c]
		q = c
	}
	switch {
	case q < len(s) && s[q] == ',':
		return key, val, q + 1, -1, true
	case q < len(s) && s[q] == ']':
		r := q + 1
		for r < len(s) {
			c, n := utf8.DecodeRuneInString(s[r:])
			if !pyIsSpace(c) {
				break
			}
			r += n
		}
		if r < len(s) && s[r] == '[' {
			return key, val, r + 1, -1, true
		}
	case q == len(s) || (q == len(s)-1 && s[q] == '\n'):
		return key, val, q, -1, true
	}
	return key, val, len(s), q, true
}

func optErr(spec, format string, args ...any) error {
	return &Error{Err: ErrOptionSyntax, Detail: fmt.Sprintf("%q: ", spec) + fmt.Sprintf(format, args...)}
}

func runeIndex(s string, byteIdx int) int { return utf8.RuneCountInString(s[:byteIdx]) }

func clip25(s string) string {
	if utf8.RuneCountInString(s) <= 25 {
		return s
	}
	n := 0
	for i := range s {
		if n == 25 {
			return s[:i]
		}
		n++
	}
	return s
}
