package f2b

import (
	"bytes"
	"math/bits"
	"regexp/syntax"
	"unicode/utf8"
)

// A faster runner for the RE2 programs.
//
// Go's regexp runs small programs on short inputs with a backtracker that
// remembers every (instruction, position) pair it has explored, so it never
// explores one twice: it finds the leftmost-first match (the one a
// backtracking engine prefers) in time linear in program size × input
// length. xprog runs the very same syntax.Prog with the same algorithm and
// the same visited set, so it explores the same states in the same order
// and returns the same match; it is only cheaper per step:
//
//   - ASCII bytes are tested against a bitmap precomputed per instruction
//     (non-ASCII runes still go through syntax.Inst.MatchRune);
//   - a chain of single-rune instructions is compared as one byte string;
//   - a loop over one character class (x*, x+, x*?) scans its run in a
//     tight loop and keeps one backtracking job for the whole run instead of
//     one per character.
//
// The tests run every program of every stock filter through both runners
// on generated lines and require identical results. Inputs too long for the
// visited set (as in Go) go to regexp's own NFA.

const maxVisitedBits = 256 * 1024

const (
	xFail uint8 = iota
	xMatch
	xAlt
	xAltMatch
	xRune
	xLit
	xCapture
	xEmpty
	xNop
	xStar // greedy loop over the class at body
	xLazy // non-greedy loop over the class at body
)

type xinst struct {
	op     uint8
	uniAll bool // every non-ASCII rune matches (., [^\n])
	// join: more than one instruction leads here, so its states are
	// remembered. A state with a single predecessor can only be reached
	// again through that predecessor's state, which is remembered, so
	// checking it too would only repeat work already pruned.
	join bool
	out  uint32
	arg  uint32
	body uint32 // xStar/xLazy: the class instruction
	exit uint32 // xStar/xLazy: where the loop leaves
	// exitLit is the first byte of a literal the exit reaches through
	// captures only (-1 if none): the exit fails at once where it is absent
	exitLit int16
	ascii   [2]uint64
	inst    *syntax.Inst
	lit     []byte
	empty   syntax.EmptyOp
}

type xprog struct {
	insts    []xinst
	start    uint32
	ncap     int
	anchored bool
	prefix   []byte // literal every match starts with (unanchored search)
}

func newXProg(src string) (*xprog, error) {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, err
	}
	maxCap := re.MaxCap()
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	x := &xprog{start: uint32(prog.Start), ncap: 2 * (maxCap + 1), insts: make([]xinst, len(prog.Inst))}
	x.anchored = prog.StartCond()&syntax.EmptyBeginText != 0
	if p, _ := prog.Prefix(); p != "" && !x.anchored {
		x.prefix = []byte(p)
	}
	indeg := make([]int, len(prog.Inst))
	indeg[prog.Start]++
	for i := range prog.Inst {
		in := &prog.Inst[i]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			indeg[in.Out]++
			indeg[in.Arg]++
		case syntax.InstMatch, syntax.InstFail:
		default:
			indeg[in.Out]++
		}
	}
	isRune := func(op syntax.InstOp) bool {
		switch op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			return true
		}
		return false
	}
	for i := range prog.Inst {
		in := &prog.Inst[i]
		xi := &x.insts[i]
		xi.out, xi.arg, xi.inst = in.Out, in.Arg, in
		xi.join = indeg[i] > 1
		switch in.Op {
		case syntax.InstFail:
			xi.op = xFail
		case syntax.InstMatch:
			xi.op = xMatch
		case syntax.InstAltMatch:
			xi.op = xAltMatch
		case syntax.InstAlt:
			xi.op = xAlt
			// a loop over one class: L: Alt(M, X), M: class -> L
			if m := &prog.Inst[in.Out]; isRune(m.Op) && m.Out == uint32(i) {
				xi.op, xi.body, xi.exit = xStar, in.Out, in.Arg
			} else if m := &prog.Inst[in.Arg]; isRune(m.Op) && m.Out == uint32(i) {
				xi.op, xi.body, xi.exit = xLazy, in.Arg, in.Out
			}
		case syntax.InstCapture:
			xi.op = xCapture
		case syntax.InstEmptyWidth:
			xi.op, xi.empty = xEmpty, syntax.EmptyOp(in.Arg)
		case syntax.InstNop:
			xi.op = xNop
		default:
			xi.op = xRune
			for c := rune(0); c < utf8.RuneSelf; c++ {
				if in.MatchRune(c) {
					xi.ascii[c>>6] |= 1 << (c & 63)
				}
			}
			switch in.Op {
			case syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				xi.uniAll = true
			}
		}
	}
	// chains of single runes become one literal
	for i := range prog.Inst {
		in := &prog.Inst[i]
		if !literalRune(in) {
			continue
		}
		var lit []byte
		pc := uint32(i)
		for {
			lit = utf8.AppendRune(lit, prog.Inst[pc].Rune[0])
			next := prog.Inst[pc].Out
			if !literalRune(&prog.Inst[next]) || indeg[next] != 1 {
				pc = next
				break
			}
			pc = next
		}
		if len(lit) > 1 {
			x.insts[i].op, x.insts[i].lit, x.insts[i].out = xLit, lit, pc
		}
	}
	for i := range x.insts {
		xi := &x.insts[i]
		xi.exitLit = -1
		if xi.op != xStar && xi.op != xLazy {
			continue
		}
		pc := xi.exit
		for n := 0; n < 16; n++ {
			e := &x.insts[pc]
			if e.op == xCapture || e.op == xNop {
				pc = e.out
				continue
			}
			if e.op == xLit {
				xi.exitLit = int16(e.lit[0])
			}
			break
		}
	}
	return x, nil
}

