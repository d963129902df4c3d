package f2b

import (
	"github.com/banfleet/banfleet/agent/filter/internal/pyre"

	"strings"
	"unicode/utf8"
)

// A hand-written prefregex for Fail2Ban's standard one.
//
// Most filters built on common.conf have the prefregex
//
//	^<F-MLFID>%(__prefix_line)s</F-MLFID>%(__pref)s<F-CONTENT>.+</F-CONTENT>$
//
// where __prefix_line (logtype file) is a row of optional parts around the
// daemon name D:
//
//	(?:\[\])?\s*(?:<[^.]+\.[^.]+>\s+)?(?:\S+\s+)?(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?
//	(?:@vserver_\S+\s+)?(?:(?:(?:\[\d+\])?:\s+[\[\(]?D(?:\(\S+\))?[\]\)]?:?|
//	[\[\(]?D(?:\(\S+\))?[\]\)]?:?(?:\[\d+\])?:?)\s+)?(?:\[ID \d+ \S+\]\s+)?
//
// When D and __pref are finite sets of strings (sshd: D = "sshd", __pref =
// "(?:(?:error|fatal): (?:PAM: )?)?"), this parser gives the same mlfid and
// content as the regex. Every part is optional and the content (.+$)
// matches any non-empty rest, so a backtracking engine keeps the first way
// each part matches on its own, unless the content comes out empty; that
// case, and anything the parser is unsure of (a non-ASCII character where
// \d is tried), is handed back to the regex.

const (
	plHead = `^(?P<mlfid>(?:\[\])?\s*(?:<[^.]+\.[^.]+>\s+)?(?:\S+\s+)?(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?(?:@vserver_\S+\s+)?(?:(?:(?:\[\d+\])?:\s+[\[\(]?`
	plMid  = `(?:\(\S+\))?[\]\)]?:?|[\[\(]?`
	plTail = `(?:\(\S+\))?[\]\)]?:?(?:\[\d+\])?:?)\s+)?(?:\[ID \d+ \S+\]\s+)?)`
	plCont = `(?P<content>.+)$`
)

type prefixParser struct {
	daemons []string // D's strings, in the order a backtracking engine tries them
	prefs   []string // __pref's strings, in order
	mlfid   int      // group numbers in the prefregex
	content int
	ngroups int
}

// recognisePrefix returns a parser for r if it is the standard prefregex.
func recognisePrefix(r *regex) *prefixParser {
	s, ok := strings.CutPrefix(r.src, plHead)
	if !ok || !strings.HasSuffix(s, plCont) {
		return nil
	}
	s = strings.TrimSuffix(s, plCont)
	i := strings.Index(s, plMid)
	if i <= 0 {
		return nil
	}
	d := s[:i]
	rest, ok := strings.CutPrefix(s[i+len(plMid):], d)
	if !ok {
		return nil
	}
	pref, ok := strings.CutPrefix(rest, plTail)
	if !ok {
		return nil
	}
	pp := &prefixParser{mlfid: r.groupNumber("mlfid"), content: r.groupNumber("content"), ngroups: r.ngroups}
	if pp.mlfid != 1 || pp.content != 2 || r.ngroups != 2 {
		return nil
	}
	pp.daemons = pyre.FiniteStrings(d)
	pp.prefs = pyre.FiniteStrings(pref)
	if pp.prefs == nil && pref == "" {
		pp.prefs = []string{""}
	}
	if len(pp.daemons) == 0 || len(pp.prefs) == 0 {
		return nil
	}
	for _, dm := range pp.daemons {
		if dm == "" {
			return nil
		}
		r, _ := utf8.DecodeRuneInString(dm)
		if pyre.IsSpace(r) || r == '[' || r == '(' || r == ':' || r >= utf8.RuneSelf {
			return nil
		}
	}
	return pp
}

// parse results
const (
	ppFail = iota
	ppOK
	ppBail
)

// parse runs the prefregex on buf (a single line ending in '\n') and fills
// spans like regex.search. definite is false when the regex must decide.
func (pp *prefixParser) parse(buf []byte, spans []int) (out []int, matched, definite bool) {
	n := 2 * (pp.ngroups + 1)
	if cap(spans) < n {
		spans = make([]int, n)
	}
	spans = spans[:n]
	p, res := pp.mlfidEnd(buf)
	if res != ppOK {
		return spans, false, false
	}
	last := len(buf) - 1 // the final '\n'
	for _, s := range pp.prefs {
		if len(buf)-p > len(s) && string(buf[p:p+len(s)]) == s && p+len(s) < last {
			spans[0], spans[1] = 0, last
			spans[2], spans[3] = 0, p
			spans[4], spans[5] = p+len(s), last
			return spans, true, true
		}
	}
	return spans, false, false
}

