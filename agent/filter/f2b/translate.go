package f2b

import (
	"errors"
	"strconv"
	"strings"
)

// errNeedsBacktracking marks a regex that Go's RE2 cannot run with Python's
// meaning (lookarounds, backreferences, conditionals, atomic groups,
// possessive quantifiers, Unicode \b in an unknown context ...).
var errNeedsBacktracking = errors.New("needs a backtracking engine")

// groupName is the capture name emitted for Python group number g; the
// translation keeps Python's numbering whatever the emitted layout.
func groupName(g int) string { return "g" + strconv.Itoa(g) }

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
	b         strings.Builder
	multiBuf  bool // the regex is searched on buffers that can hold several lines
	tailEnd   *node
	err       error
	maxRepeat int
}

func emitRE2(root *node, multiBuf bool) (string, error) {
	e := &re2Emitter{multiBuf: multiBuf}
	e.tailEnd = lastNode(root)
	e.emit(root)
	if e.err != nil {
		return "", e.err
	}
	return e.b.String(), nil
}

// lastNode returns the final element of the top-level sequence.
func lastNode(n *node) *node {
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

func (e *re2Emitter) emit(n *node) {
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
			writeSet(b, pyFoldClass(n.cls, n.flags&flagA != 0), false)
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
		b.WriteString("(?P<" + groupName(n.group) + ">")
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
		b.WriteString("(?:")
		e.emit(n.subs[0])
		b.WriteString(")")
		writeQuant(b, n)
	default: // nLook, nBackref, nCond, nAtomic
		e.fail()
	}
}

func writeQuant(b *strings.Builder, n *node) {
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

// emitNet writes the original tree in the syntax of regexp2's default
// (.NET) mode with Python's meaning: explicit Unicode classes, \b as
// lookarounds over Python's \w, Python's $ (which .NET's $ already is), \Z as
// \z, named groups for every Python group so that numbering cannot differ.
func emitNet(root *node) string {
	var b strings.Builder
	netNode(&b, root)
	return b.String()
}

func netNode(b *strings.Builder, n *node) {
	switch n.kind {
	case nEmpty:
		b.WriteString("(?:)")
	case nNever:
		b.WriteString(`(?!)`)
	case nLit:
		writeLit(b, n)
	case nClass:
		if n.flags&flagI != 0 {
			writeSet(b, pyFoldClass(n.cls, n.flags&flagA != 0), true)
			return
		}
		body, neg := n.cls.classBody(n.flags&flagA != 0)
		switch {
		case body == "" && neg:
			b.WriteString(`[\x{0}-\x{10ffff}]`)
		case body == "":
			b.WriteString(`(?!)`)
		default:
			b.WriteByte('[')
			if neg {
				b.WriteByte('^')
			}
			b.WriteString(body)
			b.WriteByte(']')
		}
	case nAny:
		if n.flags&flagS != 0 {
			b.WriteString(`[\x{0}-\x{10ffff}]`)
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
		if n.flags&flagM != 0 {
			b.WriteString("(?m:$)")
		} else {
			b.WriteString("(?-m:$)")
		}
	case nBeginStr:
		b.WriteString(`\A`)
	case nEndStr:
		b.WriteString(`\z`)
	case nWordB, nNotWordB:
		w := "[" + pyWordRE2 + "]"
		if n.flags&flagA != 0 {
			w = "[" + asciiWordRE2 + "]"
		}
		if n.kind == nWordB {
			b.WriteString("(?:(?<=" + w + ")(?!" + w + ")|(?<!" + w + ")(?=" + w + "))")
		} else {
			b.WriteString("(?:(?<=" + w + ")(?=" + w + ")|(?<!" + w + ")(?!" + w + "))")
		}
	case nConcat:
		for _, s := range n.subs {
			netNode(b, s)
		}
	case nAlt:
		b.WriteString("(?:")
		for i, s := range n.subs {
			if i > 0 {
				b.WriteByte('|')
			}
			netNode(b, s)
		}
		b.WriteString(")")
	case nGroup:
		b.WriteString("(?<" + groupName(n.group) + ">")
		netNode(b, n.subs[0])
		b.WriteString(")")
	case nRepeat:
		if n.possessive {
			b.WriteString("(?>")
		}
		b.WriteString("(?:")
		netNode(b, n.subs[0])
		b.WriteString(")")
		writeQuant(b, n)
		if n.possessive {
			b.WriteString(")")
		}
	case nLook:
		switch {
		case n.behind && n.neg:
			b.WriteString("(?<!")
		case n.behind:
			b.WriteString("(?<=")
		case n.neg:
			b.WriteString("(?!")
		default:
			b.WriteString("(?=")
		}
		netNode(b, n.subs[0])
		b.WriteString(")")
	case nBackref:
		b.WriteString(`\k<` + groupName(n.group) + `>`)
	case nCond:
		b.WriteString("(?(" + groupName(n.group) + ")")
		netNode(b, n.subs[0])
		b.WriteString("|")
		netNode(b, n.subs[1])
		b.WriteString(")")
	case nAtomic:
		b.WriteString("(?>")
		netNode(b, n.subs[0])
		b.WriteString(")")
	}
}

// writeLit writes a literal; a case-insensitive one as the sets of
// characters Python matches for each of its characters.
func writeLit(b *strings.Builder, n *node) {
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
		writeSet(b, s, false)
	}
}

// writeSet writes an explicit set of characters (net: regexp2 syntax).
func writeSet(b *strings.Builder, s rangeSet, net bool) {
	switch {
	case len(s) == 0:
		if net {
			b.WriteString(`(?!)`)
		} else {
			b.WriteString(`[^\x00-\x{10ffff}]`)
		}
	default:
		b.WriteByte('[')
		b.WriteString(rangesBody(s))
		b.WriteByte(']')
	}
}
