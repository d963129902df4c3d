package pyre

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Python 3.11 matches str patterns with Unicode classes:
//
//   - \s is str.isspace(): the characters below.
//   - \d is str.isdecimal(): Unicode category Nd.
//   - \w is str.isalnum() or '_': categories L* and N* (Nd, Nl, No) and '_'.
//   - \b is the boundary between a \w and a non-\w character (or an end).
//
// Go's RE2 shorthands are ASCII-only, so the emitters spell these out.
// The tables come from Go's unicode package; they can differ from Python
// 3.11's (Unicode 14) only for characters assigned in later Unicode
// versions (see TestUnicodeClassesMatchPython).
const (
	pyWhiteRE2 = `\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`
	pyWordRE2  = `\p{L}\p{N}_`
	pyDigitRE2 = `\p{Nd}`

	asciiWhiteRE2 = `\t-\r\x1c-\x20`
	asciiWordRE2  = `0-9A-Z_a-z`
	asciiDigitRE2 = `0-9`
)

// pyWhite lists Python's Unicode whitespace (str.isspace()).
var pyWhite = []rng{{0x09, 0x0d}, {0x1c, 0x20}, {0x85, 0x85}, {0xa0, 0xa0}, {0x1680, 0x1680},
	{0x2000, 0x200a}, {0x2028, 0x2029}, {0x202f, 0x202f}, {0x205f, 0x205f}, {0x3000, 0x3000}}

var asciiWhite = []rng{{0x09, 0x0d}, {0x1c, 0x20}}

