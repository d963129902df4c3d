package pyre

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// Regexp is a compiled pattern. It is immutable and safe for concurrent
// use; matching state lives in a Machine.
type Regexp struct {
	expr       string
	prog       []inst
	ngroups    int
	names      map[string]int
	groupNames []string
	nregs      int
	anchored   bool
	nullable   bool
	first      [256]bool
	firstAll   bool
	required   []byte
	seq        []Atom
}

// Compile parses a pattern with Python 3.11 re syntax for str patterns
// and compiles it for the backtracking engine.
func Compile(expr string) (*Regexp, error) {
	py, err := parsePy(expr, 0)
	if err != nil {
		return nil, err
	}
	return py.Program()
}

// Program compiles the parsed regex for the backtracking engine, which
// runs everything Python's re runs (backreferences, lookarounds,
// conditionals, atomic groups) with Python's result.
func (py *Regex) Program() (*Regexp, error) {
	root := py.root
	c := &compiler{widths: map[int][2]int{}}
	width2(root, c.widths)
	c.compile(root)
	c.emit(inst{op: opMatch})
	if c.err != nil {
		return nil, c.err
	}
	re := &Regexp{
		expr:       py.Src,
		prog:       c.prog,
		ngroups:    py.Groups,
		names:      py.Names,
		groupNames: py.GroupNames,
		nregs:      c.regs,
		anchored:   anchored(root),
		required:   required(root),
		seq:        sequence(root, nil),
	}
	var in info
	re.nullable = firstInfo(root, &in)
	re.first = in.first
	re.firstAll = true
	for _, ok := range in.first {
		if re.nullable {
			break
		}
		if !ok {
			re.firstAll = false
			break
		}
	}
	return re, nil
}

// MustCompile is Compile for patterns known to be valid.
func MustCompile(expr string) *Regexp {
	re, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return re
}

// String returns the source pattern.
func (re *Regexp) String() string { return re.expr }

// NumGroups returns the number of capturing groups.
func (re *Regexp) NumGroups() int { return re.ngroups }

// GroupNames returns the name of each group by index ("" for unnamed and
// for index 0). The slice must not be modified.
func (re *Regexp) GroupNames() []string { return re.groupNames }

// GroupIndex returns the index of a named group, or -1.
func (re *Regexp) GroupIndex(name string) int {
	if i, ok := re.names[name]; ok {
		return i
	}
	return -1
}

// Anchored reports whether matches can only start at the beginning of the
// input.
func (re *Regexp) Anchored() bool { return re.anchored }

// DefaultMaxSteps bounds the work of one search; a search that needs more
// is abandoned and reports no match (Python would keep going).
const DefaultMaxSteps = 1 << 20

type frameKind uint8

const (
	frBranch frameKind = iota
	frCap
	frReg
)

type frame struct {
	kind frameKind
	idx  int32 // pc for branches, slot or register otherwise
	val  int   // position for branches, old value otherwise
}

// Machine holds the state of one search. It is reused across searches (and
// across regexps) so that matching does not allocate once it has grown. A
// Machine is not safe for concurrent use.
type Machine struct {
	MaxSteps int // 0: DefaultMaxSteps

	caps    []int
	regs    []int
	stack   []frame
	in      []byte
	steps   int
	limit   int
	aborted bool
}

// Aborted reports whether the last search gave up after MaxSteps.
func (m *Machine) Aborted() bool { return m.aborted }

// Group returns the byte span of group i of the last successful search, or
// -1, -1 if the group did not take part in the match.
func (m *Machine) Group(i int) (start, end int) {
	if 2*i+1 >= len(m.caps) {
		return -1, -1
	}
	s, e := m.caps[2*i], m.caps[2*i+1]
	if s < 0 || e < 0 {
		return -1, -1
	}
	return s, e
}

func (m *Machine) prepare(re *Regexp, in []byte) {
	n := 2 * (re.ngroups + 1)
	if cap(m.caps) < n {
		m.caps = make([]int, n)
	}
	m.caps = m.caps[:n]
	if cap(m.regs) < re.nregs {
		m.regs = make([]int, re.nregs)
	}
	m.regs = m.regs[:re.nregs]
	m.stack = m.stack[:0]
	m.in = in
	m.steps = 0
	m.limit = m.MaxSteps
	if m.limit <= 0 {
		m.limit = DefaultMaxSteps
	}
	m.aborted = false
}