// literalRune: an instruction matching exactly one rune, byte for byte.
func literalRune(in *syntax.Inst) bool {
	if in.Op != syntax.InstRune1 || syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
		return false
	}
	r := in.Rune[0]
	return r != utf8.RuneError && utf8.ValidRune(r)
}

// matchAt tests the class instruction at pos; it returns the width of the
// character (0 at the end).
func (xi *xinst) matchAt(in []byte, pos int) (int, bool) {
	if pos >= len(in) {
		return 0, false
	}
	c := in[pos]
	if c < utf8.RuneSelf {
		return 1, xi.ascii[c>>6]&(1<<(c&63)) != 0
	}
	r, w := utf8.DecodeRune(in[pos:])
	if xi.uniAll {
		return w, true
	}
	return w, xi.inst.MatchRune(r)
}

type xjob struct {
	pc   uint32
	kind uint8
	pos  int
	lo   int
}

const (
	jNormal  uint8 = iota
	jAltArg        // Alt whose first branch is done: try the second
	jCap           // restore capture slot pc to pos
	jStar          // greedy loop: try the exit at pos, then at the positions below, down to lo
	jLazyNxt       // lazy loop: the exit at pos failed, consume one more character
	jExit          // try the loop's exit at pos
)

// xstate is the reusable memory of one runner (one per Matcher).
type xstate struct {
	jobs     []xjob
	visited  []uint32
	cap      []int
	matchcap []int
	end      int
	ninst    int
}

// fits reports whether x can run on an input of n bytes.
func (x *xprog) fits(n int) bool { return len(x.insts)*(n+1) <= maxVisitedBits }

func (b *xstate) reset(x *xprog, end int) {
	b.end, b.ninst = end, len(x.insts)
	b.jobs = b.jobs[:0]
	n := (len(x.insts)*(end+1) + 31) / 32
	if cap(b.visited) < n {
		b.visited = make([]uint32, n)
	} else {
		b.visited = b.visited[:n]
		clear(b.visited)
	}
	if cap(b.cap) < x.ncap {
		b.cap = make([]int, x.ncap)
		b.matchcap = make([]int, x.ncap)
	}
	b.cap, b.matchcap = b.cap[:x.ncap], b.matchcap[:x.ncap]
	for i := range b.cap {
		b.cap[i], b.matchcap[i] = -1, -1
	}
}

// run returns the end of the run of characters the class matches from pos,
// and whether they were all ASCII.
func (xi *xinst) run(in []byte, pos int) (int, bool) {
	e := pos
	for e < len(in) {
		c := in[e]
		if c >= utf8.RuneSelf {
			break
		}
		if xi.ascii[c>>6]&(1<<(c&63)) == 0 {
			return e, true
		}
		e++
	}
	if e >= len(in) {
		return e, true
	}
	// a non-ASCII character: continue rune by rune
	for e < len(in) {
		w, ok := xi.matchAt(in, e)
		if !ok {
			break
		}
		e += w
	}
	return e, false
}

