package pyre

import "unicode"

type catKind uint8

const (
	catDigit catKind = iota
	catNotDigit
	catSpace
	catNotSpace
	catWord
	catNotWord
)

func catOf(c rune) catKind {
	switch c {
	case 'd':
		return catDigit
	case 'D':
		return catNotDigit
	case 's':
		return catSpace
	case 'S':
		return catNotSpace
	case 'w':
		return catWord
	}
	return catNotWord
}

type runeRange struct{ lo, hi rune }

// charClass is a bracket expression or a category escape. Membership of
// ASCII code points is precomputed (with case folding and negation) into
// ascii; others are decided by member.
type charClass struct {
	neg    bool
	ranges []runeRange
	cats   []catKind
	fold   bool // IGNORECASE in force
	asc    bool // ASCII flag in force: categories are ASCII-only
	ascii  [2]uint64
}

// IsWord reports whether Python's \w (str pattern, Unicode) matches r:
// letters, numbers and the underscore.
func IsWord(r rune) bool {
	if r < 0x80 {
		return asciiWord[r]
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// IsAlnum reports whether Python's str.isalnum() is true for r.
func IsAlnum(r rune) bool {
	if r < 0x80 {
		return asciiWord[r] && r != '_'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// IsDigit reports whether Python's \d (str pattern) matches r: a Unicode
// decimal digit.
func IsDigit(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.IsDigit(r)
}

// IsSpace reports whether Python's \s (str pattern) matches r.
func IsSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || r >= '\t' && r <= '\r' || r >= 0x1c && r <= 0x1f
	}
	return unicode.IsSpace(r)
}

var asciiWord = func() (t [128]bool) {
	for c := 0; c < 128; c++ {
		t[c] = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
	}
	return
}()

func isWordFlag(r rune, ascii bool) bool {
	if ascii {
		return r < 0x80 && asciiWord[r]
	}
	return IsWord(r)
}

func (k catKind) has(r rune, ascii bool) bool {
	switch k {
	case catDigit, catNotDigit:
		var in bool
		if ascii {
			in = r >= '0' && r <= '9'
		} else {
			in = IsDigit(r)
		}
		return in == (k == catDigit)
	case catSpace, catNotSpace:
		var in bool
		if ascii {
			in = r == ' ' || r >= '\t' && r <= '\r'
		} else {
			in = IsSpace(r)
		}
		return in == (k == catSpace)
	}
	return isWordFlag(r, ascii) == (k == catWord)
}

// contains reports raw membership, before folding and negation.
func (c *charClass) contains(r rune) bool {
	for _, rg := range c.ranges {
		if r >= rg.lo && r <= rg.hi {
			return true
		}
	}
	for _, k := range c.cats {
		if k.has(r, c.asc) {
			return true
		}
	}
	return false
}

// member decides membership for any code point.
func (c *charClass) member(r rune) bool {
	if r >= 0 && r < 0x80 {
		return c.ascii[r>>6]&(1<<(uint(r)&63)) != 0
	}
	return c.slowMember(r)
}

func (c *charClass) slowMember(r rune) bool {
	in := c.contains(r)
	if !in && c.fold {
		for _, v := range foldVariants(r) {
			if c.contains(v) {
				in = true
				break
			}
		}
	}
	return in != c.neg
}

func (c *charClass) finish(flags int) {
	c.fold = flags&flagI != 0
	c.asc = flags&flagA != 0
	for r := rune(0); r < 0x80; r++ {
		if c.slowMember(r) {
			c.ascii[r>>6] |= 1 << (uint(r) & 63)
		}
	}
}

// foldVariants lists the code points Python's IGNORECASE matching treats
// as equal to r (other than r): its simple lower and upper case, the
// members of its case-folding orbit, and the few non-ASCII characters that
// match ASCII letters (İ ı for i, K for k, ſ for s).
func foldVariants(r rune) []rune {
	var out []rune
	add := func(v rune) {
		if v == r {
			return
		}
		for _, o := range out {
			if o == v {
				return
			}
		}
		out = append(out, v)
	}
	add(unicode.ToLower(r))
	add(unicode.ToUpper(r))
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		add(f)
	}
	l := unicode.ToLower(r)
	switch l {
	case 'i', 0x131:
		add('i')
		add('I')
		add(0x130)
		add(0x131)
	case 'k':
		add('k')
		add('K')
		add(0x212a)
	case 's', 0x17f:
		add('s')
		add('S')
		add(0x17f)
	}
	if r == 0x130 {
		add('i')
		add('I')
		add(0x131)
	}
	return out
}

// foldEqual reports whether c matches the literal p under IGNORECASE.
func foldEqual(c, p rune) bool {
	if c == p {
		return true
	}
	if unicode.ToLower(c) == unicode.ToLower(p) {
		return true
	}
	for _, v := range foldVariants(p) {
		if v == c {
			return true
		}
	}
	return false
}
