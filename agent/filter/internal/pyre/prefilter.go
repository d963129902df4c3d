package pyre

import (
	"bytes"
	"slices"
	"strings"
	"unicode/utf8"
)

// Prefilter holds cheap checks derived from a regex at compile time that
// every match must pass: for a regex anchored at the start of the buffer,
// its literal prefix and the set of possible first bytes; for any regex,
// literal strings that every match contains. Failing one proves the regex
// cannot match, so the engine is not run.
type Prefilter struct {
	Anchored bool
	Prefix   []byte   // the literal every match starts with
	Prefixes [][]byte // or one of these (when there are several)
	First    ByteSet  // possible first bytes (anchored only)
	AnyFirst bool     // no first-byte restriction
	Req      [][]byte // literals every match contains
}

// ByteSet is a set of bytes.
type ByteSet [4]uint64

func (s *ByteSet) add(c byte) { s[c>>6] |= 1 << (c & 63) }

// Has reports whether c is in s.
func (s *ByteSet) Has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *ByteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

// Pass reports whether buf passes every check (a match is possible).
func (p *Prefilter) Pass(buf []byte) bool {
	if p.Anchored {
		if len(p.Prefix) > 0 && !bytes.HasPrefix(buf, p.Prefix) {
			return false
		}
		if p.Prefixes != nil && !hasAnyPrefix(buf, p.Prefixes) {
			return false
		}
		if !p.AnyFirst && (len(buf) == 0 || !p.First.Has(buf[0])) {
			return false
		}
	}
	for _, l := range p.Req {
		if !bytes.Contains(buf, l) {
			return false
		}
	}
	return true
}

// maxReq bounds the number of required literals checked per regex.
const maxReq = 4

func buildPrefilter(t *Node, anchored bool) Prefilter {
	p := Prefilter{Anchored: anchored, AnyFirst: true}
	body := t
	if anchored {
		body = afterAnchor(t)
		if body != nil {
			if runes, _ := litPrefix(body); len(runes) > 0 {
				p.Prefix = []byte(string(runes))
			}
			set, _ := prefixSet(body, 16)
			if set = minimalPrefixes(set); len(set) > 1 {
				for _, s := range set {
					p.Prefixes = append(p.Prefixes, []byte(s))
				}
			}
			fs := firstSet(body)
			if !fs.any && !nullable(body) {
				p.AnyFirst = false
				for _, r := range fs.s {
					addRuneRange(&p.First, r.lo, r.hi)
				}
			}
		}
	}
	var lits [][]byte
	reqLits(t, &lits)
	// drop duplicates, the prefix itself and literals inside longer ones
	slices.SortFunc(lits, func(a, b []byte) int { return len(b) - len(a) })
	var keep [][]byte
	for _, l := range lits {
		if bytes.HasPrefix(p.Prefix, l) {
			continue
		}
		dup := false
		for _, k := range keep {
			if bytes.Contains(k, l) {
				dup = true
				break
			}
		}
		if !dup {
			keep = append(keep, l)
		}
		if len(keep) == maxReq {
			break
		}
	}
	p.Req = keep
	return p
}

func addRuneRange(s *ByteSet, lo, hi rune) {
	if lo < utf8.RuneSelf {
		h := hi
		if h >= utf8.RuneSelf {
			h = utf8.RuneSelf - 1
		}
		s.addRange(byte(lo), byte(h))
	}
	if hi >= utf8.RuneSelf {
		// any UTF-8 lead byte (and bytes of invalid UTF-8, which Go reads
		// as U+FFFD)
		s.addRange(0x80, 0xff)
	}
}

// afterAnchor returns the part of an anchored tree after its leading \A.
func afterAnchor(t *Node) *Node {
	switch t.kind {
	case nBegin, nBeginStr:
		return &Node{kind: nEmpty}
	case nConcat:
		if len(t.subs) > 0 && (t.subs[0].kind == nBegin || t.subs[0].kind == nBeginStr) {
			return mkConcat(t.subs[1:])
		}
	}
	return nil
}

// litPrefix returns the literal text every match of n starts with.
func litPrefix(n *Node) ([]rune, bool) {
	switch n.kind {
	case nLit:
		if n.flags&flagI != 0 {
			return nil, false
		}
		return n.runes, true
	case nEmpty:
		return nil, true
	case nGroup:
		return litPrefix(n.subs[0])
	case nConcat:
		var out []rune
		for _, s := range n.subs {
			r, complete := litPrefix(s)
			out = append(out, r...)
			if !complete {
				return out, false
			}
		}
		return out, true
	}
	return nil, false
}