// markRun marks (pc, q) for q = from .. to (inclusive) in order, stopping
// before the first that is already marked; it returns how many it marked.
func (b *xstate) markRun(pc uint32, from, to int) int {
	if from > to {
		return 0
	}
	base := uint(int(pc) * (b.end + 1))
	n0, n1 := base+uint(from), base+uint(to)+1
	for n := n0; n < n1; {
		w, off := n/32, n%32
		cnt := min(32-off, n1-n)
		mask := uint32((uint64(1)<<cnt)-1) << off
		if set := b.visited[w] & mask; set != 0 {
			first := uint(bits.TrailingZeros32(set))
			b.visited[w] |= mask & (uint32(1)<<first - 1)
			return int(w*32 + first - n0)
		}
		b.visited[w] |= mask
		n += cnt
	}
	return int(n1 - n0)
}

func (b *xstate) shouldVisit(pc uint32, pos int) bool {
	n := uint(int(pc)*(b.end+1) + pos)
	w, bit := n/32, uint32(1)<<(n&31)
	if b.visited[w]&bit != 0 {
		return false
	}
	b.visited[w] |= bit
	return true
}

// find runs the search like regexp's backtracker; it returns the match's
// capture positions (owned by b) or nil.
func (x *xprog) find(b *xstate, in []byte) []int {
	b.reset(x, len(in))
	if x.anchored {
		b.cap[0] = 0
		if x.try(b, in, 0) {
			return b.matchcap
		}
		return nil
	}
	for pos := 0; pos <= len(in); {
		if len(x.prefix) > 0 {
			i := bytes.Index(in[pos:], x.prefix)
			if i < 0 {
				return nil
			}
			pos += i
		}
		b.cap[0] = pos
		if x.try(b, in, pos) {
			return b.matchcap
		}
		if pos >= len(in) {
			break
		}
		w := 1
		if in[pos] >= utf8.RuneSelf {
			_, w = utf8.DecodeRune(in[pos:])
		}
		pos += w
	}
	return nil
}

func (b *xstate) push(pc uint32, kind uint8, pos, lo int) {
	b.jobs = append(b.jobs, xjob{pc: pc, kind: kind, pos: pos, lo: lo})
}