// Search looks for the leftmost match in input[pos:endpos] the way
// Python's Pattern.search(string, pos, endpos) does: text before pos is
// visible to lookbehinds and \b but ^ matches only at 0; endpos acts as
// the end of the string. On success the groups are available from m.
func (re *Regexp) Search(m *Machine, input []byte, pos, endpos int) bool {
	pos, endpos, ok := span(len(input), pos, endpos)
	if !ok {
		m.caps = m.caps[:0]
		return false
	}
	in := input[:endpos]
	m.prepare(re, in)
	for _, b := range re.required {
		if bytes.IndexByte(in[pos:], b) < 0 {
			m.caps = m.caps[:0]
			return false
		}
	}
	if re.anchored {
		if pos == 0 && m.try(re, 0) {
			return true
		}
		m.caps = m.caps[:0]
		return false
	}
	for s := pos; ; {
		if s >= endpos {
			if re.nullable && m.try(re, s) {
				return true
			}
			break
		}
		c := in[s]
		if re.firstAll || re.first[c] {
			if m.try(re, s) {
				return true
			}
			if m.aborted {
				break
			}
		}
		if c < utf8.RuneSelf {
			s++
		} else {
			_, w := utf8.DecodeRune(in[s:])
			s += w
		}
	}
	m.caps = m.caps[:0]
	return false
}

// span clamps pos and endpos to a string of n bytes as Python does (an
// endpos out of range is the end); ok is false when pos is past endpos.
func span(n, pos, endpos int) (int, int, bool) {
	if endpos < 0 || endpos > n {
		endpos = n
	}
	pos = max(pos, 0)
	return pos, endpos, pos <= endpos
}

// Match is Search anchored at pos (Python's Pattern.match).
func (re *Regexp) Match(m *Machine, input []byte, pos, endpos int) bool {
	pos, endpos, ok := span(len(input), pos, endpos)
	if !ok {
		m.caps = m.caps[:0]
		return false
	}
	m.prepare(re, input[:endpos])
	if m.try(re, pos) {
		return true
	}
	m.caps = m.caps[:0]
	return false
}

func (m *Machine) try(re *Regexp, s int) bool {
	for i := range m.caps {
		m.caps[i] = -1
	}
	m.stack = m.stack[:0]
	end, ok := m.run(re, 0, s)
	if !ok {
		return false
	}
	m.caps[0], m.caps[1] = s, end
	return true
}

func (m *Machine) decode(pos int) (rune, int) {
	c := m.in[pos]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRune(m.in[pos:])
}

func (m *Machine) prevRune(pos int) rune {
	c := m.in[pos-1]
	if c < utf8.RuneSelf {
		return rune(c)
	}
	r, _ := utf8.DecodeLastRune(m.in[:pos])
	return r
}

func (m *Machine) assert(k assertKind, flag uint8, pos int) bool {
	in := m.in
	switch k {
	case aBOL:
		return pos == 0 || flag&fMulti != 0 && in[pos-1] == '\n'
	case aEOL:
		if flag&fMulti != 0 {
			return pos == len(in) || in[pos] == '\n'
		}
		return pos == len(in) || pos == len(in)-1 && in[pos] == '\n'
	case aBOT:
		return pos == 0
	case aEOT:
		return pos == len(in)
	}
	if pos == 0 && pos == len(in) {
		return false
	}
	ascii := flag&fASCII != 0
	this, that := false, false
	if pos < len(in) {
		r, _ := m.decode(pos)
		this = isWordFlag(r, ascii)
	}
	if pos > 0 {
		that = isWordFlag(m.prevRune(pos), ascii)
	}
	if k == aWordB {
		return this != that
	}
	return this == that
}

func (m *Machine) push(f frame) { m.stack = append(m.stack, f) }

