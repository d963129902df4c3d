package pyre

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file parses Python 3.11 `re` syntax (Lib/re/_parser.py) into a small
// tree that compile.go turns into a program for the backtracking engine and
// re2.go into Go RE2 syntax with Python's meaning. Flags are resolved while
// parsing: every Node that depends on a flag carries it, so neither tracks
// flag scopes.

// Python regex flags (the subset that changes matching).
const (
	flagI = 1 << iota // IGNORECASE
	flagM             // MULTILINE
	flagS             // DOTALL
	flagX             // VERBOSE
	flagA             // ASCII
)

type nodeKind uint8

const (
	nEmpty    nodeKind = iota
	nLit               // runes
	nClass             // cls
	nAny               // '.' (flags&flagS: also '\n')
	nBegin             // '^'
	nEnd               // '$'
	nBeginStr          // \A
	nEndStr            // \Z
	nWordB             // \b
	nNotWordB          // \B
	nConcat            // subs
	nAlt               // subs
	nGroup             // capturing: group, name, subs[0]
	nRepeat            // min, max (-1 = unbounded), greedy, possessive; subs[0]
	nLook              // behind, neg; subs[0]
	nBackref           // group
	nCond              // group; subs[0] yes, subs[1] no (nEmpty when absent)
	nAtomic            // subs[0]
	nNever             // matches nothing (produced by rewrites)
	nTrail             // RE2 only: consumes the character after a final \b; subs[0]
)

// Node is one element of a parsed Python regex.
type Node struct {
	kind       nodeKind
	flags      uint8 // flags in effect (relevant for nLit, nClass, nAny, nBegin, nEnd, nWordB, nNotWordB, nBackref)
	runes      []rune
	cls        *pyClass
	subs       []*Node
	group      int // capturing group number (1-based) for nGroup, nBackref, nCond
	name       string
	min, max   int
	greedy     bool
	possessive bool
	behind     bool
	neg        bool
}

// classItem kinds inside a Python character set.
const (
	ciRange    = iota // lo..hi
	ciDigit           // \d
	ciNotDigit        // \D
	ciSpace           // \s
	ciNotSpace        // \S
	ciWord            // \w
	ciNotWord         // \W
)

type classItem struct {
	kind   uint8
	lo, hi rune
}

// pyClass is a Python character set: [...] or a shorthand (\d, \S, ...).
type pyClass struct {
	neg   bool
	items []classItem
}

// Regex is a parsed Python regex.
type Regex struct {
	Src        string
	Groups     int            // number of capturing groups
	Names      map[string]int // group name -> number
	GroupNames []string       // number -> name ("" for unnamed); index 0 unused

	root  *Node
	flags uint8 // global flags (including the multiline flag given to Parse)
}

// SyntaxError is a regex Python's re module would reject (or that this
// package cannot read), with the byte offset of the problem.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at position %d", e.Msg, e.Pos) }

type pyParser struct {
	src        string
	pos        int
	flags      uint8 // global flags
	groups     int
	names      map[string]int
	gnames     []string
	open       map[int]bool   // groups currently open (cannot be referenced)
	widths     map[int][2]int // widths of closed groups, for lookbehinds
	lookbehind int            // groups opened before the innermost lookbehind; -1 outside
	condRefs   map[int]int    // conditionals' group numbers -> position
	depth      int
}

// Parse parses a Python regex (a str pattern: Unicode classes unless
// (?a)). multiline compiles it with re.MULTILINE.
func Parse(src string, multiline bool) (*Regex, error) {
	var fl uint8
	if multiline {
		fl = flagM
	}
	return parsePy(src, fl)
}

func parsePy(src string, extraFlags uint8) (re *Regex, err error) {
	p := &pyParser{src: src, flags: extraFlags, names: map[string]int{}, gnames: []string{""}, open: map[int]bool{},
		widths: map[int][2]int{}, lookbehind: -1, condRefs: map[int]int{}}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*SyntaxError)
			if !ok {
				panic(r)
			}
			re, err = nil, se
		}
	}()
	root := p.parseAlt(localFlags{}, true)
	if p.pos < len(p.src) {
		p.fail(p.pos, "unbalanced parenthesis")
	}
	for g, pos := range p.condRefs {
		if g > p.groups {
			p.fail(pos, "invalid group reference %d", g)
		}
	}
	return &Regex{Src: src, root: root, flags: p.flags, Groups: p.groups, Names: p.names, GroupNames: p.gnames}, nil
}

