package pyre

import (
	"fmt"
	"strconv"
	"unicode"
)

// Error is a pattern Python's re module would refuse (or one this engine
// does not support), with the position in code points as Python reports it.
type Error struct {
	Msg     string
	Pattern string
	Pos     int
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s at position %d in %q", e.Msg, e.Pos, e.Pattern)
}

// Flags, as in Python's re module.
const (
	flagI = 1 << iota // IGNORECASE
	flagM             // MULTILINE
	flagS             // DOTALL
	flagX             // VERBOSE
	flagA             // ASCII
	flagU             // UNICODE (the default for str patterns)
	flagL             // LOCALE (refused for str patterns)
)

var flagChars = map[rune]int{'i': flagI, 'm': flagM, 's': flagS, 'x': flagX, 'a': flagA, 'u': flagU, 'L': flagL}

const typeFlags = flagA | flagU | flagL

type nodeKind uint8

const (
	nEmpty   nodeKind = iota
	nLit              // one code point
	nClass            // character class (also \d, \w, ... outside brackets)
	nAny              // .
	nCat              // concatenation
	nAlt              // alternation, in priority order
	nRepeat           // quantifier
	nGroup            // capturing group
	nBackref          // (?P=name), \1
	nAssert           // ^ $ \A \Z \b \B
	nLook             // lookahead / lookbehind
	nAtomic           // (?>...) and possessive quantifiers
	nCond             // (?(group)yes|no)
)

type assertKind uint8

const (
	aBOL      assertKind = iota // ^
	aEOL                        // $
	aBOT                        // \A
	aEOT                        // \Z
	aWordB                      // \b
	aNotWordB                   // \B
)

type node struct {
	kind     nodeKind
	r        rune
	flags    int // flags in force where the node was parsed
	cls      *charClass
	subs     []*node
	min, max int // max < 0: unbounded
	lazy     bool
	poss     bool
	group    int
	behind   bool
	neg      bool
	akind    assertKind
}

type parser struct {
	pattern    string
	src        []rune
	pos        int
	flags      int // global flags
	groups     int // groups opened so far; the next group is groups+1
	names      map[string]int
	groupNames []string // by index; [0] unused
	closed     map[int]bool
	lookbehind int // groups count when the innermost lookbehind began; -1 outside
	condRefs   map[int]int
}

func (p *parser) errorf(off int, format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Pattern: p.pattern, Pos: p.pos - off}
}

func (p *parser) peek() (rune, bool) {
	if p.pos < len(p.src) {
		return p.src[p.pos], true
	}
	return 0, false
}

