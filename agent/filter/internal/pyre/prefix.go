package pyre

import (
	"bytes"
	"unicode/utf8"
)

// A prefix program runs a regex of the shape syslog prefregexes have,
//
//	^ P (?P<content>.+)$
//
// where P is built only from literals, character classes and their
// repeats, optional groups, alternations and capturing groups (Fail2Ban's
// __prefix_line, banfleet's own _head, …): the date-less header of a log
// line, then the message. Since ".+$" matches any non-empty rest without a
// newline, the regex's match is the first way P matches, in Python's
// backtracking order, that leaves such a rest. A PrefixProg finds it by
// backtracking over P's tree compiled to a few instructions, which costs a
// fraction of a general engine's run over the whole line: it never looks
// at the message beyond the newline check.
//
// It is exact, not a heuristic: every construct it accepts is run with
// Python's semantics (greedy and lazy repeats tried in Python's order,
// Unicode classes and invalid UTF-8 read as the backtracking engine reads
// them). A search that takes more than prefixMaxSteps steps is handed back
// (definite false) to the regex, so a pathological line costs no more
// than a bounded detour.

// PrefixProg is the compiled prefix program of a regex, immutable and safe
// for concurrent use.
type PrefixProg struct {
	insts   []pinst
	ngroups int
	tail    int // the group of the final .+
}

const (
	pLit   = iota // lit
	pClass        // cls repeated min..max (max < 0: unbounded), greedy or lazy
	pSplit        // try x, then y
	pJmp          // go to x
	pSave         // caps[slot] = pos
	pBegin        // ^: pos == 0
	pTail         // the final (.+)$ group: the rest is non-empty, without '\n' but a final one
)

type pinst struct {
	op       uint8
	greedy   bool
	slot     int32
	x, y     int32
	min, max int
	lit      []byte
	cls      *charClass
	// cont: what the continuation (pc+1) can start with; a repeat passes
	// over the positions where it cannot
	cont prefixFirst
	// pSplit: what each branch can start with; a branch that cannot start
	// at pos is not tried
	fx, fy prefixFirst
}

// prefixMaxSteps bounds the instructions one search runs.
const prefixMaxSteps = 4096

// Prefix returns the regex's prefix program, or nil when the regex is not
// of the shape "^ P (group .+)$" with P in the program's vocabulary.
func (py *Regex) Prefix() *PrefixProg {
	if py.flags&flagM != 0 {
		return nil
	}
	root := py.root
	if root.kind != nConcat || len(root.subs) < 3 {
		return nil
	}
	subs := root.subs
	first, end, tail := subs[0], subs[len(subs)-1], subs[len(subs)-2]
	if first.kind != nBegin || first.flags&flagM != 0 || end.kind != nEnd || end.flags&flagM != 0 {
		return nil
	}
	if tail.kind != nGroup {
		return nil
	}
	rep := tail.subs[0]
	if rep.kind != nRepeat || rep.min != 1 || rep.max != -1 || !rep.greedy || rep.possessive ||
		rep.subs[0].kind != nAny || rep.subs[0].flags&flagS != 0 {
		return nil
	}
	c := &prefixCompiler{}
	c.emit(pinst{op: pBegin})
	for _, n := range subs[1 : len(subs)-2] {
		if !c.compile(n) {
			return nil
		}
	}
	c.emit(pinst{op: pTail, slot: int32(tail.group)})
	p := &PrefixProg{insts: c.insts, ngroups: py.Groups, tail: tail.group}
	for i := range p.insts {
		in := &p.insts[i]
		p.first(i+1, &in.cont, 0)
		if in.op == pSplit {
			p.first(int(in.x), &in.fx, 0)
			p.first(int(in.y), &in.fy, 0)
		}
	}
	return p
}

// prefixFirst is what a program position can start with.
type prefixFirst struct {
	ascii    [2]uint64
	nonASCII bool // a non-ASCII character
	empty    bool // nothing (it may match empty, or it is not known)
}

// can reports whether a match can start at pos.
func (f *prefixFirst) can(in []byte, pos int) bool {
	if f.empty {
		return true
	}
	if pos >= len(in) {
		return false
	}
	c := in[pos]
	if c >= utf8.RuneSelf {
		return f.nonASCII
	}
	return f.ascii[c>>6]&(1<<(c&63)) != 0
}

func (p *PrefixProg) first(pc int, f *prefixFirst, depth int) {
	if depth > 32 || pc >= len(p.insts) {
		f.empty = true
		return
	}
	in := &p.insts[pc]
	switch in.op {
	case pSave:
		p.first(pc+1, f, depth+1)
	case pJmp:
		p.first(int(in.x), f, depth+1)
	case pSplit:
		p.first(int(in.x), f, depth+1)
		p.first(int(in.y), f, depth+1)
	case pLit:
		if c := in.lit[0]; c < utf8.RuneSelf {
			f.ascii[c>>6] |= 1 << (c & 63)
		} else {
			f.nonASCII = true
		}
	case pClass:
		f.ascii[0] |= in.cls.ascii[0]
		f.ascii[1] |= in.cls.ascii[1]
		if len(in.cls.set) > 0 && in.cls.set[len(in.cls.set)-1].hi >= utf8.RuneSelf {
			f.nonASCII = true
		}
		if in.min == 0 {
			p.first(pc+1, f, depth+1)
		}
	default:
		f.empty = true
	}
}