func (p *pyParser) fail(pos int, format string, args ...any) {
	panic(&SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *pyParser) eof() bool { return p.pos >= len(p.src) }

func (p *pyParser) peek() rune {
	if p.pos >= len(p.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *pyParser) next() rune {
	if p.pos >= len(p.src) {
		return -1
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return r
}

func (p *pyParser) accept(s string) bool {
	if strings.HasPrefix(p.src[p.pos:], s) {
		p.pos += len(s)
		return true
	}
	return false
}

// parseAlt parses a|b|c up to ')' or the end. top marks the outermost level,
// where global flags may appear at the start of the first alternative.
func (p *pyParser) parseAlt(lflags localFlags, top bool) *Node {
	p.depth++
	if p.depth > 500 {
		p.fail(p.pos, "too deeply nested")
	}
	defer func() { p.depth-- }()
	var alts []*Node
	for {
		alts = append(alts, p.parseSeq(lflags, top && len(alts) == 0))
		if !p.accept("|") {
			break
		}
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return &Node{kind: nAlt, subs: alts}
}

func (p *pyParser) parseSeq(lflags localFlags, first bool) *Node {
	var items []*Node
	for !p.eof() {
		c := p.peek()
		if c == '|' || c == ')' {
			break
		}
		start := p.pos
		p.next()
		fl := p.eff(lflags)
		if fl&flagX != 0 {
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
				continue
			}
			if c == '#' {
				for !p.eof() && p.next() != '\n' {
				}
				continue
			}
		}
		switch c {
		case '\\':
			items = append(items, p.parseEscape(start, fl))
		case '[':
			items = append(items, &Node{kind: nClass, cls: p.parseClass(start), flags: fl})
		case '.':
			items = append(items, &Node{kind: nAny, flags: fl})
		case '^':
			items = append(items, &Node{kind: nBegin, flags: fl})
		case '$':
			items = append(items, &Node{kind: nEnd, flags: fl})
		case '*', '+', '?', '{':
			min, max := 0, -1
			switch c {
			case '?':
				max = 1
			case '+':
				min = 1
			case '{':
				if p.peek() == '}' {
					items = append(items, &Node{kind: nLit, runes: []rune{'{'}, flags: fl})
					continue
				}
				here := p.pos
				lo := p.digits()
				hi := lo
				if p.accept(",") {
					hi = p.digits()
				}
				if !p.accept("}") {
					p.pos = here
					items = append(items, &Node{kind: nLit, runes: []rune{'{'}, flags: fl})
					continue
				}
				if lo != "" {
					min = atoiRepeat(p, lo, here)
				}
				if hi != "" {
					max = atoiRepeat(p, hi, here)
					if max < min {
						p.fail(here, "min repeat greater than max repeat")
					}
				}
			}
			if len(items) == 0 {
				p.fail(start, "nothing to repeat")
			}
			last := items[len(items)-1]
			switch last.kind {
			case nBegin, nEnd, nBeginStr, nEndStr, nWordB, nNotWordB:
				p.fail(start, "nothing to repeat")
			case nRepeat:
				p.fail(start, "multiple repeat")
			}
			rep := &Node{kind: nRepeat, min: min, max: max, greedy: true, subs: []*Node{last}}
			if p.accept("?") {
				rep.greedy = false
			} else if p.accept("+") {
				rep.possessive = true
			}
			items[len(items)-1] = rep
		case '(':
			n := p.parseGroup(start, lflags, first && len(items) == 0)
			if n != nil {
				items = append(items, n)
			}
		default:
			items = append(items, &Node{kind: nLit, runes: []rune{c}, flags: fl})
		}
	}
	return mkConcat(items)
}

func atoiRepeat(p *pyParser, s string, pos int) int {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v >= maxRepeat {
		p.fail(pos, "the repetition number is too large")
	}
	return int(v)
}

// maxRepeat is Python's MAXREPEAT: explicit counts must be below it (the
// engine refuses programs too large to expand long before).
const maxRepeat = 1<<32 - 1

func (p *pyParser) digits() string {
	s := p.pos
	for !p.eof() && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.src[s:p.pos]
}

// localFlags are the flag changes of the enclosing (?on-off:...) groups.
// Global flags can only appear at the very start, so the flags in effect
// are always the global ones with these changes applied.
type localFlags struct{ on, off uint8 }

func (p *pyParser) eff(l localFlags) uint8 { return (p.flags | l.on) &^ l.off }

func mkConcat(items []*Node) *Node {
	// merge adjacent literals with equal flags
	var out []*Node
	for _, it := range items {
		if it.kind == nConcat {
			out = append(out, it.subs...)
			continue
		}
		if it.kind == nEmpty {
			continue
		}
		if it.kind == nLit && len(out) > 0 {
			prev := out[len(out)-1]
			if prev.kind == nLit && prev.flags == it.flags {
				merged := &Node{kind: nLit, flags: prev.flags, runes: append(append([]rune{}, prev.runes...), it.runes...)}
				out[len(out)-1] = merged
				continue
			}
		}
		out = append(out, it)
	}
	switch len(out) {
	case 0:
		return &Node{kind: nEmpty}
	case 1:
		return out[0]
	}
	return &Node{kind: nConcat, subs: out}
}

var pyFlagBits = map[rune]uint8{'i': flagI, 'm': flagM, 's': flagS, 'x': flagX, 'a': flagA, 'u': 0}

func (p *pyParser) parseGroup(start int, lflags localFlags, first bool) *Node {
	capture := true
	atomic := false
	name := ""
	newL := lflags
	if p.accept("?") {
		c := p.next()
		switch {
		case c == -1:
			p.fail(p.pos, "unexpected end of pattern")
		case c == 'P':
			switch {
			case p.accept("<"):
				name = p.until('>', "group name")
				p.checkName(name, start)
			case p.accept("="):
				nm := p.until(')', "group name")
				p.checkName(nm, start)
				g, ok := p.names[nm]
				if !ok {
					p.fail(start, "unknown group name %q", nm)
				}
				if p.open[g] {
					p.fail(start, "cannot refer to an open group")
				}
				p.checkLookbehindGroup(g, start)
				return &Node{kind: nBackref, group: g, flags: p.eff(lflags)}
			default:
				p.fail(start, "unknown extension ?P%c", p.peek())
			}
		case c == ':':
			capture = false
		case c == '#':
			for {
				if p.eof() {
					p.fail(start, "missing ), unterminated comment")
				}
				if p.next() == ')' {
					break
				}
			}
			return nil
		case c == '=' || c == '!' || c == '<':
			behind := false
			if c == '<' {
				c = p.next()
				if c != '=' && c != '!' {
					p.fail(start, "unknown extension ?<%c", c)
				}
				behind = true
			}
			saved := p.lookbehind
			if behind && p.lookbehind < 0 {
				p.lookbehind = p.groups
			}
			sub := p.parseAlt(lflags, false)
			p.lookbehind = saved
			if !p.accept(")") {
				p.fail(start, "missing ), unterminated subpattern")
			}
			if behind {
				lo, hi := width2(sub, p.widths)
				if lo != hi || hi < 0 {
					p.fail(start, "look-behind requires fixed-width pattern")
				}
			}
			return &Node{kind: nLook, behind: behind, neg: c == '!', subs: []*Node{sub}, flags: p.eff(lflags)}
		case c == '(':
			cond := p.until(')', "group name")
			var g int
			if isIdentifier(cond) {
				var ok bool
				g, ok = p.names[cond]
				if !ok {
					p.fail(start, "unknown group name %q", cond)
				}
			} else {
				v, err := strconv.Atoi(cond)
				if err != nil || v < 0 {
					p.fail(start, "bad character in group name %q", cond)
				}
				if v == 0 {
					p.fail(start, "bad group number")
				}
				g = v
				if _, ok := p.condRefs[g]; !ok {
					p.condRefs[g] = start
				}
			}
			p.checkLookbehindGroup(g, start)
			yes := p.parseSeq(lflags, false)
			no := &Node{kind: nEmpty}
			if p.accept("|") {
				no = p.parseSeq(lflags, false)
				if p.peek() == '|' {
					p.fail(start, "conditional backref with more than two branches")
				}
			}
			if !p.accept(")") {
				p.fail(start, "missing ), unterminated subpattern")
			}
			return &Node{kind: nCond, group: g, subs: []*Node{yes, no}}
		case c == '>':
			capture = false
			atomic = true
		case pyFlagBits[c] != 0 || c == 'u' || c == '-' || c == 'L':
			on, off, global := p.parseFlags(c)
			if global {
				if !first {
					p.fail(start, "global flags not at the start of the expression")
				}
				p.flags |= on
				return nil
			}
			capture = false
			newL = localFlags{on: (lflags.on | on) &^ off, off: (lflags.off | off) &^ on}
		default:
			p.fail(start, "unknown extension ?%c", c)
		}
	}
	g := 0
	if capture {
		p.groups++
		g = p.groups
		p.gnames = append(p.gnames, name)
		if name != "" {
			if _, dup := p.names[name]; dup {
				p.fail(start, "redefinition of group name %q as group %d", name, g)
			}
			p.names[name] = g
		}
		p.open[g] = true
	}
	sub := p.parseAlt(newL, false)
	if !p.accept(")") {
		p.fail(start, "missing ), unterminated subpattern")
	}
	if capture {
		delete(p.open, g)
		lo, hi := width2(sub, p.widths)
		p.widths[g] = [2]int{lo, hi}
		return &Node{kind: nGroup, group: g, name: name, subs: []*Node{sub}}
	}
	if atomic {
		return &Node{kind: nAtomic, subs: []*Node{sub}}
	}
	// A non-capturing group: keep it as a unit for quantifiers.
	if sub.kind == nRepeat {
		// mark so that "(?:a*)*" is not a multiple repeat
		return &Node{kind: nConcat, subs: []*Node{sub}}
	}
	return wrapUnit(sub)
}

// wrapUnit keeps a parsed group as a single item for a following quantifier
// ("(?:$)*" and "(?:\b)+" are allowed where "$*" is not).
func wrapUnit(sub *Node) *Node {
	switch sub.kind {
	case nConcat, nLit, nBegin, nEnd, nBeginStr, nEndStr, nWordB, nNotWordB:
		if sub.kind == nLit && len(sub.runes) == 1 {
			return sub
		}
		return &Node{kind: nConcat, subs: []*Node{sub}}
	}
	return sub
}

func (p *pyParser) parseFlags(c rune) (on, off uint8, global bool) {
	start := p.pos - 1
	if c != '-' {
		typ := rune(0) // 'a' or 'u' seen
		for {
			if c == 'L' {
				p.fail(start, "bad inline flags: cannot use 'L' flag with a str pattern")
			}
			b, ok := pyFlagBits[c]
			if !ok {
				p.fail(start, "unknown flag")
			}
			if c == 'a' || c == 'u' {
				if typ != 0 && typ != c {
					p.fail(start, "bad inline flags: flags 'a', 'u' and 'L' are incompatible")
				}
				typ = c
			}
			on |= b
			c = p.next()
			if c == -1 {
				p.fail(p.pos, "missing -, : or )")
			}
			if c == ')' || c == '-' || c == ':' {
				break
			}
		}
	}
	if c == ')' {
		return on, 0, true
	}
	if c == '-' {
		c = p.next()
		for {
			b, ok := pyFlagBits[c]
			if !ok || c == 'a' || c == 'u' {
				p.fail(start, "bad inline flags")
			}
			off |= b
			c = p.next()
			if c == ':' {
				break
			}
			if c == -1 {
				p.fail(p.pos, "missing :")
			}
		}
	}
	if on&off != 0 {
		p.fail(start, "bad inline flags: flag turned on and off")
	}
	return on, off, false
}

func (p *pyParser) until(term byte, what string) string {
	i := strings.IndexByte(p.src[p.pos:], term)
	if i < 0 {
		p.fail(p.pos, "missing %c, unterminated name", term)
	}
	s := p.src[p.pos : p.pos+i]
	p.pos += i + 1
	if s == "" {
		p.fail(p.pos, "missing %s", what)
	}
	return s
}

// checkLookbehindGroup refuses, inside a lookbehind, a reference to a
// group opened in that lookbehind (Python cannot size it).
func (p *pyParser) checkLookbehindGroup(g, pos int) {
	if p.lookbehind >= 0 && g > p.lookbehind {
		p.fail(pos, "cannot refer to group defined in the same lookbehind subpattern")
	}
}

func (p *pyParser) checkName(name string, pos int) {
	if !isIdentifier(name) {
		p.fail(pos, "bad character in group name %q", name)
	}
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || (i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r))) {
			continue
		}
		return false
	}
	return true
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }
func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// hexRun reads exactly n hex digits.
func (p *pyParser) hexRun(n int, start int, esc string) rune {
	if p.pos+n > len(p.src) {
		p.fail(start, "incomplete escape %s", esc)
	}
	for i := 0; i < n; i++ {
		if !isHex(p.src[p.pos+i]) {
			p.fail(start, "incomplete escape %s", esc)
		}
	}
	v, _ := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
	p.pos += n
	if v > unicode.MaxRune {
		p.fail(start, "bad escape %s", esc)
	}
	return rune(v)
}