func (p *parser) match(c rune) bool {
	if p.pos < len(p.src) && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func parse(pattern string) (*node, *parser, error) {
	p := &parser{
		pattern:    pattern,
		src:        []rune(pattern),
		names:      map[string]int{},
		groupNames: []string{""},
		closed:     map[int]bool{},
		lookbehind: -1,
		condRefs:   map[int]int{},
	}
	n, err := p.parseSub(0, 0)
	if err != nil {
		return nil, nil, err
	}
	if p.pos < len(p.src) {
		return nil, nil, p.errorf(0, "unbalanced parenthesis")
	}
	for g, pos := range p.condRefs {
		if g > p.groups {
			return nil, nil, &Error{Msg: fmt.Sprintf("invalid group reference %d", g), Pattern: pattern, Pos: pos}
		}
	}
	if p.flags&flagL != 0 {
		return nil, nil, &Error{Msg: "cannot use LOCALE flag with a str pattern", Pattern: pattern}
	}
	return n, p, nil
}

// parseSub parses an alternation a|b|c.
func (p *parser) parseSub(flags int, nested int) (*node, error) {
	var items []*node
	for {
		first := nested == 0 && len(items) == 0
		n, err := p.parseSeq(&flags, nested+1, first)
		if err != nil {
			return nil, err
		}
		items = append(items, n)
		if !p.match('|') {
			break
		}
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return &node{kind: nAlt, subs: items}, nil
}

const specialChars = ".\\[{()*+?^$|"

func isPyWhitespace(c rune) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// parseSeq parses a sequence up to '|' or ')'. flags points at the flags in
// force; a global flag group at the very start of the pattern changes them.
func (p *parser) parseSeq(flags *int, nested int, first bool) (*node, error) {
	var items []*node
	for {
		c, ok := p.peek()
		if !ok || c == '|' || c == ')' {
			break
		}
		start := p.pos
		p.pos++
		if *flags&flagX != 0 {
			if isPyWhitespace(c) {
				continue
			}
			if c == '#' {
				for p.pos < len(p.src) {
					p.pos++
					if p.src[p.pos-1] == '\n' {
						break
					}
				}
				continue
			}
		}
		fl := *flags
		switch {
		case c == '\\':
			n, err := p.parseEscape(fl)
			if err != nil {
				return nil, err
			}
			items = append(items, n)
		case c == '[':
			n, err := p.parseClass(fl, start)
			if err != nil {
				return nil, err
			}
			items = append(items, n)
		case c == '*' || c == '+' || c == '?' || c == '{':
			lo, hi := 0, -1
			switch c {
			case '?':
				hi = 1
			case '+':
				lo = 1
			case '{':
				if n, ok := p.peek(); ok && n == '}' {
					items = append(items, &node{kind: nLit, r: '{', flags: fl})
					continue
				}
				here := p.pos
				var los, his string
				for p.pos < len(p.src) && isASCIIDigit(p.src[p.pos]) {
					los += string(p.src[p.pos])
					p.pos++
				}
				if p.match(',') {
					for p.pos < len(p.src) && isASCIIDigit(p.src[p.pos]) {
						his += string(p.src[p.pos])
						p.pos++
					}
				} else {
					his = los
				}
				if !p.match('}') {
					items = append(items, &node{kind: nLit, r: '{', flags: fl})
					p.pos = here
					continue
				}
				if los != "" {
					v, err := strconv.Atoi(los)
					if err != nil || v >= maxRepeat {
						return nil, p.errorf(0, "the repetition number is too large")
					}
					lo = v
				}
				if his != "" {
					v, err := strconv.Atoi(his)
					if err != nil || v >= maxRepeat {
						return nil, p.errorf(0, "the repetition number is too large")
					}
					hi = v
					if hi < lo {
						return nil, p.errorf(p.pos-here, "min repeat greater than max repeat")
					}
				}
			}
			if len(items) == 0 || items[len(items)-1].kind == nAssert {
				return nil, p.errorf(p.pos-start, "nothing to repeat")
			}
			last := items[len(items)-1]
			if last.kind == nRepeat {
				return nil, p.errorf(p.pos-start, "multiple repeat")
			}
			rep := &node{kind: nRepeat, min: lo, max: hi, subs: []*node{last}, flags: fl}
			if p.match('?') {
				rep.lazy = true
			} else if p.match('+') {
				rep.poss = true
			}
			items[len(items)-1] = rep
		case c == '.':
			items = append(items, &node{kind: nAny, flags: fl})
		case c == '(':
			n, global, err := p.parseGroup(flags, fl, nested, first && len(items) == 0, start)
			if err != nil {
				return nil, err
			}
			if global {
				continue
			}
			if n != nil {
				items = append(items, n)
			}
		case c == '^':
			items = append(items, &node{kind: nAssert, akind: aBOL, flags: fl})
		case c == '$':
			items = append(items, &node{kind: nAssert, akind: aEOL, flags: fl})
		default:
			items = append(items, &node{kind: nLit, r: c, flags: fl})
		}
	}
	switch len(items) {
	case 0:
		return &node{kind: nEmpty}, nil
	case 1:
		return items[0], nil
	}
	return &node{kind: nCat, subs: items}, nil
}

// maxRepeat is Python's MAXREPEAT bound for explicit counts; the engine
// itself refuses programs that would be too large long before.
const maxRepeat = 1 << 32

func isASCIIDigit(c rune) bool { return c >= '0' && c <= '9' }

func (p *parser) parseGroup(flags *int, fl int, nested int, first bool, start int) (n *node, global bool, err error) {
	capture := true
	atomic := false
	name := ""
	addFlags, delFlags := 0, 0
	if p.match('?') {
		c, ok := p.peek()
		if !ok {
			return nil, false, p.errorf(0, "unexpected end of pattern")
		}
		p.pos++
		switch {
		case c == 'P':
			if p.match('<') {
				name, err = p.getUntil('>', "group name")
				if err != nil {
					return nil, false, err
				}
				if !isIdentifier(name) {
					return nil, false, p.errorf(len([]rune(name))+1, "bad character in group name %q", name)
				}
			} else if p.match('=') {
				name, err = p.getUntil(')', "group name")
				if err != nil {
					return nil, false, err
				}
				if !isIdentifier(name) {
					return nil, false, p.errorf(len([]rune(name))+1, "bad character in group name %q", name)
				}
				gid, ok := p.names[name]
				if !ok {
					return nil, false, p.errorf(len([]rune(name))+1, "unknown group name %q", name)
				}
				if !p.closed[gid] {
					return nil, false, p.errorf(len([]rune(name))+1, "cannot refer to an open group")
				}
				if err := p.checkLookbehindGroup(gid); err != nil {
					return nil, false, err
				}
				return &node{kind: nBackref, group: gid, flags: fl}, false, nil
			} else {
				c, ok := p.peek()
				if !ok {
					return nil, false, p.errorf(0, "unexpected end of pattern")
				}
				return nil, false, p.errorf(0, "unknown extension ?P%c", c)
			}
		case c == ':':
			capture = false
		case c == '#':
			for {
				c, ok := p.peek()
				if !ok {
					return nil, false, p.errorf(p.pos-start, "missing ), unterminated comment")
				}
				p.pos++
				if c == ')' {
					return nil, false, nil
				}
			}
		case c == '=' || c == '!' || c == '<':
			behind := false
			if c == '<' {
				c2, ok := p.peek()
				if !ok {
					return nil, false, p.errorf(0, "unexpected end of pattern")
				}
				p.pos++
				if c2 != '=' && c2 != '!' {
					return nil, false, p.errorf(2, "unknown extension ?<%c", c2)
				}
				c = c2
				behind = true
			}
			saved := p.lookbehind
			if behind && p.lookbehind < 0 {
				p.lookbehind = p.groups
			}
			sub, err := p.parseSub(fl, nested+1)
			if err != nil {
				return nil, false, err
			}
			if behind {
				p.lookbehind = saved
			}
			if !p.match(')') {
				return nil, false, p.errorf(p.pos-start, "missing ), unterminated subpattern")
			}
			return &node{kind: nLook, behind: behind, neg: c == '!', subs: []*node{sub}, flags: fl}, false, nil
		case c == '(':
			condname, err := p.getUntil(')', "group name")
			if err != nil {
				return nil, false, err
			}
			var gid int
			if isIdentifier(condname) {
				g, ok := p.names[condname]
				if !ok {
					return nil, false, p.errorf(len([]rune(condname))+1, "unknown group name %q", condname)
				}
				gid = g
			} else {
				v, err := strconv.Atoi(condname)
				if err != nil || v < 0 {
					return nil, false, p.errorf(len([]rune(condname))+1, "bad character in group name %q", condname)
				}
				if v == 0 {
					return nil, false, p.errorf(len([]rune(condname))+1, "bad group number")
				}
				gid = v
				if _, ok := p.condRefs[gid]; !ok {
					p.condRefs[gid] = p.pos - len([]rune(condname)) - 1
				}
			}
			if err := p.checkLookbehindGroup(gid); err != nil {
				return nil, false, err
			}
			f2 := fl
			yes, err := p.parseSeq(&f2, nested+1, false)
			if err != nil {
				return nil, false, err
			}
			var no *node
			if p.match('|') {
				no, err = p.parseSeq(&f2, nested+1, false)
				if err != nil {
					return nil, false, err
				}
				if c, ok := p.peek(); ok && c == '|' {
					return nil, false, p.errorf(0, "conditional backref with more than two branches")
				}
			} else {
				no = &node{kind: nEmpty}
			}
			if !p.match(')') {
				return nil, false, p.errorf(p.pos-start, "missing ), unterminated subpattern")
			}
			return &node{kind: nCond, group: gid, subs: []*node{yes, no}, flags: fl}, false, nil
		case c == '>':
			capture = false
			atomic = true
		case flagChars[c] != 0 || c == '-':
			add, del, isGlobal, err := p.parseFlags(c)
			if err != nil {
				return nil, false, err
			}
			if isGlobal {
				if !first {
					return nil, false, p.errorf(p.pos-start, "global flags not at the start of the expression")
				}
				p.flags |= add
				*flags |= add
				return nil, true, nil
			}
			addFlags, delFlags = add, del
			capture = false
		default:
			return nil, false, p.errorf(1, "unknown extension ?%c", c)
		}
	}
	gid := -1
	if capture {
		p.groups++
		gid = p.groups
		if name != "" {
			if _, dup := p.names[name]; dup {
				return nil, false, p.errorf(len([]rune(name))+1, "redefinition of group name %q as group %d; was group %d", name, gid, p.names[name])
			}
			p.names[name] = gid
		}
		p.groupNames = append(p.groupNames, name)
	}
	inner := (fl | addFlags) &^ delFlags
	sub, err := p.parseSub(inner, nested+1)
	if err != nil {
		return nil, false, err
	}
	if !p.match(')') {
		return nil, false, p.errorf(p.pos-start, "missing ), unterminated subpattern")
	}
	if capture {
		p.closed[gid] = true
		return &node{kind: nGroup, group: gid, subs: []*node{sub}, flags: fl}, false, nil
	}
	if atomic {
		return &node{kind: nAtomic, subs: []*node{sub}, flags: fl}, false, nil
	}
	// Keep the group visible to quantifiers: "(?:a*)*" and "(?:$)?" are
	// allowed where "a**" and "$?" are not.
	return &node{kind: nCat, subs: []*node{sub}}, false, nil
}

func (p *parser) checkLookbehindGroup(gid int) error {
	if p.lookbehind >= 0 && gid > p.lookbehind {
		return p.errorf(0, "cannot refer to group defined in the same lookbehind subpattern")
	}
	return nil
}

func (p *parser) parseFlags(c rune) (add, del int, global bool, err error) {
	if c != '-' {
		for {
			f := flagChars[c]
			if c == 'L' {
				return 0, 0, false, p.errorf(0, "bad inline flags: cannot use 'L' flag with a str pattern")
			}
			add |= f
			if f&typeFlags != 0 && add&typeFlags != f {
				return 0, 0, false, p.errorf(0, "bad inline flags: flags 'a', 'u' and 'L' are incompatible")
			}
			nc, ok := p.peek()
			if !ok {
				return 0, 0, false, p.errorf(0, "missing -, : or )")
			}
			p.pos++
			c = nc
			if c == ')' || c == '-' || c == ':' {
				break
			}
			if flagChars[c] == 0 {
				if unicode.IsLetter(c) {
					return 0, 0, false, p.errorf(1, "unknown flag")
				}
				return 0, 0, false, p.errorf(1, "missing -, : or )")
			}
		}
	}
	if c == ')' {
		return add, 0, true, nil
	}
	if c == '-' {
		nc, ok := p.peek()
		if !ok {
			return 0, 0, false, p.errorf(0, "missing flag")
		}
		p.pos++
		c = nc
		if flagChars[c] == 0 {
			if unicode.IsLetter(c) {
				return 0, 0, false, p.errorf(1, "unknown flag")
			}
			return 0, 0, false, p.errorf(1, "missing flag")
		}
		for {
			f := flagChars[c]
			if f&typeFlags != 0 {
				return 0, 0, false, p.errorf(0, "bad inline flags: cannot turn off flags 'a', 'u' and 'L'")
			}
			del |= f
			nc, ok := p.peek()
			if !ok {
				return 0, 0, false, p.errorf(0, "missing :")
			}
			p.pos++
			c = nc
			if c == ':' {
				break
			}
			if flagChars[c] == 0 {
				if unicode.IsLetter(c) {
					return 0, 0, false, p.errorf(1, "unknown flag")
				}
				return 0, 0, false, p.errorf(1, "missing :")
			}
		}
	}
	if add&del != 0 {
		return 0, 0, false, p.errorf(1, "bad inline flags: flag turned on and off")
	}
	return add, del, false, nil
}

func (p *parser) getUntil(term rune, what string) (string, error) {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		if c == term {
			if p.pos-1 == start {
				return "", p.errorf(1, "missing %s", what)
			}
			return string(p.src[start : p.pos-1]), nil
		}
	}
	if p.pos == start {
		return "", p.errorf(0, "missing %s", what)
	}
	return "", p.errorf(p.pos-start, "missing %c, unterminated name", term)
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || unicode.IsLetter(c) || unicode.Is(unicode.Nl, c) {
			continue
		}
		if i > 0 && (unicode.IsDigit(c) || unicode.Is(unicode.Mn, c) || unicode.Is(unicode.Mc, c) || unicode.Is(unicode.Pc, c)) {
			continue
		}
		return false
	}
	return true
}