type prefixCompiler struct{ insts []pinst }

func (c *prefixCompiler) emit(i pinst) int {
	c.insts = append(c.insts, i)
	return len(c.insts) - 1
}

// compile appends n's program; false when n is outside the vocabulary.
func (c *prefixCompiler) compile(n *Node) bool {
	switch n.kind {
	case nEmpty:
		return true
	case nLit:
		if n.flags&flagI != 0 {
			return false
		}
		c.emit(pinst{op: pLit, lit: []byte(string(n.runes))})
		return true
	case nClass, nAny:
		if cls := single(n); cls != nil {
			c.emit(pinst{op: pClass, cls: cls, min: 1, max: 1, greedy: true})
			return true
		}
		return false
	case nConcat:
		for _, s := range n.subs {
			if !c.compile(s) {
				return false
			}
		}
		return true
	case nGroup:
		c.emit(pinst{op: pSave, slot: int32(2 * n.group)})
		if !c.compile(n.subs[0]) {
			return false
		}
		c.emit(pinst{op: pSave, slot: int32(2*n.group + 1)})
		return true
	case nAlt:
		// Split(b1, next); b1; Jmp(end); next: Split(b2, …) …
		var jmps []int
		for i, s := range n.subs {
			split := -1
			if i < len(n.subs)-1 {
				split = c.emit(pinst{op: pSplit})
				c.insts[split].x = int32(split + 1)
			}
			if !c.compile(s) {
				return false
			}
			if i < len(n.subs)-1 {
				jmps = append(jmps, c.emit(pinst{op: pJmp}))
				c.insts[split].y = int32(len(c.insts))
			}
		}
		for _, j := range jmps {
			c.insts[j].x = int32(len(c.insts))
		}
		return true
	case nRepeat:
		if n.possessive {
			return false
		}
		sub := n.subs[0]
		if cls := single(sub); cls != nil {
			if n.max == 0 {
				return true
			}
			c.emit(pinst{op: pClass, cls: cls, min: n.min, max: n.max, greedy: n.greedy})
			return true
		}
		switch {
		case n.min == 1 && n.max == 1:
			return c.compile(sub)
		case n.min == 0 && n.max == 1:
			split := c.emit(pinst{op: pSplit})
			if !c.compile(sub) {
				return false
			}
			body, after := int32(split+1), int32(len(c.insts))
			if n.greedy {
				c.insts[split].x, c.insts[split].y = body, after
			} else {
				c.insts[split].x, c.insts[split].y = after, body
			}
			return true
		}
	}
	return false
}

// single returns the set of characters n matches when n is one character.
func single(n *Node) *charClass {
	switch n.kind {
	case nLit:
		if len(n.runes) != 1 {
			return nil
		}
		if n.flags&flagI != 0 {
			return newCharClass(pyFoldRune(n.runes[0], n.flags&flagA != 0))
		}
		return newCharClass(rangeSet{{n.runes[0], n.runes[0]}})
	case nClass:
		return newCharClass(nodeSet(n))
	case nAny:
		if n.flags&flagS != 0 {
			return nil
		}
		return newCharClass(rangeSet{{0, '\n' - 1}, {'\n' + 1, utf8.MaxRune}})
	}
	return nil
}

// prefixRun is one search's state.
type prefixRun struct {
	p      *PrefixProg
	in     []byte
	caps   []int
	steps  int
	abort  bool
	ntrail int
	trail  [12]saved // captures to restore when a choice is undone
}

type saved struct{ slot, pos int32 }

// undo restores the captures set since the trail held n entries.
func (r *prefixRun) undo(n int) {
	for r.ntrail > n {
		r.ntrail--
		t := r.trail[r.ntrail]
		r.caps[t.slot] = int(t.pos)
	}
}

// Match runs the program on buf and fills caps (2 per group, group 0 the
// whole match; -1 for groups that took no part) like a regex search.
// definite is false when the regex must decide (the step bound was hit).
func (p *PrefixProg) Match(buf []byte, caps []int) (out []int, matched, definite bool) {
	n := 2 * (p.ngroups + 1)
	if cap(caps) < n {
		caps = make([]int, n)
	}
	caps = caps[:n]
	for i := range caps {
		caps[i] = -1
	}
	r := prefixRun{p: p, in: buf, caps: caps}
	ok := r.run(0, 0)
	if r.abort {
		return caps, false, false
	}
	if ok {
		caps[0] = 0
	}
	return caps, ok, true
}