// asciiSpace marks Python's ASCII whitespace: \t \n \v \f \r, \x1c-\x1f, ' '.
var asciiSpace = [128]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true,
	0x1c: true, 0x1d: true, 0x1e: true, 0x1f: true, ' ': true}

func spaceAt(b []byte, i int) (bool, int) {
	if i >= len(b) {
		return false, 0
	}
	if c := b[i]; c < utf8.RuneSelf {
		return asciiSpace[c], 1
	}
	r, n := utf8.DecodeRune(b[i:])
	return pyre.IsSpace(r), n
}

// skipSpace skips \s* from i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		if c := b[i]; c < utf8.RuneSelf {
			if !asciiSpace[c] {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if !pyre.IsSpace(r) {
			return i
		}
		i += n
	}
	return i
}

// skipNonSpace skips \S* from i.
func skipNonSpace(b []byte, i int) int {
	for i < len(b) {
		if c := b[i]; c < utf8.RuneSelf {
			if asciiSpace[c] {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if pyre.IsSpace(r) {
			return i
		}
		i += n
	}
	return i
}

// digits skips \d+ (ASCII); bail when a non-ASCII character could be a
// Unicode digit.
func digits(b []byte, i int) (int, uint8) {
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j < len(b) && b[j] >= utf8.RuneSelf {
		return 0, ppBail
	}
	if j == i {
		return 0, ppFail
	}
	return j, ppOK
}

func hasAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// mlfidEnd matches __prefix_line at the start of b.
func (pp *prefixParser) mlfidEnd(b []byte) (int, uint8) {
	p := 0
	// (?:\[\])?
	if hasAt(b, p, "[]") {
		p += 2
	}
	// \s*
	p = skipSpace(b, p)
	// (?:<[^.]+\.[^.]+>\s+)?
	if p < len(b) && b[p] == '<' {
		i := p + 1
		for i < len(b) && b[i] != '.' {
			i++
		}
		if i > p+1 && i < len(b) {
			q := i + 1
			r := q
			for r < len(b) && b[r] != '.' {
				r++
			}
			for j := r - 1; j > q; j-- {
				if b[j] == '>' {
					if sp, _ := spaceAt(b, j+1); sp {
						p = skipSpace(b, j+1)
						break
					}
				}
			}
		}
	}
	// (?:\S+\s+)?
	if sp, n := spaceAt(b, p); !sp && n > 0 {
		j := skipNonSpace(b, p)
		if sp, _ := spaceAt(b, j); sp {
			p = skipSpace(b, j)
		}
	}
	// (?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?
	if hasAt(b, p, "kernel:") {
		i := p + len("kernel:")
		if sp, n := spaceAt(b, i); sp && hasAt(b, i+n, "[") {
			i += n
		}
		if hasAt(b, i, "[") {
			i++
			for i < len(b) && b[i] == ' ' {
				i++
			}
			j, res := digits(b, i)
			if res == ppBail {
				return 0, ppBail
			}
			if res == ppOK && hasAt(b, j, ".") {
				k, res := digits(b, j+1)
				if res == ppBail {
					return 0, ppBail
				}
				if res == ppOK && hasAt(b, k, "]") {
					k++
					if hasAt(b, k, ":") {
						if sp, _ := spaceAt(b, k+1); sp {
							k++
						}
					}
					if sp, _ := spaceAt(b, k); sp {
						p = skipSpace(b, k)
					}
				}
			}
		}
	}
	// (?:@vserver_\S+\s+)?
	if hasAt(b, p, "@vserver_") {
		i := p + len("@vserver_")
		j := skipNonSpace(b, i)
		if j > i {
			if sp, _ := spaceAt(b, j); sp {
				p = skipSpace(b, j)
			}
		}
	}
	// (?:(?:ALT1|ALT2)\s+)?
	if e, res := pp.daemonPart(b, p); res == ppBail {
		return 0, ppBail
	} else if res == ppOK {
		p = e
	}
	// (?:\[ID \d+ \S+\]\s+)?
	if hasAt(b, p, "[ID ") {
		i := p + len("[ID ")
		j, res := digits(b, i)
		if res == ppBail {
			return 0, ppBail
		}
		if res == ppOK && hasAt(b, j, " ") {
			q := j + 1
			r := skipNonSpace(b, q)
			if r-1 > q && b[r-1] == ']' {
				if sp, _ := spaceAt(b, r); sp {
					p = skipSpace(b, r)
				}
			}
		}
	}
	return p, ppOK
}

// items of the daemon part's two alternatives
const (
	itPid      = iota // (?:\[\d+\])?
	itColon           // :
	itWs              // \s+
	itOpen            // [\[\(]?
	itDaemon          // D
	itParen           // (?:\(\S+\))?
	itClose           // [\]\)]?
	itOptColon        // :?
)

var (
	alt1Items = []uint8{itPid, itColon, itWs, itOpen, itDaemon, itParen, itClose, itOptColon, itWs}
	alt2Items = []uint8{itOpen, itDaemon, itParen, itClose, itOptColon, itPid, itOptColon, itWs}
)

func (pp *prefixParser) daemonPart(b []byte, p int) (int, uint8) {
	// The usual "D[pid]: ": the first alternative fails at once (D starts
	// with neither '[' nor ':'), and the second takes its first option at
	// every step, so this is what the enumeration below would find.
	if d := pp.daemons[0]; hasAt(b, p, d) {
		i := p + len(d)
		if hasAt(b, i, "[") {
			j := i + 1
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j > i+1 && hasAt(b, j, "]:") {
				if sp, _ := spaceAt(b, j+2); sp {
					return skipSpace(b, j+2), ppOK
				}
			}
		}
	}
	if e, res := pp.try(b, alt1Items, 0, p); res != ppFail {
		return e, res
	}
	return pp.try(b, alt2Items, 0, p)
}

// try matches items[i:] at pos, trying each item's options in the order a
// backtracking engine does, and returns the end of the first full match.
func (pp *prefixParser) try(b []byte, items []uint8, i, pos int) (int, uint8) {
	if i == len(items) {
		return pos, ppOK
	}
	switch items[i] {
	case itPid:
		if hasAt(b, pos, "[") {
			j, res := digits(b, pos+1)
			if res == ppBail {
				return 0, ppBail
			}
			if res == ppOK && hasAt(b, j, "]") {
				if e, res := pp.try(b, items, i+1, j+1); res != ppFail {
					return e, res
				}
			}
		}
		return pp.try(b, items, i+1, pos)
	case itColon:
		if hasAt(b, pos, ":") {
			return pp.try(b, items, i+1, pos+1)
		}
		return 0, ppFail
	case itWs:
		// greedy: longest run first
		end := skipSpace(b, pos)
		if end == pos {
			return 0, ppFail
		}
		for e := end; e > pos; {
			if r, res := pp.try(b, items, i+1, e); res != ppFail {
				return r, res
			}
			_, n := utf8.DecodeLastRune(b[pos:e])
			e -= n
		}
		return 0, ppFail
	case itOpen, itClose:
		set := "[("
		if items[i] == itClose {
			set = "])"
		}
		if pos < len(b) && strings.IndexByte(set, b[pos]) >= 0 {
			if e, res := pp.try(b, items, i+1, pos+1); res != ppFail {
				return e, res
			}
		}
		return pp.try(b, items, i+1, pos)
	case itOptColon:
		if hasAt(b, pos, ":") {
			if e, res := pp.try(b, items, i+1, pos+1); res != ppFail {
				return e, res
			}
		}
		return pp.try(b, items, i+1, pos)
	case itDaemon:
		for _, d := range pp.daemons {
			if hasAt(b, pos, d) {
				if e, res := pp.try(b, items, i+1, pos+len(d)); res != ppFail {
					return e, res
				}
			}
		}
		return 0, ppFail
	case itParen:
		if hasAt(b, pos, "(") {
			r := skipNonSpace(b, pos+1)
			for j := r - 1; j >= pos+2; j-- {
				if b[j] == ')' {
					if e, res := pp.try(b, items, i+1, j+1); res != ppFail {
						return e, res
					}
				}
			}
		}
		return pp.try(b, items, i+1, pos)
	}
	return 0, ppFail
}