// unwind pops frames down to base, restoring captures and registers.
func (m *Machine) unwind(base int) {
	for i := len(m.stack) - 1; i >= base; i-- {
		f := m.stack[i]
		switch f.kind {
		case frCap:
			m.caps[f.idx] = f.val
		case frReg:
			m.regs[f.idx] = f.val
		}
	}
	m.stack = m.stack[:base]
}

// commit drops the branch frames above base after a sub-program succeeded
// (no backtracking into it), keeping restore frames for captures.
func (m *Machine) commit(base int) {
	j := base
	for i := base; i < len(m.stack); i++ {
		if m.stack[i].kind != frBranch {
			m.stack[j] = m.stack[i]
			j++
		}
	}
	m.stack = m.stack[:j]
}

// run executes from pc at pos until opMatch or opSubMatch, backtracking on
// failure through the frames it pushed itself.
func (m *Machine) run(re *Regexp, pc int, pos int) (int, bool) {
	base := len(m.stack)
	prog := re.prog
	in := m.in
	for {
		m.steps++
		if m.steps > m.limit {
			m.aborted = true
			m.unwind(base)
			return -1, false
		}
		i := &prog[pc]
		switch i.op {
		case opMatch, opSubMatch:
			return pos, true
		case opByte:
			if pos < len(in) && in[pos] == i.b {
				pos++
				pc++
				continue
			}
		case opByteFold:
			if pos < len(in) {
				c := in[pos]
				if c < utf8.RuneSelf {
					if c|0x20 == i.b {
						pos++
						pc++
						continue
					}
				} else if len(i.rs) > 0 {
					if r, w := utf8.DecodeRune(in[pos:]); foldMatch(r, i) {
						pos += w
						pc++
						continue
					}
				}
			}
		case opRune:
			if pos < len(in) {
				r, w := m.decode(pos)
				if r == i.r {
					pos += w
					pc++
					continue
				}
			}
		case opRuneFold:
			if pos < len(in) {
				r, w := m.decode(pos)
				if r == i.r || foldMatch(r, i) {
					pos += w
					pc++
					continue
				}
			}
		case opClass:
			if pos < len(in) {
				c := in[pos]
				if c < utf8.RuneSelf {
					if i.cls.ascii[c>>6]&(1<<(c&63)) != 0 {
						pos++
						pc++
						continue
					}
				} else {
					r, w := utf8.DecodeRune(in[pos:])
					if i.cls.set.contains(r) {
						pos += w
						pc++
						continue
					}
				}
			}
		case opAny:
			if pos < len(in) && in[pos] != '\n' {
				_, w := m.decode(pos)
				pos += w
				pc++
				continue
			}
		case opAnyNL:
			if pos < len(in) {
				_, w := m.decode(pos)
				pos += w
				pc++
				continue
			}
		case opSplit:
			m.push(frame{kind: frBranch, idx: i.y, val: pos})
			pc = int(i.x)
			continue
		case opJmp:
			pc = int(i.x)
			continue
		case opSave:
			m.push(frame{kind: frCap, idx: i.n, val: m.caps[i.n]})
			m.caps[i.n] = pos
			pc++
			continue
		case opFail:
		case opAssert:
			if m.assert(i.akind, i.flag, pos) {
				pc++
				continue
			}
		case opBackref:
			if end, ok := m.backref(int(i.n), i.flag&fFold != 0, i.flag&fASCII != 0, pos); ok {
				pos = end
				pc++
				continue
			}
		case opLook:
			ok := m.look(re, i, pc, pos)
			if m.aborted {
				m.unwind(base)
				return -1, false
			}
			if ok {
				pc = int(i.x)
				continue
			}
		case opAtomic:
			sb := len(m.stack)
			end, ok := m.run(re, pc+1, pos)
			if m.aborted {
				m.unwind(base)
				return -1, false
			}
			if ok {
				m.commit(sb)
				pos = end
				pc = int(i.x)
				continue
			}
		case opCond:
			g := int(i.n)
			if 2*g+1 < len(m.caps) && m.caps[2*g] >= 0 && m.caps[2*g+1] >= 0 {
				pc = int(i.x)
			} else {
				pc = int(i.y)
			}
			continue
		case opRegSet:
			m.push(frame{kind: frReg, idx: i.n, val: m.regs[i.n]})
			m.regs[i.n] = pos
			pc++
			continue
		case opRegCheck:
			if m.regs[i.n] == pos {
				pc = int(i.x)
			} else {
				pc++
			}
			continue
		}
		// failure: backtrack
		for {
			if len(m.stack) <= base {
				return -1, false
			}
			f := m.stack[len(m.stack)-1]
			m.stack = m.stack[:len(m.stack)-1]
			switch f.kind {
			case frCap:
				m.caps[f.idx] = f.val
				continue
			case frReg:
				m.regs[f.idx] = f.val
				continue
			}
			pc, pos = int(f.idx), f.val
			break
		}
	}
}