// decode reads the character at pos as the backtracking engine does.
func (r *prefixRun) decode(pos int) (rune, int) {
	c := r.in[pos]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRune(r.in[pos:])
}

func (r *prefixRun) run(pc, pos int) bool {
	in, insts := r.in, r.p.insts
	for {
		r.steps++
		if r.steps > prefixMaxSteps {
			r.abort = true
			return false
		}
		i := &insts[pc]
		switch i.op {
		case pBegin:
			if pos != 0 {
				return false
			}
			pc++
		case pLit:
			if len(in)-pos < len(i.lit) || string(in[pos:pos+len(i.lit)]) != string(i.lit) {
				return false
			}
			pos += len(i.lit)
			pc++
		case pSave:
			if r.ntrail == len(r.trail) {
				r.abort = true
				return false
			}
			r.trail[r.ntrail] = saved{i.slot, int32(r.caps[i.slot])}
			r.ntrail++
			r.caps[i.slot] = pos
			pc++
		case pJmp:
			pc = int(i.x)
		case pSplit:
			if !i.fx.can(in, pos) {
				pc = int(i.y)
				continue
			}
			if !i.fy.can(in, pos) {
				pc = int(i.x)
				continue
			}
			mark := r.ntrail
			if r.run(int(i.x), pos) {
				return true
			}
			if r.abort {
				return false
			}
			r.undo(mark)
			pc = int(i.y)
		case pClass:
			if i.min == 1 && i.max == 1 {
				if pos >= len(in) {
					return false
				}
				c, w := r.decode(pos)
				if !i.cls.member(c) {
					return false
				}
				pos += w
				pc++
				continue
			}
			q, st := r.repeat(i, pc, pos)
			switch st {
			case repFail:
				return false
			case repMatched:
				return true
			}
			pos = q
			pc++
		case pTail:
			// (?P<g>.+)$ on the rest: '.' is anything but '\n', '$' the
			// end or a final '\n'
			q := len(in)
			if k := bytes.IndexByte(in[pos:], '\n'); k >= 0 {
				q = pos + k
			}
			if q == pos || q < len(in)-1 {
				return false
			}
			r.caps[2*i.slot], r.caps[2*i.slot+1] = pos, q
			r.caps[1] = q
			return true
		}
	}
}

// tryAt runs the continuation at pc from pos as one choice: repMatched,
// repFail (aborted), or repGo (it failed; its captures are undone).
func (r *prefixRun) tryAt(pc, pos int) int {
	mark := r.ntrail
	if r.run(pc, pos) {
		return repMatched
	}
	if r.abort {
		return repFail
	}
	r.undo(mark)
	return repGo
}

// repeat outcomes
const (
	repFail    = iota
	repMatched // a continuation tried from an earlier position matched
	repGo      // go on at the returned position: the last one left to try
)

// repeat runs a repeated class at pc from pos: it tries the continuation
// from every position the repeat can stop at but the last, in Python's
// order, and leaves the last to the caller.
func (r *prefixRun) repeat(i *pinst, pc, pos int) (int, int) {
	in := r.in
	// the run: n characters, up to e
	n, e := 0, pos
	ascii := true
	for e < len(in) && (i.max < 0 || n < i.max) {
		c := in[e]
		if c < utf8.RuneSelf {
			if i.cls.ascii[c>>6]&(1<<(c&63)) == 0 {
				break
			}
			e++
			n++
			continue
		}
		ch, w := utf8.DecodeRune(in[e:])
		if !i.cls.member(ch) {
			break
		}
		ascii = false
		e += w
		n++
	}
	if n < i.min {
		return 0, repFail
	}
	if !ascii && !utf8.Valid(in[pos:e]) {
		// going back over invalid UTF-8 may split it otherwise than
		// going forward did: leave it to the regex
		r.abort = true
		return 0, repFail
	}
	// the positions to try, in order: from e down to the minimum
	// (greedy), or up (lazy); each one the continuation can start at is
	// tried after the previous candidate failed
	pending := -1
	if i.greedy {
		for q := e; ; {
			if i.cont.can(in, q) {
				if pending >= 0 {
					if st := r.tryAt(pc+1, pending); st != repGo {
						return 0, st
					}
				}
				pending = q
			}
			if n == i.min {
				break
			}
			n--
			if ascii {
				q--
			} else {
				_, w := utf8.DecodeLastRune(in[pos:q])
				q -= w
			}
		}
	} else {
		q := pos
		for k := 0; k < i.min; k++ {
			_, w := r.decode(q)
			q += w
		}
		for k := i.min; ; k++ {
			if i.cont.can(in, q) {
				if pending >= 0 {
					if st := r.tryAt(pc+1, pending); st != repGo {
						return 0, st
					}
				}
				pending = q
			}
			if k == n {
				break
			}
			_, w := r.decode(q)
			q += w
		}
	}
	if pending < 0 {
		return 0, repFail
	}
	return pending, repGo
}
