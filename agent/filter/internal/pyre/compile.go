package pyre

import (
	"unicode/utf8"
)

// The backtracking engine's program: compiled from the parsed tree (the
// same tree the RE2 writer reads), run by exec.go.

type opcode uint8

const (
	opMatch    opcode = iota
	opSubMatch        // end of a lookaround or atomic sub-program
	opByte            // b: an ASCII code point
	opByteFold        // b: a lower-case ASCII letter; rs: non-ASCII equals
	opRune            // r: a non-ASCII code point
	opRuneFold        // r, rs: equal code points under IGNORECASE
	opClass           // cls
	opAny             // any code point but \n
	opAnyNL           // any code point (DOTALL)
	opSplit           // try x, then y
	opJmp             // x
	opSave            // n: capture slot
	opAssert          // akind
	opBackref         // n: group
	opLook            // sub-program at pc+1, continue at x; n: width for lookbehind
	opAtomic          // sub-program at pc+1, continue at x
	opCond            // n: group; x: if set, y: if not
	opRegSet          // n: loop register
	opRegCheck        // n: loop register; x: exit when the iteration was empty
	opFail            // never matches
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

const (
	fFold = 1 << iota
	fMulti
	fASCII
	fNeg
	fBehind
)

type inst struct {
	op    opcode
	b     byte
	akind assertKind
	flag  uint8
	r     rune
	x, y  int32
	n     int32
	cls   *charClass
	rs    []rune
}

// charClass is the exact set of characters a class (or a case-insensitive
// literal) matches, after Python's case folding and negation; ASCII
// membership is a bitmap.
type charClass struct {
	ascii [2]uint64
	set   rangeSet
}

func newCharClass(s rangeSet) *charClass {
	c := &charClass{set: s}
	for _, r := range s {
		for x := r.lo; x <= r.hi && x < 0x80; x++ {
			c.ascii[x>>6] |= 1 << (uint(x) & 63)
		}
	}
	return c
}

func (c *charClass) member(r rune) bool {
	if r >= 0 && r < 0x80 {
		return c.ascii[r>>6]&(1<<(uint(r)&63)) != 0
	}
	return c.set.contains(r)
}

// nodeSet returns the characters a class Node matches (with its flags).
func nodeSet(n *Node) rangeSet {
	ascii := n.flags&flagA != 0
	if n.flags&flagI != 0 {
		return pyFoldClass(n.cls, ascii)
	}
	return n.cls.set(ascii)
}

// maxProg bounds the size of a compiled program (counted repeats are
// expanded).
const maxProg = 200000

type compiler struct {
	prog   []inst
	regs   int
	err    error
	widths map[int][2]int // group widths in code points, for lookbehind
}

func (c *compiler) emit(i inst) int {
	c.prog = append(c.prog, i)
	if len(c.prog) > maxProg && c.err == nil {
		c.err = &SyntaxError{Msg: "pattern too large"}
	}
	return len(c.prog) - 1
}

func flagBits(flags uint8) uint8 {
	var b uint8
	if flags&flagI != 0 {
		b |= fFold
	}
	if flags&flagM != 0 {
		b |= fMulti
	}
	if flags&flagA != 0 {
		b |= fASCII
	}
	return b
}

func (c *compiler) lit(r rune, flags uint8) {
	if flags&flagI != 0 {
		s := pyFoldRune(r, flags&flagA != 0)
		if !(len(s) == 1 && s[0].lo == s[0].hi) {
			var rs []rune
			for _, x := range s {
				for v := x.lo; v <= x.hi; v++ {
					if r < utf8.RuneSelf && v < utf8.RuneSelf {
						continue
					}
					if v != r {
						rs = append(rs, v)
					}
				}
			}
			if r < utf8.RuneSelf && asciiLetter(r) {
				c.emit(inst{op: opByteFold, b: byte(r | 0x20), rs: rs})
				return
			}
			c.emit(inst{op: opRuneFold, r: r, rs: rs})
			return
		}
	}
	if r < utf8.RuneSelf {
		c.emit(inst{op: opByte, b: byte(r)})
		return
	}
	c.emit(inst{op: opRune, r: r})
}

func (c *compiler) assert(k assertKind, flags uint8) {
	c.emit(inst{op: opAssert, akind: k, flag: flagBits(flags)})
}

func (c *compiler) compile(n *Node) {
	if c.err != nil {
		return
	}
	switch n.kind {
	case nEmpty:
	case nNever:
		c.emit(inst{op: opFail})
	case nLit:
		for _, r := range n.runes {
			c.lit(r, n.flags)
		}
	case nClass:
		c.emit(inst{op: opClass, cls: newCharClass(nodeSet(n))})
	case nAny:
		if n.flags&flagS != 0 {
			c.emit(inst{op: opAnyNL})
		} else {
			c.emit(inst{op: opAny})
		}
	case nBegin:
		c.assert(aBOL, n.flags)
	case nEnd:
		c.assert(aEOL, n.flags)
	case nBeginStr:
		c.assert(aBOT, n.flags)
	case nEndStr:
		c.assert(aEOT, n.flags)
	case nWordB:
		c.assert(aWordB, n.flags)
	case nNotWordB:
		c.assert(aNotWordB, n.flags)
	case nConcat, nTrail:
		for _, s := range n.subs {
			c.compile(s)
		}
	case nAlt:
		var jumps []int
		for i, s := range n.subs {
			if i < len(n.subs)-1 {
				split := c.emit(inst{op: opSplit})
				c.prog[split].x = int32(len(c.prog))
				c.compile(s)
				jumps = append(jumps, c.emit(inst{op: opJmp}))
				if c.err != nil {
					return
				}
				c.prog[split].y = int32(len(c.prog))
			} else {
				c.compile(s)
			}
		}
		for _, j := range jumps {
			c.prog[j].x = int32(len(c.prog))
		}
	case nGroup:
		c.emit(inst{op: opSave, n: int32(2 * n.group)})
		c.compile(n.subs[0])
		c.emit(inst{op: opSave, n: int32(2*n.group + 1)})
	case nBackref:
		c.emit(inst{op: opBackref, n: int32(n.group), flag: flagBits(n.flags)})
	case nLook:
		fl := flagBits(n.flags)
		if n.neg {
			fl |= fNeg
		}
		width := 0
		if n.behind {
			fl |= fBehind
			lo, hi := width2(n.subs[0], c.widths)
			if lo != hi || hi < 0 {
				c.err = &SyntaxError{Msg: "look-behind requires fixed-width pattern"}
				return
			}
			width = lo
		}
		look := c.emit(inst{op: opLook, flag: fl, n: int32(width)})
		c.compile(n.subs[0])
		c.emit(inst{op: opSubMatch})
		c.prog[look].x = int32(len(c.prog))
	case nAtomic:
		c.atomic(n.subs[0])
	case nCond:
		cond := c.emit(inst{op: opCond, n: int32(n.group)})
		c.prog[cond].x = int32(len(c.prog))
		c.compile(n.subs[0])
		j := c.emit(inst{op: opJmp})
		c.prog[cond].y = int32(len(c.prog))
		c.compile(n.subs[1])
		c.prog[j].x = int32(len(c.prog))
	case nRepeat:
		if n.possessive {
			greedy := *n
			greedy.possessive = false
			c.atomic(&greedy)
			return
		}
		c.repeat(n)
	}
}

func (c *compiler) atomic(sub *Node) {
	at := c.emit(inst{op: opAtomic})
	c.compile(sub)
	c.emit(inst{op: opSubMatch})
	c.prog[at].x = int32(len(c.prog))
}

func (c *compiler) repeat(n *Node) {
	body := n.subs[0]
	lazy := !n.greedy
	for i := 0; i < n.min; i++ {
		c.compile(body)
		if c.err != nil {
			return
		}
	}
	if n.max >= 0 {
		var splits []int
		for i := n.min; i < n.max; i++ {
			s := c.emit(inst{op: opSplit})
			splits = append(splits, s)
			c.compile(body)
			if c.err != nil {
				return
			}
		}
		end := int32(len(c.prog))
		for _, s := range splits {
			if lazy {
				c.prog[s].x, c.prog[s].y = end, int32(s+1)
			} else {
				c.prog[s].x, c.prog[s].y = int32(s+1), end
			}
		}
		return
	}
	lo, _ := width2(body, nil)
	nullable := lo == 0
	loop := c.emit(inst{op: opSplit})
	reg := -1
	if nullable {
		reg = c.regs
		c.regs++
		c.emit(inst{op: opRegSet, n: int32(reg)})
	}
	c.compile(body)
	check := -1
	if nullable {
		check = c.emit(inst{op: opRegCheck, n: int32(reg)})
	}
	c.emit(inst{op: opJmp, x: int32(loop)})
	end := int32(len(c.prog))
	if lazy {
		c.prog[loop].x, c.prog[loop].y = end, int32(loop+1)
	} else {
		c.prog[loop].x, c.prog[loop].y = int32(loop+1), end
	}
	if check >= 0 {
		c.prog[check].x = end
	}
}

// analysis of a Node for the search loop: which bytes can start a match,
// whether the empty string can match.
type info struct {
	first [256]bool
}

func firstInfo(n *Node, out *info) (nullable bool) {
	switch n.kind {
	case nEmpty, nBegin, nEnd, nBeginStr, nEndStr, nWordB, nNotWordB, nLook:
		return true
	case nNever:
		return false
	case nLit:
		r := n.runes[0]
		if n.flags&flagI != 0 {
			for _, x := range pyFoldRune(r, n.flags&flagA != 0) {
				for v := x.lo; v <= x.hi; v++ {
					addRuneFirst(out, v)
				}
			}
		} else {
			addRuneFirst(out, r)
		}
		return false
	case nClass:
		cls := newCharClass(nodeSet(n))
		for b := 0; b < 0x80; b++ {
			if cls.member(rune(b)) {
				out.first[b] = true
			}
		}
		for b := 0x80; b < 0x100; b++ {
			out.first[b] = true
		}
		return false
	case nAny:
		for b := 0; b < 0x100; b++ {
			if b != '\n' || n.flags&flagS != 0 {
				out.first[b] = true
			}
		}
		return false
	case nConcat, nTrail:
		for _, s := range n.subs {
			if !firstInfo(s, out) {
				return false
			}
		}
		return true
	case nAlt:
		null := false
		for _, s := range n.subs {
			if firstInfo(s, out) {
				null = true
			}
		}
		return null
	case nRepeat:
		null := firstInfo(n.subs[0], out)
		return null || n.min == 0
	case nGroup, nAtomic:
		return firstInfo(n.subs[0], out)
	case nCond:
		a := firstInfo(n.subs[0], out)
		b := firstInfo(n.subs[1], out)
		return a || b
	}
	// backreferences: anything
	for b := 0; b < 0x100; b++ {
		out.first[b] = true
	}
	return true
}

func addRuneFirst(out *info, r rune) {
	var buf [utf8.UTFMax]byte
	utf8.EncodeRune(buf[:], r)
	out.first[buf[0]] = true
}

// required returns ASCII bytes that every match must contain (outside
// lookarounds). Only bytes that case folding cannot change are reported.
func required(n *Node) []byte {
	switch n.kind {
	case nLit:
		var out []byte
		for _, r := range n.runes {
			if r < utf8.RuneSelf && (n.flags&flagI == 0 || !asciiLetter(r)) && !containsByte(out, byte(r)) {
				out = append(out, byte(r))
			}
		}
		return out
	case nConcat:
		var out []byte
		for _, s := range n.subs {
			for _, b := range required(s) {
				if !containsByte(out, b) {
					out = append(out, b)
				}
			}
		}
		return out
	case nAlt:
		var out []byte
		for i, s := range n.subs {
			r := required(s)
			if i == 0 {
				out = r
				continue
			}
			var keep []byte
			for _, b := range out {
				if containsByte(r, b) {
					keep = append(keep, b)
				}
			}
			out = keep
		}
		return out
	case nRepeat:
		if n.min > 0 {
			return required(n.subs[0])
		}
	case nGroup, nAtomic:
		return required(n.subs[0])
	}
	return nil
}

func containsByte(s []byte, b byte) bool {
	for _, x := range s {
		if x == b {
			return true
		}
	}
	return false
}

// anchored reports whether every match must start at the beginning of the
// input (a leading ^ without MULTILINE, or \A).
func anchored(n *Node) bool {
	for {
		switch n.kind {
		case nBeginStr:
			return true
		case nBegin:
			return n.flags&flagM == 0
		case nConcat:
			if len(n.subs) == 0 {
				return false
			}
			n = n.subs[0]
		case nGroup, nAtomic:
			n = n.subs[0]
		default:
			return false
		}
	}
}

func sequence(n *Node, out []Atom) []Atom {
	switch n.kind {
	case nEmpty:
		return out
	case nConcat:
		for _, s := range n.subs {
			out = sequence(s, out)
		}
		return out
	case nGroup:
		if n.name != "" {
			a, e := digitEdge(n, false)
			b, f := digitEdge(n, true)
			_, w := width2(n, nil)
			return append(out, Atom{Kind: AtomGroup, Name: n.name, DigitFirst: a && !e, DigitLast: b && !f, MaxWidth: w})
		}
		return sequence(n.subs[0], out)
	case nLit:
		for _, r := range n.runes {
			if n.flags&flagI != 0 {
				if s := pyFoldRune(r, n.flags&flagA != 0); !(len(s) == 1 && s[0].lo == s[0].hi) {
					out = append(out, Atom{Kind: AtomOther})
					continue
				}
			}
			out = append(out, Atom{Kind: AtomLiteral, Lit: r})
		}
		return out
	}
	return append(out, Atom{Kind: AtomOther})
}

// digitEdge reports whether every non-empty match of n starts (fromEnd:
// ends) with a decimal digit, and whether n can match the empty string.
func digitEdge(n *Node, fromEnd bool) (digit, empty bool) {
	switch n.kind {
	case nEmpty, nBegin, nEnd, nBeginStr, nEndStr, nWordB, nNotWordB, nLook:
		return true, true
	case nLit:
		r := n.runes[0]
		if fromEnd {
			r = n.runes[len(n.runes)-1]
		}
		return r >= '0' && r <= '9', false
	case nClass:
		c := n.cls
		if c.neg {
			return false, false
		}
		for _, it := range c.items {
			switch {
			case it.kind == ciDigit:
			case it.kind == ciRange && it.lo >= '0' && it.hi <= '9':
			default:
				return false, false
			}
		}
		return true, false
	case nConcat:
		for i := range n.subs {
			s := n.subs[i]
			if fromEnd {
				s = n.subs[len(n.subs)-1-i]
			}
			d, e := digitEdge(s, fromEnd)
			if !d {
				return false, false
			}
			if !e {
				return true, false
			}
		}
		return true, true
	case nAlt, nCond:
		digit, empty = true, false
		for _, s := range n.subs {
			d, e := digitEdge(s, fromEnd)
			digit = digit && d
			empty = empty || e
		}
		return digit, empty
	case nRepeat:
		if n.max == 0 {
			return true, true
		}
		d, e := digitEdge(n.subs[0], fromEnd)
		return d, e || n.min == 0
	case nGroup, nAtomic:
		return digitEdge(n.subs[0], fromEnd)
	}
	return false, false
}