// commonEscape handles the escapes valid both inside and outside sets that
// produce a single literal character; ok is false for other escapes.
func (p *pyParser) literalEscape(c rune, start int) (rune, bool) {
	switch c {
	case 'a':
		return '\a', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'v':
		return '\v', true
	case '\\':
		return '\\', true
	case 'x':
		return p.hexRun(2, start, `\x`), true
	case 'u':
		return p.hexRun(4, start, `\u`), true
	case 'U':
		r := p.hexRun(8, start, `\U`)
		return r, true
	case 'N':
		p.fail(start, `\N{...} escapes are not supported`)
	}
	return 0, false
}

func (p *pyParser) parseEscape(start int, fl uint8) *Node {
	c := p.next()
	if c == -1 {
		p.fail(start, "bad escape (end of pattern)")
	}
	switch c {
	case 'A':
		return &Node{kind: nBeginStr}
	case 'Z':
		return &Node{kind: nEndStr}
	case 'b':
		return &Node{kind: nWordB, flags: fl}
	case 'B':
		return &Node{kind: nNotWordB, flags: fl}
	case 'd', 'D', 's', 'S', 'w', 'W':
		return &Node{kind: nClass, flags: fl, cls: &pyClass{items: []classItem{{kind: shorthandKind(c)}}}}
	}
	if r, ok := p.literalEscape(c, start); ok {
		return &Node{kind: nLit, runes: []rune{r}, flags: fl}
	}
	if c == '0' {
		v := 0
		for i := 0; i < 2 && !p.eof() && isOct(p.src[p.pos]); i++ {
			v = v*8 + int(p.src[p.pos]-'0')
			p.pos++
		}
		return &Node{kind: nLit, runes: []rune{rune(v)}, flags: fl}
	}
	if c >= '1' && c <= '9' {
		ds := string(c)
		if !p.eof() && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			ds += string(p.src[p.pos])
			p.pos++
			if isOct(ds[0]) && isOct(ds[1]) && !p.eof() && isOct(p.src[p.pos]) {
				ds += string(p.src[p.pos])
				p.pos++
				v, _ := strconv.ParseUint(ds, 8, 32)
				if v > 0o377 {
					p.fail(start, "octal escape value %s outside of range 0-0o377", ds)
				}
				return &Node{kind: nLit, runes: []rune{rune(v)}, flags: fl}
			}
		}
		g, _ := strconv.Atoi(ds)
		if g > p.groups {
			p.fail(start, "invalid group reference %d", g)
		}
		if p.open[g] {
			p.fail(start, "cannot refer to an open group")
		}
		p.checkLookbehindGroup(g, start)
		return &Node{kind: nBackref, group: g, flags: fl}
	}
	if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		p.fail(start, "bad escape \\%c", c)
	}
	return &Node{kind: nLit, runes: []rune{c}, flags: fl}
}