// IsWord reports whether Python's \w (str pattern, Unicode) matches r:
// str.isalnum() or '_' (categories L* and N*).
func IsWord(r rune) bool {
	if r < 0x80 {
		return r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// IsAlnum reports whether Python's str.isalnum() is true for r.
func IsAlnum(r rune) bool { return r != '_' && IsWord(r) }

// IsDigit reports whether Python's \d (str pattern) matches r: a Unicode
// decimal digit (str.isdecimal()).
func IsDigit(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.Is(unicode.Nd, r)
}

// IsSpace reports whether Python's \s (str pattern) matches r
// (str.isspace()).
func IsSpace(r rune) bool {
	if r < 0x80 {
		return r >= 0x09 && r <= 0x0d || r >= 0x1c && r <= 0x20
	}
	for _, x := range pyWhite {
		if r >= x.lo && r <= x.hi {
			return true
		}
	}
	return false
}

// rng is an inclusive rune range.
type rng struct{ lo, hi rune }

// rangeSet is a sorted list of non-overlapping, non-adjacent ranges.
type rangeSet []rng

func normalize(rs []rng) rangeSet {
	if len(rs) == 0 {
		return nil
	}
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b rng) int { return int(a.lo - b.lo) })
	out := rangeSet{s[0]}
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi+1 {
			if r.hi > last.hi {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func (s rangeSet) complement() rangeSet {
	var out rangeSet
	next := rune(0)
	for _, r := range s {
		if r.lo > next {
			out = append(out, rng{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, rng{next, unicode.MaxRune})
	}
	return out
}

func (s rangeSet) contains(r rune) bool {
	i, found := slices.BinarySearchFunc(s, r, func(x rng, r rune) int {
		switch {
		case x.hi < r:
			return -1
		case x.lo > r:
			return 1
		}
		return 0
	})
	_ = i
	return found
}

func tableRanges(tabs ...*unicode.RangeTable) []rng {
	var out []rng
	for _, t := range tabs {
		for _, r := range t.R16 {
			if r.Stride == 1 {
				out = append(out, rng{rune(r.Lo), rune(r.Hi)})
				continue
			}
			for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
				out = append(out, rng{c, c})
			}
		}
		for _, r := range t.R32 {
			if r.Stride == 1 {
				out = append(out, rng{rune(r.Lo), rune(r.Hi)})
				continue
			}
			for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
				out = append(out, rng{c, c})
			}
		}
	}
	return out
}

var (
	uniOnce                 sync.Once
	uniWord, uniDigit, uniS rangeSet
)

func uniTables() {
	uniOnce.Do(func() {
		uniWord = normalize(append(tableRanges(unicode.L, unicode.N), rng{'_', '_'}))
		uniDigit = normalize(tableRanges(unicode.Nd))
		uniS = normalize(pyWhite)
	})
}

// itemSet returns the set of runes a class item matches.
func itemSet(it classItem, ascii bool) rangeSet {
	uniTables()
	switch it.kind {
	case ciRange:
		return rangeSet{{it.lo, it.hi}}
	case ciDigit, ciNotDigit:
		s := uniDigit
		if ascii {
			s = rangeSet{{'0', '9'}}
		}
		if it.kind == ciNotDigit {
			return s.complement()
		}
		return s
	case ciSpace, ciNotSpace:
		s := uniS
		if ascii {
			s = normalize(asciiWhite)
		}
		if it.kind == ciNotSpace {
			return s.complement()
		}
		return s
	default:
		s := uniWord
		if ascii {
			s = normalize([]rng{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}})
		}
		if it.kind == ciNotWord {
			return s.complement()
		}
		return s
	}
}

// set computes the exact rune set of a class (before case folding).
func (c *pyClass) set(ascii bool) rangeSet {
	var all []rng
	for _, it := range c.items {
		all = append(all, itemSet(it, ascii)...)
	}
	s := normalize(all)
	if c.neg {
		return s.complement()
	}
	return s
}

// classBody returns the text between '[' and ']' for class c in RE2 or
// .NET syntax (both accept \p{..} and \x{..} inside sets), and whether the
// set must be negated.
func (c *pyClass) classBody(ascii bool) (body string, neg bool) {
	simple := true
	for _, it := range c.items {
		switch it.kind {
		case ciNotDigit, ciNotSpace, ciNotWord:
			simple = false
		}
	}
	if !simple {
		if len(c.items) == 1 {
			// \S, \W, \D alone: the complement of the positive class.
			pos := &pyClass{items: []classItem{{kind: it0pos(c.items[0].kind)}}}
			b, _ := pos.classBody(ascii)
			return b, !c.neg
		}
		return rangesBody(c.set(ascii)), false
	}
	var b strings.Builder
	for _, it := range c.items {
		switch it.kind {
		case ciRange:
			b.WriteString(classRune(it.lo))
			if it.hi != it.lo {
				b.WriteByte('-')
				b.WriteString(classRune(it.hi))
			}
		case ciDigit:
			b.WriteString(pick(ascii, asciiDigitRE2, pyDigitRE2))
		case ciSpace:
			b.WriteString(pick(ascii, asciiWhiteRE2, pyWhiteRE2))
		case ciWord:
			b.WriteString(pick(ascii, asciiWordRE2, pyWordRE2))
		}
	}
	return b.String(), c.neg
}

func it0pos(k uint8) uint8 {
	switch k {
	case ciNotDigit:
		return ciDigit
	case ciNotSpace:
		return ciSpace
	}
	return ciWord
}

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

func rangesBody(s rangeSet) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(classRune(r.lo))
		if r.hi != r.lo {
			b.WriteByte('-')
			b.WriteString(classRune(r.hi))
		}
	}
	return b.String()
}

// classRune writes one rune for use inside [...] in RE2 or .NET syntax.
func classRune(r rune) string {
	switch {
	case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		return string(r)
	case r < 0x80 && r > 0x20 && r != 0x7f:
		return `\` + string(r)
	}
	return `\x{` + strconv.FormatInt(int64(r), 16) + `}`
}

// litRune writes one rune outside a set in RE2 or .NET syntax.
func litRune(r rune) string {
	switch {
	case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == ' ', r == '_':
		return string(r)
	case r == '#':
		// literal '#' is fine in both (no x flag is ever emitted)
		return "#"
	case r < 0x80 && r > 0x20 && r != 0x7f:
		return `\` + string(r)
	case r >= 0x80 && unicode.IsPrint(r):
		return string(r)
	}
	return `\x{` + strconv.FormatInt(int64(r), 16) + `}`
}