func (x *xprog) try(b *xstate, in []byte, pos int) bool {
	if x.insts[x.start].op == xFail || !b.shouldVisit(x.start, pos) {
		return false
	}
	b.push(x.start, jNormal, pos, 0)
	for len(b.jobs) > 0 {
		j := b.jobs[len(b.jobs)-1]
		b.jobs = b.jobs[:len(b.jobs)-1]
		pc, pos := j.pc, j.pos
		switch j.kind {
		case jCap:
			b.cap[pc] = pos
			continue
		case jAltArg:
			pc = x.insts[pc].arg
			goto check
		case jStar:
			// an ASCII run: try the loop's exit at pos, keep the
			// positions below for later. With a literal exit, positions
			// where it cannot start are passed over (it fails there at once).
			xi := &x.insts[pc]
			if lit := xi.exitLit; lit >= 0 && (pos >= len(in) || in[pos] != byte(lit)) {
				i := bytes.LastIndexByte(in[j.lo:min(pos, len(in))], byte(lit))
				if i < 0 {
					continue
				}
				pos = j.lo + i
			}
			if pos > j.lo {
				b.push(pc, jStar, pos-1, j.lo)
			}
			pc = xi.exit
			goto check
		case jExit:
			pc = x.insts[pc].exit
			goto check
		case jLazyNxt:
			xi := &x.insts[pc]
			w, ok := x.insts[xi.body].matchAt(in, pos)
			if !ok {
				continue
			}
			pos += w
			goto check
		}
		goto run
	check:
		if x.insts[pc].join && !b.shouldVisit(pc, pos) {
			continue
		}
	run:
		for {
			xi := &x.insts[pc]
			switch xi.op {
			case xFail:
				// no-op: fall to next job
			case xMatch:
				if len(b.cap) > 1 {
					b.cap[1] = pos
				}
				copy(b.matchcap, b.cap)
				return true
			case xAlt:
				b.push(pc, jAltArg, pos, 0)
				pc = xi.out
				if x.insts[pc].join && !b.shouldVisit(pc, pos) {
					break
				}
				continue
			case xAltMatch:
				// (syntax.Compile does not emit InstAltMatch; kept as regexp has it)
				switch x.insts[xi.out].inst.Op {
				case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
					if x.insts[xi.arg].op != xFail && b.shouldVisit(xi.arg, pos) {
						b.push(xi.arg, jNormal, pos, 0)
					}
					pc, pos = xi.arg, b.end
				default:
					if x.insts[xi.out].op != xFail && b.shouldVisit(xi.out, b.end) {
						b.push(xi.out, jNormal, b.end, 0)
					}
					pc, pos = xi.out, b.end
				}
				if !b.shouldVisit(pc, pos) {
					break
				}
				continue
			case xRune:
				w, ok := xi.matchAt(in, pos)
				if !ok {
					break
				}
				pos += w
				pc = xi.out
				if x.insts[pc].join && !b.shouldVisit(pc, pos) {
					break
				}
				continue
			case xLit:
				if !bytes.HasPrefix(in[pos:], xi.lit) {
					break
				}
				pos += len(xi.lit)
				pc = xi.out
				if x.insts[pc].join && !b.shouldVisit(pc, pos) {
					break
				}
				continue
			case xCapture:
				if int(xi.arg) < len(b.cap) {
					b.push(xi.arg, jCap, b.cap[xi.arg], 0)
					b.cap[xi.arg] = pos
				}
				pc = xi.out
				if x.insts[pc].join && !b.shouldVisit(pc, pos) {
					break
				}
				continue
			case xEmpty:
				if xi.empty&^emptyContext(in, pos) != 0 {
					break
				}
				pc = xi.out
				if x.insts[pc].join && !b.shouldVisit(pc, pos) {
					break
				}
				continue
			case xNop:
				pc = xi.out
				if x.insts[pc].join && !b.shouldVisit(pc, pos) {
					break
				}
				continue
			case xStar:
				// (pc, pos) is marked. Extend the run as the loop would (the
				// class, then the loop again at the next position), marking
				// the loop's states and stopping before one explored
				// earlier; then try the exit at the last position first and
				// at the earlier ones later. (The class instruction's own
				// states are not marked: its only successor is the loop, so
				// reaching it again ends at a marked loop state or fails.)
				body := &x.insts[xi.body]
				lo := pos
				e, ascii := body.run(in, pos)
				var p int
				if ascii {
					p = lo + b.markRun(pc, lo+1, e)
					if p > lo {
						b.push(pc, jStar, p-1, lo)
					}
				} else {
					p = lo
					for p < e {
						w, _ := body.matchAt(in, p)
						if !b.shouldVisit(pc, p+w) {
							break
						}
						b.push(pc, jExit, p, 0)
						p += w
					}
				}
				pc, pos = xi.exit, p
				if x.insts[pc].join && !b.shouldVisit(pc, pos) {
					break
				}
				continue
			case xLazy:
				// Try the exit here; when it fails, consume one more.
				// With a literal exit, positions where the literal cannot
				// start are passed over in one step (the exit fails there at
				// once, so not marking those exit states changes nothing).
				if lit := xi.exitLit; lit >= 0 && (pos >= len(in) || in[pos] != byte(lit)) {
					body := &x.insts[xi.body]
					e, ascii := body.run(in, pos)
					if ascii {
						q := e
						if i := bytes.IndexByte(in[pos:e], byte(lit)); i >= 0 {
							q = pos + i
						}
						// the loop at pos+1..q; stop before an explored one
						n := b.markRun(pc, pos+1, q)
						if n < q-pos {
							break // the loop reached an explored state
						}
						pos = q
						if q == e && (q >= len(in) || in[q] != byte(lit)) {
							// the run ends here without the literal: the exit
							// fails and the class cannot go on
							break
						}
					}
				}
				b.push(pc, jLazyNxt, pos, 0)
				pc = xi.exit
				if x.insts[pc].join && !b.shouldVisit(pc, pos) {
					break
				}
				continue
			}
			break
		}
	}
	return false
}

// emptyContext computes the empty-width flags at pos like regexp does.
func emptyContext(in []byte, pos int) syntax.EmptyOp {
	r1, r2 := rune(-1), rune(-1)
	if uint(pos-1) < uint(len(in)) {
		r1 = rune(in[pos-1])
		if r1 >= utf8.RuneSelf {
			r1, _ = utf8.DecodeLastRune(in[:pos])
		}
	}
	if uint(pos) < uint(len(in)) {
		r2 = rune(in[pos])
		if r2 >= utf8.RuneSelf {
			r2, _ = utf8.DecodeRune(in[pos:])
		}
	}
	return syntax.EmptyOpContext(r1, r2)
}