func shorthandKind(c rune) uint8 {
	switch c {
	case 'd':
		return ciDigit
	case 'D':
		return ciNotDigit
	case 's':
		return ciSpace
	case 'S':
		return ciNotSpace
	case 'w':
		return ciWord
	}
	return ciNotWord
}

// parseClass parses a set after its '['.
func (p *pyParser) parseClass(start int) *pyClass {
	cls := &pyClass{}
	if p.accept("^") {
		cls.neg = true
	}
	first := true
	for {
		if p.eof() {
			p.fail(start, "unterminated character set")
		}
		here := p.pos
		c := p.next()
		if c == ']' && !first {
			break
		}
		first = false
		var it classItem
		if c == '\\' {
			it = p.classEscape(here)
		} else {
			it = classItem{kind: ciRange, lo: c, hi: c}
		}
		if p.accept("-") {
			if p.eof() {
				p.fail(start, "unterminated character set")
			}
			there := p.pos
			d := p.next()
			if d == ']' {
				cls.items = append(cls.items, it, classItem{kind: ciRange, lo: '-', hi: '-'})
				break
			}
			var it2 classItem
			if d == '\\' {
				it2 = p.classEscape(there)
			} else {
				it2 = classItem{kind: ciRange, lo: d, hi: d}
			}
			if it.kind != ciRange || it2.kind != ciRange || it.lo != it.hi || it2.lo != it2.hi {
				p.fail(here, "bad character range %s", p.src[here:p.pos])
			}
			if it2.lo < it.lo {
				p.fail(here, "bad character range %s", p.src[here:p.pos])
			}
			cls.items = append(cls.items, classItem{kind: ciRange, lo: it.lo, hi: it2.lo})
			continue
		}
		cls.items = append(cls.items, it)
	}
	return cls
}

