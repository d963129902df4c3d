package filter

import (
	"fmt"
	"regexp"
	"strings"
)

// Fail2Ban runs Python's re on str, where \s, \S, \d and \w are Unicode-aware;
// Go's are ASCII-only. These classes give Go Python 3.11's meaning:
// \s is exactly str.isspace(), \d is Unicode category Nd, \w is letters,
// numbers and '_'.
const (
	pyWhite    = `\t\n\v\f\r \x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`
	pySpace    = `[` + pyWhite + `]`
	pyNonSpace = `[^` + pyWhite + `]`
	pyDigit    = `\p{Nd}`
	pyWord     = `[\p{L}\p{N}_]`
)

// f2bAddr is Fail2Ban's <ADDR> (S/failregex.py), which <HOST> reduces to with
// usedns = no, with the one rewrite RE2 needs: the IPv6 alternative's
// "(?<=:):" is a plain ":" because the repeated group before it always ends
// with ':'.
const f2bAddr = `\[?(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})|(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)))\]?`

// pyToRE2 rewrites the Python constructs used by the built-in rules into RE2
// with Python's meaning: \s \S \d \w outside character classes. It panics on
// constructs it does not translate (\D, \W, class shorthands inside [...]),
// so that a rule cannot silently change meaning; every rule is compiled by the
// package's tests.
func pyToRE2(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			e := p[i+1]
			i++
			if inClass {
				if strings.IndexByte("sSdDwW", e) >= 0 {
					panic(fmt.Sprintf("pyToRE2: \\%c inside a class in %q", e, p))
				}
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			switch e {
			case 's':
				b.WriteString(pySpace)
			case 'S':
				b.WriteString(pyNonSpace)
			case 'd':
				b.WriteString(pyDigit)
			case 'w':
				b.WriteString(pyWord)
			case 'D', 'W', 'b', 'B', 'A', 'Z':
				panic(fmt.Sprintf("pyToRE2: untranslated \\%c in %q", e, p))
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// compileRule expands the rule placeholders (<HOST> and the fragments in
// repl), translates the result with pyToRE2 and compiles it.
func compileRule(p string, repl *strings.Replacer) *regexp.Regexp {
	return regexp.MustCompile(pyToRE2(repl.Replace(p)))
}

// groupIndex lists, for each capture-group name, every group number with
// that name (a rule may repeat a name in different alternatives).
type groupIndex map[string][]int

func indexGroups(re *regexp.Regexp) groupIndex {
	g := groupIndex{}
	for i, n := range re.SubexpNames() {
		if n != "" {
			g[n] = append(g[n], i)
		}
	}
	return g
}

// span returns the first participating group among nums in the match loc.
func span(loc []int, nums []int) (start, end int, ok bool) {
	for _, n := range nums {
		if s := loc[2*n]; s >= 0 {
			return s, loc[2*n+1], true
		}
	}
	return 0, 0, false
}
