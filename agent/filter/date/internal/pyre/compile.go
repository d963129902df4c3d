package pyre

import (
	"unicode"
	"unicode/utf8"
)

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

// maxProg bounds the size of a compiled program (counted repeats are
// expanded).
const maxProg = 200000

type compiler struct {
	prog   []inst
	regs   int
	widths map[int][2]int // group widths in code points, for lookbehind
	err    error
	p      *parser
}

func (c *compiler) emit(i inst) int {
	c.prog = append(c.prog, i)
	if len(c.prog) > maxProg && c.err == nil {
		c.err = &Error{Msg: "pattern too large", Pattern: c.p.pattern}
	}
	return len(c.prog) - 1
}

func flagBits(flags int) uint8 {
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

func (c *compiler) compile(n *node) {
	if c.err != nil {
		return
	}
	switch n.kind {
	case nEmpty:
	case nLit:
		fold := n.flags&flagI != 0
		r := n.r
		if r < utf8.RuneSelf {
			if fold && isASCIILetter(r) {
				var rs []rune
				for _, v := range foldVariants(r) {
					if v >= utf8.RuneSelf {
						rs = append(rs, v)
					}
				}
				c.emit(inst{op: opByteFold, b: byte(unicode.ToLower(r)), rs: rs})
				return
			}
			c.emit(inst{op: opByte, b: byte(r)})
			return
		}
		if fold {
			if vs := foldVariants(r); len(vs) > 0 {
				c.emit(inst{op: opRuneFold, r: r, rs: vs})
				return
			}
		}
		c.emit(inst{op: opRune, r: r})
	case nClass:
		cls := *n.cls
		cls.finish(n.flags)
		c.emit(inst{op: opClass, cls: &cls})
	case nAny:
		if n.flags&flagS != 0 {
			c.emit(inst{op: opAnyNL})
		} else {
			c.emit(inst{op: opAny})
		}
	case nCat:
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
	case nAssert:
		c.emit(inst{op: opAssert, akind: n.akind, flag: flagBits(n.flags)})
	case nLook:
		fl := flagBits(n.flags)
		if n.neg {
			fl |= fNeg
		}
		width := 0
		if n.behind {
			fl |= fBehind
			lo, hi := c.width(n.subs[0])
			if lo != hi || hi < 0 {
				c.err = &Error{Msg: "look-behind requires fixed-width pattern", Pattern: c.p.pattern}
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
		if n.poss {
			greedy := *n
			greedy.poss = false
			c.atomic(&greedy)
			return
		}
		c.repeat(n)
	}
}

func (c *compiler) atomic(sub *node) {
	at := c.emit(inst{op: opAtomic})
	c.compile(sub)
	c.emit(inst{op: opSubMatch})
	c.prog[at].x = int32(len(c.prog))
}

func (c *compiler) repeat(n *node) {
	body := n.subs[0]
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
			if n.lazy {
				c.prog[s].x, c.prog[s].y = end, int32(s+1)
			} else {
				c.prog[s].x, c.prog[s].y = int32(s+1), end
			}
		}
		return
	}
	nullable := c.minWidth(body) == 0
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
	if n.lazy {
		c.prog[loop].x, c.prog[loop].y = end, int32(loop+1)
	} else {
		c.prog[loop].x, c.prog[loop].y = int32(loop+1), end
	}
	if check >= 0 {
		c.prog[check].x = end
	}
}

const inf = -1

func addW(a, b int) int {
	if a < 0 || b < 0 {
		return inf
	}
	return a + b
}

// width returns the minimum and maximum number of code points n can match
// (max < 0: unbounded).
func (c *compiler) width(n *node) (int, int) {
	switch n.kind {
	case nLit, nClass, nAny:
		return 1, 1
	case nCat:
		lo, hi := 0, 0
		for _, s := range n.subs {
			l, h := c.width(s)
			lo += l
			hi = addW(hi, h)
		}
		return lo, hi
	case nAlt:
		lo, hi := -1, 0
		for _, s := range n.subs {
			l, h := c.width(s)
			if lo < 0 || l < lo {
				lo = l
			}
			if hi >= 0 && (h < 0 || h > hi) {
				hi = h
			}
		}
		return lo, hi
	case nRepeat:
		l, h := c.width(n.subs[0])
		lo := l * n.min
		hi := 0
		switch {
		case n.max < 0:
			if h != 0 {
				hi = inf
			}
		case h < 0:
			if n.max > 0 {
				hi = inf
			}
		default:
			hi = h * n.max
		}
		return lo, hi
	case nGroup:
		l, h := c.width(n.subs[0])
		c.widths[n.group] = [2]int{l, h}
		return l, h
	case nAtomic:
		return c.width(n.subs[0])
	case nBackref:
		w, ok := c.widths[n.group]
		if !ok {
			return 0, inf
		}
		return w[0], w[1]
	case nCond:
		l1, h1 := c.width(n.subs[0])
		l2, h2 := c.width(n.subs[1])
		if l2 < l1 {
			l1 = l2
		}
		if h1 >= 0 && (h2 < 0 || h2 > h1) {
			h1 = h2
		}
		return l1, h1
	}
	return 0, 0
}

func (c *compiler) minWidth(n *node) int {
	l, _ := c.width(n)
	return l
}

// analysis of a node for the search loop: which bytes can start a match,
// whether the empty string can match, and bytes any match must contain.
type info struct {
	first    [256]bool
	nullable bool
}

func (c *compiler) firstInfo(n *node, out *info) (nullable bool) {
	switch n.kind {
	case nEmpty, nAssert, nLook:
		return true
	case nLit:
		addRuneFirst(out, n.r)
		if n.flags&flagI != 0 {
			for _, v := range foldVariants(n.r) {
				addRuneFirst(out, v)
			}
		}
		return false
	case nClass:
		cls := *n.cls
		cls.finish(n.flags)
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
	case nCat:
		for _, s := range n.subs {
			if !c.firstInfo(s, out) {
				return false
			}
		}
		return true
	case nAlt:
		null := false
		for _, s := range n.subs {
			if c.firstInfo(s, out) {
				null = true
			}
		}
		return null
	case nRepeat:
		null := c.firstInfo(n.subs[0], out)
		return null || n.min == 0
	case nGroup, nAtomic:
		return c.firstInfo(n.subs[0], out)
	case nCond:
		a := c.firstInfo(n.subs[0], out)
		b := c.firstInfo(n.subs[1], out)
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
func (c *compiler) required(n *node) []byte {
	switch n.kind {
	case nLit:
		if n.r < utf8.RuneSelf && (n.flags&flagI == 0 || !isASCIILetter(n.r)) {
			return []byte{byte(n.r)}
		}
	case nCat:
		var out []byte
		for _, s := range n.subs {
			for _, b := range c.required(s) {
				if !containsByte(out, b) {
					out = append(out, b)
				}
			}
		}
		return out
	case nAlt:
		var out []byte
		for i, s := range n.subs {
			r := c.required(s)
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
			return c.required(n.subs[0])
		}
	case nGroup, nAtomic:
		return c.required(n.subs[0])
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
func anchored(n *node) bool {
	for {
		switch n.kind {
		case nAssert:
			return n.akind == aBOT || n.akind == aBOL && n.flags&flagM == 0
		case nCat:
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

func (c *compiler) sequence(n *node, names []string, out []Atom) []Atom {
	switch n.kind {
	case nEmpty:
		return out
	case nCat:
		for _, s := range n.subs {
			out = c.sequence(s, names, out)
		}
		return out
	case nGroup:
		if names[n.group] != "" {
			a, e := digitEdge(n, false)
			b, f := digitEdge(n, true)
			_, w := c.width(n)
			return append(out, Atom{Kind: AtomGroup, Name: names[n.group], DigitFirst: a && !e, DigitLast: b && !f, MaxWidth: w})
		}
		return c.sequence(n.subs[0], names, out)
	case nLit:
		if n.flags&flagI == 0 || len(foldVariants(n.r)) == 0 {
			return append(out, Atom{Kind: AtomLiteral, Lit: n.r})
		}
	}
	return append(out, Atom{Kind: AtomOther})
}

// digitEdge reports whether every non-empty match of n starts (fromEnd:
// ends) with a decimal digit, and whether n can match the empty string.
func digitEdge(n *node, fromEnd bool) (digit, empty bool) {
	switch n.kind {
	case nEmpty, nAssert, nLook:
		return true, true
	case nLit:
		return n.r >= '0' && n.r <= '9', false
	case nClass:
		c := n.cls
		if c.neg {
			return false, false
		}
		for _, rg := range c.ranges {
			if rg.lo < '0' || rg.hi > '9' {
				return false, false
			}
		}
		for _, k := range c.cats {
			if k != catDigit {
				return false, false
			}
		}
		return true, false
	case nCat:
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
