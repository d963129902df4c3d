package pyre

import (
	"errors"
	"strconv"
	"strings"
)

// errNeedsBacktracking marks a regex that Go's RE2 cannot run with Python's
// meaning (lookarounds, backreferences, conditionals, atomic groups,
// possessive quantifiers, Unicode \b in an unknown context ...).
var errNeedsBacktracking = errors.New("needs a backtracking engine")

// trailName is the RE2 group around a final \b's consumed character.
const trailName = "trail"

// re2Emitter writes a (rewritten) tree in Go RE2 syntax.
//
// Buffers are searched as Fail2Ban searches them: the lines joined with
// "\n" plus a final "\n". On a buffer with one line, Python's "$" (end, or
// before a final newline) is exactly RE2's (?m:$), because the only newline
// is the final one. On buffers with several lines that holds only for "$" in
// multi-line mode; a plain "$" there is translated only at the very end of
// the regex (as \n?\z, which changes nothing but the end of the whole match)
// and otherwise needs the backtracking engine.
type re2Emitter struct {
	b        strings.Builder
	multiBuf bool // the regex is searched on buffers that can hold several lines
	tailEnd  *Node
	err      error
}

func emitRE2(root *Node, multiBuf bool) (string, error) {
	e := &re2Emitter{multiBuf: multiBuf}
	e.tailEnd = lastNode(root)
	e.emit(root)
	if e.err != nil {
		return "", e.err
	}
	return e.b.String(), nil
}

// lastNode returns the final element of the top-level sequence.
func lastNode(n *Node) *Node {
	if n.kind == nConcat && len(n.subs) > 0 {
		return n.subs[len(n.subs)-1]
	}
	return n
}

func (e *re2Emitter) fail() {
	if e.err == nil {
		e.err = errNeedsBacktracking
	}
}

func (e *re2Emitter) emit(n *Node) {
	if e.err != nil {
		return
	}
	b := &e.b
	switch n.kind {
	case nEmpty:
		b.WriteString("(?:)")
	case nNever:
		b.WriteString(`[^\x00-\x{10ffff}]`)
	case nLit:
		writeLit(b, n)
	case nClass:
		if n.flags&flagI != 0 {
			writeSet(b, pyFoldClass(n.cls, n.flags&flagA != 0))
			return
		}
		body, neg := n.cls.classBody(n.flags&flagA != 0)
		b.WriteByte('[')
		if neg {
			b.WriteByte('^')
		}
		if body == "" {
			// [^] (everything) or [] (nothing)
			if neg {
				b.WriteString(`\x00-\x{10ffff}`)
			} else {
				b.Reset()
				e.err = errors.New("empty class")
				return
			}
			neg = false
		}
		b.WriteString(body)
		b.WriteByte(']')
	case nAny:
		if n.flags&flagS != 0 {
			b.WriteString("(?s:.)")
		} else {
			b.WriteString(`[^\n]`)
		}
	case nBegin:
		if n.flags&flagM != 0 {
			b.WriteString("(?m:^)")
		} else {
			b.WriteString(`\A`)
		}
	case nEnd:
		switch {
		case n.flags&flagM != 0 || !e.multiBuf:
			b.WriteString("(?m:$)")
		case n == e.tailEnd:
			b.WriteString(`(?:\n?\z)`)
		default:
			e.fail()
		}
	case nBeginStr:
		b.WriteString(`\A`)
	case nEndStr:
		b.WriteString(`\z`)
	case nWordB, nNotWordB:
		if n.flags&flagA == 0 {
			e.fail()
			return
		}
		if n.kind == nWordB {
			b.WriteString(`\b`)
		} else {
			b.WriteString(`\B`)
		}
	case nConcat:
		for _, s := range n.subs {
			e.emit(s)
		}
	case nAlt:
		b.WriteString("(?:")
		for i, s := range n.subs {
			if i > 0 {
				b.WriteByte('|')
			}
			e.emit(s)
		}
		b.WriteString(")")
	case nGroup:
		b.WriteString("(?P<" + GroupName(n.group) + ">")
		e.emit(n.subs[0])
		b.WriteString(")")
	case nTrail:
		b.WriteString("(?P<" + trailName + ">")
		e.emit(n.subs[0])
		b.WriteString(")")
	case nRepeat:
		if n.possessive || n.min > 1000 || n.max > 1000 {
			e.fail()
			return
		}
		if (n.max < 0 || n.max > 1) && nullable(n.subs[0]) && len(definedGroups(n.subs[0])) > 0 {
			// Python keeps the groups of a last, empty iteration ("(a*)*b"
			// on "ab": group 1 is the empty string after "a"); RE2 does not
			e.fail()
			return
		}
		b.WriteString("(?:")
		e.emit(n.subs[0])
		b.WriteString(")")
		writeQuant(b, n)
	default: // nLook, nBackref, nCond, nAtomic
		e.fail()
	}
}

func writeQuant(b *strings.Builder, n *Node) {
	switch {
	case n.min == 0 && n.max == -1:
		b.WriteByte('*')
	case n.min == 1 && n.max == -1:
		b.WriteByte('+')
	case n.min == 0 && n.max == 1:
		b.WriteByte('?')
	case n.max == -1:
		b.WriteString("{" + strconv.Itoa(n.min) + ",}")
	case n.min == n.max:
		b.WriteString("{" + strconv.Itoa(n.min) + "}")
	default:
		b.WriteString("{" + strconv.Itoa(n.min) + "," + strconv.Itoa(n.max) + "}")
	}
	if !n.greedy {
		b.WriteByte('?')
	}
}

// writeLit writes a literal; a case-insensitive one as the sets of
// characters Python matches for each of its characters.
func writeLit(b *strings.Builder, n *Node) {
	for _, r := range n.runes {
		if n.flags&flagI == 0 {
			b.WriteString(litRune(r))
			continue
		}
		s := pyFoldRune(r, n.flags&flagA != 0)
		if len(s) == 1 && s[0].lo == s[0].hi {
			b.WriteString(litRune(r))
			continue
		}
		writeSet(b, s)
	}
}

// writeSet writes an explicit set of characters.
func writeSet(b *strings.Builder, s rangeSet) {
	switch {
	case len(s) == 0:
		b.WriteString(`[^\x00-\x{10ffff}]`)
	default:
		b.WriteByte('[')
		b.WriteString(rangesBody(s))
		b.WriteByte(']')
	}
}