func isHex(c rune) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isOct(c rune) bool { return c >= '0' && c <= '7' }

func isASCIILetter(c rune) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

var simpleEscapes = map[rune]rune{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', '\\': '\\'}

// readHex reads exactly n hex digits after an escape letter.
func (p *parser) readHex(n int, esc string) (rune, error) {
	v := rune(0)
	got := 0
	for got < n && p.pos < len(p.src) && isHex(p.src[p.pos]) {
		d, _ := strconv.ParseUint(string(p.src[p.pos]), 16, 8)
		v = v*16 + rune(d)
		p.pos++
		got++
	}
	if got != n {
		return 0, p.errorf(got+2, "incomplete escape %s", esc)
	}
	if v > unicode.MaxRune {
		return 0, p.errorf(n+2, "bad escape %s", esc)
	}
	return v, nil
}

// parseEscape parses an escape outside a class; the backslash is consumed.
func (p *parser) parseEscape(fl int) (*node, error) {
	c, ok := p.peek()
	if !ok {
		return nil, p.errorf(1, "bad escape (end of pattern)")
	}
	p.pos++
	switch c {
	case 'A':
		return &node{kind: nAssert, akind: aBOT, flags: fl}, nil
	case 'Z':
		return &node{kind: nAssert, akind: aEOT, flags: fl}, nil
	case 'b':
		return &node{kind: nAssert, akind: aWordB, flags: fl}, nil
	case 'B':
		return &node{kind: nAssert, akind: aNotWordB, flags: fl}, nil
	case 'd', 'D', 's', 'S', 'w', 'W':
		cls := &charClass{}
		cls.cats = append(cls.cats, catOf(c))
		return &node{kind: nClass, cls: cls, flags: fl}, nil
	}
	if r, ok := simpleEscapes[c]; ok {
		return &node{kind: nLit, r: r, flags: fl}, nil
	}
	switch {
	case c == 'x':
		r, err := p.readHex(2, `\x`)
		if err != nil {
			return nil, err
		}
		return &node{kind: nLit, r: r, flags: fl}, nil
	case c == 'u':
		r, err := p.readHex(4, `\u`)
		if err != nil {
			return nil, err
		}
		return &node{kind: nLit, r: r, flags: fl}, nil
	case c == 'U':
		r, err := p.readHex(8, `\U`)
		if err != nil {
			return nil, err
		}
		return &node{kind: nLit, r: r, flags: fl}, nil
	case c == 'N':
		return nil, p.errorf(2, `\N{...} escapes are not supported`)
	case c == '0':
		v := rune(0)
		for i := 0; i < 2 && p.pos < len(p.src) && isOct(p.src[p.pos]); i++ {
			v = v*8 + p.src[p.pos] - '0'
			p.pos++
		}
		return &node{kind: nLit, r: v, flags: fl}, nil
	case c >= '1' && c <= '9':
		digits := string(c)
		if n, ok := p.peek(); ok && isASCIIDigit(n) {
			p.pos++
			digits += string(n)
			if isOct(rune(digits[0])) && isOct(rune(digits[1])) {
				if n2, ok := p.peek(); ok && isOct(n2) {
					p.pos++
					v, _ := strconv.ParseInt(digits+string(n2), 8, 32)
					if v > 0o377 {
						return nil, p.errorf(4, "octal escape value \\%s outside of range 0-0o377", digits+string(n2))
					}
					return &node{kind: nLit, r: rune(v), flags: fl}, nil
				}
			}
		}
		g, _ := strconv.Atoi(digits)
		if g <= p.groups {
			if !p.closed[g] {
				return nil, p.errorf(len(digits)+1, "cannot refer to an open group")
			}
			if err := p.checkLookbehindGroup(g); err != nil {
				return nil, err
			}
			return &node{kind: nBackref, group: g, flags: fl}, nil
		}
		return nil, p.errorf(len(digits), "invalid group reference %d", g)
	}
	if c < 128 && isASCIILetter(c) || c >= '0' && c <= '9' {
		return nil, p.errorf(2, "bad escape \\%c", c)
	}
	return &node{kind: nLit, r: c, flags: fl}, nil
}

// classEscape parses an escape inside [...]; the backslash is consumed.
// It returns a literal rune, or a category.
func (p *parser) classEscape() (r rune, cat catKind, isCat bool, err error) {
	c, ok := p.peek()
	if !ok {
		return 0, 0, false, p.errorf(1, "bad escape (end of pattern)")
	}
	p.pos++
	if r, ok := simpleEscapes[c]; ok {
		return r, 0, false, nil
	}
	switch c {
	case 'd', 'D', 's', 'S', 'w', 'W':
		return 0, catOf(c), true, nil
	case 'x':
		r, err := p.readHex(2, `\x`)
		return r, 0, false, err
	case 'u':
		r, err := p.readHex(4, `\u`)
		return r, 0, false, err
	case 'U':
		r, err := p.readHex(8, `\U`)
		return r, 0, false, err
	case 'N':
		return 0, 0, false, p.errorf(2, `\N{...} escapes are not supported`)
	}
	if isOct(c) {
		v := c - '0'
		for i := 0; i < 2 && p.pos < len(p.src) && isOct(p.src[p.pos]); i++ {
			v = v*8 + p.src[p.pos] - '0'
			p.pos++
		}
		if v > 0o377 {
			return 0, 0, false, p.errorf(0, "octal escape value outside of range 0-0o377")
		}
		return v, 0, false, nil
	}
	if c < 128 && (isASCIILetter(c) || isASCIIDigit(c)) {
		return 0, 0, false, p.errorf(2, "bad escape \\%c", c)
	}
	return c, 0, false, nil
}

func (p *parser) parseClass(fl int, start int) (*node, error) {
	cls := &charClass{}
	cls.neg = p.match('^')
	items := 0
	for {
		c, ok := p.peek()
		if !ok {
			return nil, p.errorf(p.pos-start, "unterminated character set")
		}
		p.pos++
		if c == ']' && items > 0 {
			break
		}
		var lo rune
		var loCat catKind
		loIsCat := false
		if c == '\\' {
			r, cat, isCat, err := p.classEscape()
			if err != nil {
				return nil, err
			}
			lo, loCat, loIsCat = r, cat, isCat
		} else {
			lo = c
		}
		items++
		if p.match('-') {
			that, ok := p.peek()
			if !ok {
				return nil, p.errorf(p.pos-start, "unterminated character set")
			}
			p.pos++
			if that == ']' {
				if loIsCat {
					cls.cats = append(cls.cats, loCat)
				} else {
					cls.ranges = append(cls.ranges, runeRange{lo, lo})
				}
				cls.ranges = append(cls.ranges, runeRange{'-', '-'})
				break
			}
			var hi rune
			hiIsCat := false
			if that == '\\' {
				r, _, isCat, err := p.classEscape()
				if err != nil {
					return nil, err
				}
				hi, hiIsCat = r, isCat
			} else {
				hi = that
			}
			if loIsCat || hiIsCat || hi < lo {
				return nil, p.errorf(0, "bad character range")
			}
			cls.ranges = append(cls.ranges, runeRange{lo, hi})
			continue
		}
		if loIsCat {
			cls.cats = append(cls.cats, loCat)
		} else {
			cls.ranges = append(cls.ranges, runeRange{lo, lo})
		}
	}
	if !cls.neg && len(cls.cats) == 0 && len(cls.ranges) == 1 && cls.ranges[0].lo == cls.ranges[0].hi {
		return &node{kind: nLit, r: cls.ranges[0].lo, flags: fl}, nil
	}
	return &node{kind: nClass, cls: cls, flags: fl}, nil
}