func (p *pyParser) classEscape(start int) classItem {
	c := p.next()
	if c == -1 {
		p.fail(start, "unterminated character set")
	}
	switch c {
	case 'd', 'D', 's', 'S', 'w', 'W':
		return classItem{kind: shorthandKind(c)}
	case 'b':
		return classItem{kind: ciRange, lo: '\b', hi: '\b'}
	}
	if r, ok := p.literalEscape(c, start); ok {
		return classItem{kind: ciRange, lo: r, hi: r}
	}
	if c >= '0' && c <= '7' {
		v := int(c - '0')
		for i := 0; i < 2 && !p.eof() && isOct(p.src[p.pos]); i++ {
			v = v*8 + int(p.src[p.pos]-'0')
			p.pos++
		}
		if v > 0o377 {
			p.fail(start, "octal escape value outside of range 0-0o377")
		}
		return classItem{kind: ciRange, lo: rune(v), hi: rune(v)}
	}
	if c == '8' || c == '9' || (c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')) {
		p.fail(start, "bad escape \\%c", c)
	}
	return classItem{kind: ciRange, lo: c, hi: c}
}

// width2 returns the minimum and maximum number of characters n can match
// (max -1 = unbounded), as Python's getwidth computes them. gw holds the
// widths of groups (for backreferences); when not nil, the widths of the
// groups inside n are recorded in it.
func width2(n *Node, gw map[int][2]int) (int, int) {
	switch n.kind {
	case nLit:
		return len(n.runes), len(n.runes)
	case nClass, nAny:
		return 1, 1
	case nConcat, nTrail:
		lo, hi := 0, 0
		for _, s := range n.subs {
			a, b := width2(s, gw)
			lo += a
			hi = addW(hi, b)
		}
		return lo, hi
	case nAlt:
		lo, hi := -1, 0
		for _, s := range n.subs {
			a, b := width2(s, gw)
			if lo < 0 || a < lo {
				lo = a
			}
			if hi >= 0 && (b < 0 || b > hi) {
				hi = b
			}
		}
		return lo, hi
	case nGroup:
		lo, hi := width2(n.subs[0], gw)
		if gw != nil {
			gw[n.group] = [2]int{lo, hi}
		}
		return lo, hi
	case nAtomic:
		return width2(n.subs[0], gw)
	case nRepeat:
		a, b := width2(n.subs[0], gw)
		lo := a * n.min
		hi := 0
		switch {
		case n.max < 0:
			if b != 0 {
				hi = -1
			}
		case b < 0:
			if n.max > 0 {
				hi = -1
			}
		default:
			hi = b * n.max
		}
		return lo, hi
	case nCond:
		a1, b1 := width2(n.subs[0], gw)
		a2, b2 := width2(n.subs[1], gw)
		lo, hi := min(a1, a2), b1
		if b1 < 0 || b2 < 0 {
			hi = -1
		} else {
			hi = max(b1, b2)
		}
		return lo, hi
	case nBackref:
		if w, ok := gw[n.group]; ok {
			return w[0], w[1]
		}
		return 0, -1
	}
	return 0, 0
}

func addW(a, b int) int {
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}