// reqLits collects literal strings (of 2 bytes or more) every match of n
// contains.
func reqLits(n *Node, out *[][]byte) {
	switch n.kind {
	case nLit:
		if n.flags&flagI == 0 {
			b := []byte(string(n.runes))
			if len(b) >= 2 {
				*out = append(*out, b)
			}
		}
	case nConcat:
		// adjacent literals across group boundaries are separate nodes;
		// join literal runs within this sequence
		var run []rune
		flush := func() {
			if len(run) > 0 {
				if b := []byte(string(run)); len(b) >= 2 {
					*out = append(*out, b)
				}
			}
			run = nil
		}
		for _, s := range n.subs {
			if s.kind == nLit && s.flags&flagI == 0 {
				run = append(run, s.runes...)
				continue
			}
			flush()
			reqLits(s, out)
		}
		flush()
	case nGroup, nAtomic:
		reqLits(n.subs[0], out)
	case nRepeat:
		if n.min >= 1 {
			reqLits(n.subs[0], out)
		}
	case nAlt:
		// a literal every branch requires
		var common [][]byte
		for i, s := range n.subs {
			var l [][]byte
			reqLits(s, &l)
			if i == 0 {
				common = l
				continue
			}
			common = slices.DeleteFunc(common, func(c []byte) bool {
				return !slices.ContainsFunc(l, func(x []byte) bool { return bytes.Contains(x, c) })
			})
		}
		*out = append(*out, common...)
	}
}

func hasAnyPrefix(b []byte, ps [][]byte) bool {
	for _, p := range ps {
		if bytes.HasPrefix(b, p) {
			return true
		}
	}
	return false
}

// prefixSet returns strings one of which every match of n starts with
// (at most limit of them), and whether n matches exactly one of them.
func prefixSet(n *Node, limit int) ([]string, bool) {
	switch n.kind {
	case nEmpty:
		return []string{""}, true
	case nLit:
		if n.flags&flagI != 0 {
			return []string{""}, false
		}
		return []string{string(n.runes)}, true
	case nClass:
		if n.flags&flagI != 0 {
			return []string{""}, false
		}
		s := n.cls.set(n.flags&flagA != 0)
		var out []string
		for _, r := range s {
			if r.hi-r.lo >= rune(limit) {
				return []string{""}, false
			}
			for c := r.lo; c <= r.hi; c++ {
				out = append(out, string(c))
			}
		}
		if len(out) == 0 || len(out) > limit {
			return []string{""}, false
		}
		return out, true
	case nGroup:
		return prefixSet(n.subs[0], limit)
	case nConcat:
		acc := []string{""}
		for _, s := range n.subs {
			set, complete := prefixSet(s, limit)
			if len(acc)*len(set) > limit {
				return acc, false
			}
			var next []string
			for _, a := range acc {
				for _, b := range set {
					next = append(next, a+b)
				}
			}
			acc = next
			if !complete {
				return acc, false
			}
		}
		return acc, true
	case nAlt:
		var out []string
		complete := true
		for _, s := range n.subs {
			set, c := prefixSet(s, limit)
			complete = complete && c
			out = append(out, set...)
		}
		if len(out) > limit {
			return []string{""}, false
		}
		return out, complete
	case nRepeat:
		if n.min == 1 && n.max == 1 {
			return prefixSet(n.subs[0], limit)
		}
		if n.min >= 1 {
			set, _ := prefixSet(n.subs[0], limit)
			return set, false
		}
		if n.max == 1 {
			set, c := prefixSet(n.subs[0], limit)
			if !c {
				return []string{""}, false
			}
			if n.greedy {
				return append(set, ""), true
			}
			return append([]string{""}, set...), true
		}
	}
	return []string{""}, false
}

// minimalPrefixes drops strings another one is a prefix of; nil when the
// empty string is among them (no restriction).
func minimalPrefixes(set []string) []string {
	var out []string
	for i, s := range set {
		if s == "" {
			return nil
		}
		redundant := false
		for j, t := range set {
			if j != i && strings.HasPrefix(s, t) && (len(t) < len(s) || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, s)
		}
	}
	return out
}
