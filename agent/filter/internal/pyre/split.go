package pyre

import (
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Splitting a regex into several RE2 programs.
//
// Go's regexp runs small programs (up to 500 instructions) with a fast
// backtracker and bigger ones with a much slower NFA simulation. Removing a
// conditional duplicates the rest of the regex (sshd's "Failed ..." rule
// holds <HOST> four times afterwards), so such a regex can be split:
//
//	P (A | B) S  =  P A S | P B S
//
// searched as separate programs, the first that matches at the leftmost
// position winning. That is exact when, from a given start, every match of
// P ends at the same place (P's language is prefix-free): a backtracking
// engine tries P's parses with A then B, and since they all end at the same
// place and A, B, S do not refer to P's groups, the first parse of P
// followed by the first branch that matches is what both forms find.

// splitLimit is the program size above which a split is attempted.
const splitLimit = 400

func splitTop(t *Node, multiBuf bool) []*Node {
	s, err := emitRE2(t, multiBuf)
	if err != nil || progSize(s) <= splitLimit {
		return []*Node{t}
	}
	if t.kind != nConcat {
		return []*Node{t}
	}
	for i, el := range t.subs {
		alt := el
		for alt.kind == nConcat && len(alt.subs) == 1 {
			alt = alt.subs[0]
		}
		if alt.kind != nAlt {
			continue
		}
		prefix := mkConcat(t.subs[:i])
		ps, err := emitRE2(prefix, multiBuf)
		if err != nil || !prefixFree(ps) {
			return []*Node{t}
		}
		var out []*Node
		for _, br := range alt.subs {
			seq := append(append(cloneAll(t.subs[:i]), clone(br)), cloneAll(t.subs[i+1:])...)
			out = append(out, splitTop(mkConcat(seq), multiBuf)...)
		}
		return out
	}
	return []*Node{t}
}

// prefixFree reports whether no match of the RE2 regex re (anchored at its
// start) is a proper prefix of another match. It explores the subset
// automaton of the compiled program; false also means "could not tell".
func prefixFree(re string) bool {
	if re == "" || re == "(?:)" {
		return true
	}
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return false
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return false
	}
	// alphabet: one representative rune per interval between boundaries
	bounds := []rune{0, '\n', '\n' + 1}
	for _, in := range prog.Inst {
		switch in.Op {
		case syntax.InstRune:
			if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
				return false
			}
			for i := 0; i+1 < len(in.Rune); i += 2 {
				bounds = append(bounds, in.Rune[i], in.Rune[i+1]+1)
			}
			if len(in.Rune) == 1 {
				bounds = append(bounds, in.Rune[0], in.Rune[0]+1)
			}
		case syntax.InstRune1:
			bounds = append(bounds, in.Rune[0], in.Rune[0]+1)
		case syntax.InstEmptyWidth:
			switch syntax.EmptyOp(in.Arg) {
			case syntax.EmptyBeginText, syntax.EmptyBeginLine:
			default:
				return false
			}
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	if len(bounds) > 4096 {
		return false
	}
	var alpha []rune
	for _, b := range bounds {
		if b <= unicode.MaxRune {
			alpha = append(alpha, b)
		}
	}
	closure := func(pcs []uint32, atStart bool) []uint32 {
		seen := map[uint32]bool{}
		var out []uint32
		var add func(pc uint32)
		add = func(pc uint32) {
			if seen[pc] {
				return
			}
			seen[pc] = true
			in := &prog.Inst[pc]
			switch in.Op {
			case syntax.InstAlt, syntax.InstAltMatch:
				add(in.Out)
				add(in.Arg)
			case syntax.InstCapture, syntax.InstNop:
				add(in.Out)
			case syntax.InstEmptyWidth:
				if atStart {
					add(in.Out)
				}
			case syntax.InstFail:
			default:
				out = append(out, pc)
			}
		}
		for _, pc := range pcs {
			add(pc)
		}
		slices.Sort(out)
		return out
	}
	key := func(pcs []uint32, acc bool) string {
		var b strings.Builder
		if acc {
			b.WriteByte('A')
		}
		for _, pc := range pcs {
			b.WriteString(strconv.Itoa(int(pc)))
			b.WriteByte(',')
		}
		return b.String()
	}
	accepting := func(pcs []uint32) bool {
		for _, pc := range pcs {
			if prog.Inst[pc].Op == syntax.InstMatch {
				return true
			}
		}
		return false
	}
	type state struct {
		pcs []uint32
		acc bool // a match ended earlier on this path
	}
	start := closure([]uint32{uint32(prog.Start)}, true)
	queue := []state{{start, accepting(start)}}
	seen := map[string]bool{key(start, queue[0].acc): true}
	for len(queue) > 0 {
		if len(seen) > 2000 {
			return false
		}
		st := queue[0]
		queue = queue[1:]
		for _, r := range alpha {
			var next []uint32
			for _, pc := range st.pcs {
				in := &prog.Inst[pc]
				if in.Op == syntax.InstMatch {
					continue
				}
				if in.MatchRune(r) {
					next = append(next, in.Out)
				}
			}
			if len(next) == 0 {
				continue
			}
			ns := closure(next, false)
			if len(ns) == 0 {
				continue
			}
			acc := accepting(ns)
			if acc && st.acc {
				return false
			}
			k := key(ns, st.acc || acc)
			if !seen[k] {
				seen[k] = true
				queue = append(queue, state{ns, st.acc || acc})
			}
		}
	}
	return true
}