func foldMatch(r rune, i *inst) bool {
	for _, v := range i.rs {
		if v == r {
			return true
		}
	}
	return false
}

func (m *Machine) look(re *Regexp, i *inst, pc, pos int) bool {
	neg := i.flag&fNeg != 0
	start := pos
	if i.flag&fBehind != 0 {
		for k := int32(0); k < i.n; k++ {
			if start <= 0 {
				return neg
			}
			c := m.in[start-1]
			if c < utf8.RuneSelf {
				start--
			} else {
				_, w := utf8.DecodeLastRune(m.in[:start])
				start -= w
			}
		}
	}
	sb := len(m.stack)
	end, ok := m.run(re, pc+1, start)
	if m.aborted {
		return false
	}
	if ok && i.flag&fBehind != 0 && end != pos {
		m.unwind(sb)
		ok = false
	}
	if neg {
		if ok {
			m.unwind(sb)
			return false
		}
		return true
	}
	if ok {
		m.commit(sb)
	}
	return ok
}

func (m *Machine) backref(g int, fold, ascii bool, pos int) (int, bool) {
	if 2*g+1 >= len(m.caps) {
		return 0, false
	}
	s, e := m.caps[2*g], m.caps[2*g+1]
	if s < 0 || e < 0 {
		return 0, false
	}
	in := m.in
	if !fold {
		n := e - s
		if pos+n > len(in) || !bytes.Equal(in[pos:pos+n], in[s:e]) {
			return 0, false
		}
		return pos + n, true
	}
	for s < e {
		if pos >= len(in) {
			return 0, false
		}
		a, wa := utf8.DecodeRune(in[s:e])
		b, wb := utf8.DecodeRune(in[pos:])
		if a != b && !foldEqual(a, b, ascii) {
			return 0, false
		}
		s += wa
		pos += wb
	}
	return pos, true
}

// AtomKind classifies the items of Sequence.
type AtomKind uint8

const (
	AtomOther   AtomKind = iota // anything else (alternation, quantifier, assertion...)
	AtomLiteral                 // one code point, case-sensitive
	AtomGroup                   // a named capturing group
)

// Atom is one item of a pattern's mandatory sequence.
type Atom struct {
	Kind AtomKind
	Lit  rune
	Name string
	// For groups: every match is non-empty and starts (ends) with a
	// decimal digit; it is at most MaxWidth code points long (-1: no
	// bound).
	DigitFirst, DigitLast bool
	MaxWidth              int
}

// Sequence lists what every match is made of, in order: concatenations
// and unnamed groups are opened, named groups are kept whole, anything that
// is optional or alternative is AtomOther. Consecutive atoms match
// consecutive text.
func (re *Regexp) Sequence() []Atom { return re.seq }

func isWordFlag(r rune, ascii bool) bool {
	if ascii {
		return r < 0x80 && IsWord(r)
	}
	return IsWord(r)
}

// foldEqual reports whether a backreference under IGNORECASE matches b
// where its group holds a: Python compares lower-case forms (ASCII ones
// with re.ASCII).
func foldEqual(a, b rune, ascii bool) bool {
	if ascii {
		if a < 0x80 && asciiLetter(a) {
			a |= 0x20
		}
		if b < 0x80 && asciiLetter(b) {
			b |= 0x20
		}
		return a == b
	}
	return unicode.ToLower(a) == unicode.ToLower(b)
}
