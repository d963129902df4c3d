package date

import (
	"bytes"
	"unicode/utf8"

	"github.com/banfleet/banfleet/agent/filter/internal/pyre"
)

// Hand-written matchers for Fail2Ban's default templates: BSD syslog
// ("Nov 26 06:35:46"), ISO 8601 ("2026-11-26T06:35:46.123+00:00"), Apache
// ("26/Nov/2026:06:35:46 +0000") and the other default formats, each as
// the line-anchored copy, the word-bounded default, the
// "^[^\[]*\[({DATE})" form of the apache filters and a plain "^" form;
// and EPOCH and TAI64N.
//
// A matcher walks a short list of elements, one per strptime directive or
// literal, trying each element's alternatives in the order Python's regex
// engine would, so the first success is the match Fail2Ban gets. It only
// decides on ASCII text: when it reads a non-ASCII byte (where Python's
// \d, \s, \w or IGNORECASE could see a digit, a space, a letter or the
// Kelvin sign) it answers fastUnknown and the regex engine decides. The
// fuzz test checks every matcher against the engine.

type fastResult uint8

const (
	fastUnknown fastResult = iota // the engine must decide
	fastMatch
	fastNoMatch
)

type elKind uint8

const (
	eLit         elKind = iota // b
	eOptLit                    // b? (greedy)
	eSet                       // [set]
	eOptSet                    // [set]?
	eAltTSpace                 // (?:T|  ?)
	eSepCap                    // (?P<_sep>[set])
	eSepRef                    // (?P=_sep)
	eOptWeekday                // (?:%a )?
	eMonth                     // %b
	eNum                       // digits: %d %m %H %k %M %S %I %Exy ...
	eExY                       // %ExY
	eExYOrY2                   // (?:%ExY|%Exy)
	eOptFrac                   // (?:[set]%f)?
	eOptYear                   // (?: %ExY)?
	eOptZone                   // (?:\s*%z)? or (?: %z)?
	eOptZoneSp                 // (?:%z )?
	eOptZoneName               // (?:%Z )? with IGNORECASE
	eAMPM                      // %p with IGNORECASE
	eEnd                       // (?=\b|\W|$)
)

type numField uint8

const (
	nfDay numField = iota
	nfMonth
	nfHour
	nfMinute
	nfSecond
	nfHour12
	nfYear2
	numFields
)

// numOpt is one alternative of a number: n characters, each from a set of
// digits (bits 0-9) or a space (bit 10, not part of the value).
type numOpt struct {
	n    int
	sets [2]uint16
}

const (
	dAll   = 0x3ff
	dSpace = 1 << 10
)

func dRange(lo, hi int) uint16 {
	var m uint16
	for i := lo; i <= hi; i++ {
		m |= 1 << i
	}
	return m
}

func d1(set uint16) numOpt        { return numOpt{1, [2]uint16{set}} }
func d2(set0, set1 uint16) numOpt { return numOpt{2, [2]uint16{set0, set1}} }
func digitSet(ds ...int) (m uint16) {
	for _, d := range ds {
		m |= 1 << d
	}
	return
}

// The alternatives of the strptime directives, in regex order.
var (
	numD   = []numOpt{d2(dRange(1, 2), dAll), d2(1|dSpace, dRange(1, 9)), d1(dRange(1, 9)), d2(digitSet(3), dRange(0, 1))} // [1-2]\d|[0 ]?[1-9]|3[0-1]
	numExd = []numOpt{d2(dRange(1, 2), dAll), d2(digitSet(0), dRange(1, 9)), d2(digitSet(3), dRange(0, 1))}                // [1-2]\d|0[1-9]|3[0-1]
	numM   = []numOpt{d2(digitSet(0), dRange(1, 9)), d1(dRange(1, 9)), d2(digitSet(1), dRange(0, 2))}                      // 0?[1-9]|1[0-2]
	numExm = []numOpt{d2(digitSet(0), dRange(1, 9)), d2(digitSet(1), dRange(0, 2))}                                        // 0[1-9]|1[0-2]
	numH   = []numOpt{d2(dRange(0, 1), dAll), d1(dAll), d2(digitSet(2), dRange(0, 3))}                                     // [0-1]?\d|2[0-3]
	numExH = []numOpt{d2(dRange(0, 1), dAll), d2(digitSet(2), dRange(0, 3))}                                               // [0-1]\d|2[0-3]
	numK   = []numOpt{d2(dRange(0, 2), dAll), d1(dAll)}                                                                    // [0-2]?\d (after " ?")
	numI   = []numOpt{d2(digitSet(1), dRange(0, 2)), d2(digitSet(0), dRange(1, 9)), d1(dRange(1, 9))}                      // 1[0-2]|0[1-9]|[1-9]
	numMin = []numOpt{d2(dRange(0, 5), dAll), d1(dAll)}                                                                    // [0-5]?\d
	numExM = []numOpt{d2(dRange(0, 5), dAll)}                                                                              // [0-5]\d
	numSec = []numOpt{d2(dRange(0, 5), dAll), d1(dAll), d2(digitSet(6), dRange(0, 1))}                                     // [0-5]?\d|6[0-1]
	numExS = []numOpt{d2(dRange(0, 5), dAll), d2(digitSet(6), dRange(0, 1))}                                               // [0-5]\d|6[0-1]
	numTwo = []numOpt{d2(dAll, dAll)}                                                                                      // \d{2}
)

type element struct {
	kind  elKind
	b     byte
	set   string
	opts  []numOpt
	field numField
	star  bool // eOptZone: \s* rather than one space
}

// fastCore is one strptime pattern written as elements.
type fastCore struct {
	pattern string
	els     []element
}

func lit(b byte) element { return element{kind: eLit, b: b} }

func num(f numField, opts []numOpt) element { return element{kind: eNum, field: f, opts: opts} }

func el(k elKind) element { return element{kind: k} }

// hms is %H:%M:%S and its variants, then the rest.
func hms(h []numOpt, m []numOpt, s []numOpt, rest ...element) []element {
	return append([]element{num(nfHour, h), lit(':'), num(nfMinute, m), lit(':'), num(nfSecond, s)}, rest...)
}

func concat(parts ...[]element) []element {
	var out []element
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	asctimeHead = []element{el(eOptWeekday), el(eMonth), lit(' '), num(nfDay, numD), lit(' ')}
	kHour       = []element{{kind: eOptLit, b: ' '}}
	fracDot     = element{kind: eOptFrac, set: "."}
	fracDotComa = element{kind: eOptFrac, set: ".,"}
	isoHead     = []element{el(eExY), {kind: eSepCap, set: "-/."}, num(nfMonth, numM), el(eSepRef), num(nfDay, numD)}
)

// fastCores are the default templates (and close variants used by
// Fail2Ban's filters) as elements.
var fastCores = []fastCore{
	{`%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
		concat(isoHead, []element{el(eAltTSpace)}, hms(numH, numMin, numSec, fracDotComa, element{kind: eOptZone, star: true}, el(eEnd)))},
	{`%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
		concat(isoHead, []element{{kind: eSet, set: "T "}}, hms(numH, numMin, numSec, fracDotComa, element{kind: eOptZone, star: true}, el(eEnd)))},
	{`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
		concat(asctimeHead, kHour, hms(numK, numMin, numSec, fracDot, el(eOptYear), el(eEnd)))},
	{`(?:%a )?%b %d %H:%M:%S(?:\.%f)?(?: %ExY)?`,
		concat(asctimeHead, hms(numH, numMin, numSec, fracDot, el(eOptYear), el(eEnd)))},
	{`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
		concat(asctimeHead, []element{el(eExY), lit(' ')}, kHour, hms(numK, numMin, numSec, fracDot, el(eEnd)))},
	{`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`,
		concat([]element{num(nfDay, numD), {kind: eSepCap, set: "-/"}, num(nfMonth, numM), el(eSepRef), el(eExYOrY2), lit(' ')}, kHour, hms(numK, numMin, numSec, el(eEnd)))},
	{`%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
		concat([]element{num(nfDay, numD), {kind: eSepCap, set: "-/"}, el(eMonth), el(eSepRef), el(eExY), {kind: eOptSet, set: " :"}},
			hms(numH, numMin, numSec, fracDot, el(eOptZone), el(eEnd)))},
	{`%m/%d/%ExY:%H:%M:%S`,
		concat([]element{num(nfMonth, numM), lit('/'), num(nfDay, numD), lit('/'), el(eExY), lit(':')}, hms(numH, numMin, numSec, el(eEnd)))},
	{`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
		concat([]element{num(nfMonth, numM), lit('-'), num(nfDay, numD), lit('-'), el(eExY), lit(' ')}, kHour, hms(numK, numMin, numSec, fracDot, el(eEnd)))},
	{`%Exy%Exm%Exd  ?%H:%M:%S`,
		concat([]element{num(nfYear2, numTwo), num(nfMonth, numExm), num(nfDay, numExd), lit(' '), {kind: eOptLit, b: ' '}}, hms(numH, numMin, numSec, el(eEnd)))},
	{`%b %d, %ExY %I:%M:%S %p`,
		[]element{el(eMonth), lit(' '), num(nfDay, numD), lit(','), lit(' '), el(eExY), lit(' '),
			num(nfHour12, numI), lit(':'), num(nfMinute, numMin), lit(':'), num(nfSecond, numSec), lit(' '), el(eAMPM), el(eEnd)}},
	{`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
		[]element{el(eExY), num(nfMonth, numExm), num(nfDay, numExd), el(eAltTSpace), num(nfHour, numExH), num(nfMinute, numExM), num(nfSecond, numExS),
			fracDotComa, {kind: eOptZone, star: true}, el(eEnd)}},
	{`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
		concat([]element{el(eOptZoneName)}, asctimeHead, kHour, hms(numK, numMin, numSec, fracDot, el(eOptYear), el(eEnd)))},
	{`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
		concat([]element{el(eOptZoneSp)}, asctimeHead, kHour, hms(numK, numMin, numSec, fracDot, el(eOptYear), el(eEnd)))},
}

type prefixMode uint8

const (
	modeLineStart prefixMode = iota // ^(?:\W{0,2})?(core)
	modeWord                        // (?=^|\b|\W)(core)
	modeBracket                     // ^[^\[]*\[(core)
	modeCaret                       // ^(core)
	modeSearch                      // (core), anywhere
)

var modeAffix = []struct{ before, after string }{
	modeLineStart: {`^(?:\W{0,2})?(`, `)(?=\b|\W|$)`},
	modeWord:      {`(?=^|\b|\W)(`, `)(?=\b|\W|$)`},
	modeBracket:   {`^[^\[]*\[(`, `)(?=\b|\W|$)`},
	modeCaret:     {`^(`, `)(?=\b|\W|$)`},
}

type coreKind uint8

const (
	coreElements coreKind = iota
	coreEpoch             // \d{10,11}\b(?:\.\d{3,6})?
	coreTAI64N            // @[0-9a-f]{24}
)

// fastTemplate is a core behind one of the prefixes.
type fastTemplate struct {
	kind  coreKind
	els   []element
	mode  prefixMode
	cents *[1000]bool // accepted first three digits of %ExY
	first [256]bool   // bytes the core can start with
	fold  bool        // (?iu): %z's letters are case-insensitive too
}

// fastTemplates maps the regex of each template with a hand-written
// matcher to that matcher, for one %ExY.
func fastTemplates(dirs *directives, year int) map[string]*fastTemplate {
	var cents [1000]bool
	for c := range exYCents(year) {
		cents[(int(c[0]-'0')*10+int(c[1]-'0'))*10+int(c[2]-'0')] = true
	}
	out := map[string]*fastTemplate{}
	for _, fc := range fastCores {
		core, _, err := dirs.expand(fc.pattern)
		if err != nil {
			panic(err)
		}
		flags := ""
		if reAlphaPattern.MatchString(fc.pattern) {
			flags = `(?iu)`
		}
		for mode, a := range modeAffix {
			ft := &fastTemplate{els: fc.els, mode: prefixMode(mode), cents: &cents, fold: flags != ""}
			ft.first = firstBytes(fc.els, &cents)
			out[flags+a.before+core+a.after] = ft
		}
	}
	epoch := func(mode prefixMode) *fastTemplate { return &fastTemplate{kind: coreEpoch, mode: mode} }
	out[`((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))`+epochRE+`)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))(?=\b|\W|$)`] = epoch(modeSearch)
	out[`^(?:\W{0,2})?((?P<square>(?<=^\[))?`+epochRE+`)(?(square)(?=\]))(?=\b|\W|$)`] = epoch(modeLineStart)
	tai := &fastTemplate{kind: coreTAI64N, mode: modeSearch}
	tai.first['@'] = true
	out[`(@[0-9a-f]{24})(?=\b|\W|$)`] = tai
	out[`^(?:\W{0,2})?(@[0-9a-f]{24})(?=\b|\W|$)`] = &fastTemplate{kind: coreTAI64N, mode: modeLineStart}
	return out
}

var monthIndex, weekdayIndex = func() (m, w [26 * 26 * 26]int8) {
	key := func(s string) int { return (int(s[0]-'a')*26+int(s[1]-'a'))*26 + int(s[2]-'a') }
	for i, s := range monthAbbr[1:] {
		m[key(s)] = int8(i + 1)
	}
	for i, s := range weekdayAbbr {
		w[key(s)] = int8(i + 1)
	}
	return
}()

// firstBytes is the set of bytes a match of els can start with.
func firstBytes(els []element, cents *[1000]bool) (f [256]bool) {
	letters := func(s string) {
		for i := 0; i < len(s); i++ {
			f[s[i]] = true
			f[s[i]-'a'+'A'] = true
		}
	}
	digits := func(set uint16) {
		for d := 0; d < 10; d++ {
			if set&(1<<d) != 0 {
				f['0'+d] = true
			}
		}
		if set&dSpace != 0 {
			f[' '] = true
		}
	}
	for _, e := range els {
		switch e.kind {
		case eOptWeekday:
			letters("mtwfs")
			continue
		case eOptZoneName:
			letters("abcdefghijklmnopqrstuvwxyz")
			continue
		case eOptZoneSp:
			letters("zug")
			f['+'], f['-'] = true, true
			continue
		case eMonth:
			letters("jfmasond")
		case eNum:
			for _, o := range e.opts {
				digits(o.sets[0])
			}
		case eExY, eExYOrY2:
			for c := range cents {
				if cents[c] {
					f['0'+c/100] = true
				}
			}
			if e.kind == eExYOrY2 {
				digits(dAll)
			}
		default:
			panic("firstBytes: unexpected leading element")
		}
		return f
	}
	return f
}

// isWordByte is Python's \w for ASCII; non-ASCII bytes count as word
// characters here but never reach a decision (see fastState.at).
var isWordByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 0x80 || pyre.IsWord(rune(c))
	}
	return
}()

// spaceByte is Python's \s for ASCII (pyre's table).
var spaceByte = func() (t [256]bool) {
	for c := 0; c < 0x80; c++ {
		t[c] = pyre.IsSpace(rune(c))
	}
	return
}()

// mayStartNonASCII reports whether a match of a core could start with r
// in Python: a Unicode digit (for \d) or a character that IGNORECASE
// equates with an ASCII letter.
func mayStartNonASCII(r rune) bool {
	return pyre.IsDigit(r) || pyre.FoldsToASCII(r)
}

// isSpaceByte is Python's \s for ASCII.
func isSpaceByte(c byte) bool { return spaceByte[c] }

// fastState is the scratch space of one search.
type fastState struct {
	line     []byte
	nonASCII bool
	cents    *[1000]bool
	sep      byte
	vals     [numFields]int
	year     int
	hasYear  bool
	tz       int
	hasTZ    bool
	tzBad    bool
	fold     bool // the template is case-insensitive
	zm       *pyre.Machine
	pm       int8 // %p: 0 none, 1 am, 2 pm
	matchEnd int
}

// at returns the byte at p, 0 at the end, and 0xff (matching nothing)
// for a non-ASCII byte, which it records.
func (st *fastState) at(p int) byte {
	if uint(p) >= uint(len(st.line)) {
		return 0
	}
	c := st.line[p]
	if c >= 0x80 {
		st.nonASCII = true
		return 0xff
	}
	return c
}

func (st *fastState) digit(p int) (int, bool) {
	c := st.at(p)
	if c >= '0' && c <= '9' {
		return int(c - '0'), true
	}
	return 0, false
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func (st *fastState) name3(p int, table *[26 * 26 * 26]int8) int {
	a, b, c := st.at(p), st.at(p+1), st.at(p+2)
	if !isLetter(a) || !isLetter(b) || !isLetter(c) {
		return 0
	}
	a, b, c = a|0x20, b|0x20, c|0x20
	return int(table[(int(a-'a')*26+int(b-'a'))*26+int(c-'a')])
}

func (st *fastState) exY(p int) (int, bool) {
	v := 0
	for k := 0; k < 4; k++ {
		d, ok := st.digit(p + k)
		if !ok {
			return 0, false
		}
		v = v*10 + d
	}
	if !st.cents[v/10] {
		return 0, false
	}
	return v, true
}

// charMask is a byte's bit in a numOpt set: a digit or the space.
var charMask = func() (t [256]uint16) {
	for d := 0; d < 10; d++ {
		t['0'+d] = 1 << d
	}
	t[' '] = dSpace
	return
}()

// match tries elements els[i:] at p, alternatives in regex order. Elements
// with a single way to match are walked in a loop; the others recurse.
func (st *fastState) match(els []element, i, p int) bool {
	for {
		e := &els[i]
		switch e.kind {
		case eLit:
			if st.at(p) != e.b {
				return false
			}
			i, p = i+1, p+1
		case eSet:
			c := st.at(p)
			if c == 0 || !indexByte(e.set, c) {
				return false
			}
			i, p = i+1, p+1
		case eSepCap:
			c := st.at(p)
			if c == 0 || !indexByte(e.set, c) {
				return false
			}
			st.sep = c
			i, p = i+1, p+1
		case eSepRef:
			if st.at(p) != st.sep {
				return false
			}
			i, p = i+1, p+1
		case eMonth:
			m := st.name3(p, &monthIndex)
			if m == 0 {
				return false
			}
			st.vals[nfMonth] = m
			i, p = i+1, p+3
		case eExY:
			y, ok := st.exY(p)
			if !ok {
				return false
			}
			st.year, st.hasYear = y, true
			i, p = i+1, p+4
		case eAMPM:
			a, m := st.at(p)|0x20, st.at(p+1)|0x20
			if a != 'a' && a != 'p' || m != 'm' {
				return false
			}
			st.pm = 1
			if a == 'p' {
				st.pm = 2
			}
			i, p = i+1, p+2
		case eOptLit:
			if st.at(p) == e.b && st.match(els, i+1, p+1) {
				return true
			}
			i++
		case eOptSet:
			if c := st.at(p); c != 0 && indexByte(e.set, c) && st.match(els, i+1, p+1) {
				return true
			}
			i++
		case eAltTSpace:
			switch st.at(p) {
			case 'T':
				i, p = i+1, p+1
			case ' ':
				if st.at(p+1) == ' ' && st.match(els, i+1, p+2) {
					return true
				}
				i, p = i+1, p+1
			default:
				return false
			}
		case eOptWeekday:
			if st.name3(p, &weekdayIndex) != 0 && st.at(p+3) == ' ' && st.match(els, i+1, p+4) {
				return true
			}
			i++
		case eNum:
			return st.number(els, i, p)
		case eExYOrY2:
			if y, ok := st.exY(p); ok {
				st.year, st.hasYear = y, true
				if st.match(els, i+1, p+4) {
					return true
				}
			}
			d0, ok0 := st.digit(p)
			d1, ok1 := st.digit(p + 1)
			if !ok0 || !ok1 {
				return false
			}
			st.year, st.hasYear = year2(d0*10+d1), true
			i, p = i+1, p+2
		case eOptFrac:
			if c := st.at(p); c != 0 && indexByte(e.set, c) {
				n := 0
				for n < 6 {
					if _, ok := st.digit(p + 1 + n); !ok {
						break
					}
					n++
				}
				for ; n >= 1; n-- {
					if st.match(els, i+1, p+1+n) {
						return true
					}
				}
			}
			i++
		case eOptYear:
			if st.at(p) == ' ' {
				if y, ok := st.exY(p + 1); ok {
					st.year, st.hasYear = y, true
					if st.match(els, i+1, p+5) {
						return true
					}
				}
			}
			st.hasYear = false
			i++
		case eOptZone:
			if e.star {
				n := 0
				for {
					c := st.at(p + n)
					if c == 0 || !isSpaceByte(c) {
						break
					}
					n++
				}
				for ; n >= 0; n-- {
					if st.zone(els, i, p+n, 0) {
						return true
					}
				}
			} else if st.at(p) == ' ' && st.zone(els, i, p+1, 0) {
				return true
			}
			st.hasTZ, st.tzBad = false, false
			i++
		case eOptZoneSp:
			if st.zone(els, i, p, ' ') {
				return true
			}
			st.hasTZ, st.tzBad = false, false
			i++
		case eOptZoneName:
			if st.zoneName(els, i, p) {
				return true
			}
			st.hasTZ, st.tzBad = false, false
			i++
		case eEnd:
			// (?=\b|\W|$) after a word character
			if c := st.at(p); c != 0 && isWordByte[c] {
				return false
			}
			st.matchEnd = p
			return true
		default:
			return false
		}
	}
}

// year2 is strptime's %y: two digits up to 2000 are in this century.
func year2(v int) int {
	if v <= 2000 {
		return v + 2000
	}
	return v
}

// number tries the alternatives of a numeric directive at p.
func (st *fastState) number(els []element, i, p int) bool {
	e := &els[i]
	c0, c1 := st.at(p), st.at(p+1)
	m0, m1 := charMask[c0], charMask[c1]
	if m0 == 0 {
		return false
	}
	for oi := range e.opts {
		o := &e.opts[oi]
		if o.sets[0]&m0 == 0 {
			continue
		}
		v := 0
		if m0 != dSpace {
			v = int(c0 - '0')
		}
		if o.n == 2 {
			if o.sets[1]&m1 == 0 {
				continue
			}
			if m1 != dSpace {
				v = v*10 + int(c1-'0')
			}
		}
		st.vals[e.field] = v
		if st.match(els, i+1, p+o.n) {
			return true
		}
	}
	return false
}

// zoneNext continues after a zone that ends at p: the trailing byte (if
// any), then the elements after i.
func (st *fastState) zoneNext(els []element, i, p int, trail byte) bool {
	if trail != 0 {
		if st.at(p) != trail {
			return false
		}
		p++
	}
	return st.match(els, i+1, p)
}

// zone tries %z (Z|UTC|GMT|[+-][01]\d(?::?\d{2})?) at q, then trail (if
// any), then the elements after i.
func (st *fastState) zone(els []element, i, q int, trail byte) bool {
	st.hasTZ, st.tz, st.tzBad = true, 0, false
	c := st.at(q)
	if st.fold && isLetter(c) {
		// IGNORECASE: "z", "utc", "Gmt" match, but only "Z", "UTC" and
		// "GMT" are zones for strptime.
		a, b := st.at(q+1), st.at(q+2)
		switch c | 0x20 {
		case 'z':
			st.tzBad = c != 'Z'
			return st.zoneNext(els, i, q+1, trail)
		case 'u':
			if a|0x20 == 't' && b|0x20 == 'c' {
				st.tzBad = c != 'U' || a != 'T' || b != 'C'
				return st.zoneNext(els, i, q+3, trail)
			}
		case 'g':
			if a|0x20 == 'm' && b|0x20 == 't' {
				st.tzBad = c != 'G' || a != 'M' || b != 'T'
				return st.zoneNext(els, i, q+3, trail)
			}
		}
		return false
	}
	switch c {
	case 'Z':
		return st.zoneNext(els, i, q+1, trail)
	case 'U':
		return st.at(q+1) == 'T' && st.at(q+2) == 'C' && st.zoneNext(els, i, q+3, trail)
	case 'G':
		return st.at(q+1) == 'M' && st.at(q+2) == 'T' && st.zoneNext(els, i, q+3, trail)
	case '+', '-':
		sign := 1
		if c == '-' {
			sign = -1
		}
		h1, ok1 := st.digit(q + 1)
		h2, ok2 := st.digit(q + 2)
		if !ok1 || !ok2 || h1 > 1 {
			return false
		}
		h := h1*10 + h2
		if st.at(q+3) == ':' {
			if m1, ok := st.digit(q + 4); ok {
				if m2, ok := st.digit(q + 5); ok {
					st.tz = sign * (h*60 + m1*10 + m2)
					if st.zoneNext(els, i, q+6, trail) {
						return true
					}
				}
			}
		}
		if m1, ok := st.digit(q + 3); ok {
			if m2, ok := st.digit(q + 4); ok {
				st.tz = sign * (h*60 + m1*10 + m2)
				if st.zoneNext(els, i, q+5, trail) {
					return true
				}
			}
		}
		st.tz = sign * h * 60
		return st.zoneNext(els, i, q+3, trail)
	}
	return false
}

// zoneName tries %Z under IGNORECASE (Z|[A-Z]{3,5}) and a space at q.
func (st *fastState) zoneName(els []element, i, q int) bool {
	n := 0
	for n < 5 && isLetter(st.at(q+n)) {
		n++
	}
	if n == 0 {
		return false
	}
	set := func(k int) {
		st.hasTZ, st.tzBad = true, false
		name := st.line[q : q+k]
		switch string(name) {
		case "Z", "UTC", "GMT":
			st.tz = 0
		default:
			off, ok := zoneOffset(st.zm, name)
			st.tz, st.tzBad = off, !ok
		}
	}
	if c := st.at(q); c|0x20 == 'z' && st.at(q+1) == ' ' {
		set(1)
		if st.match(els, i+1, q+2) {
			return true
		}
	}
	for k := n; k >= 3; k-- {
		if st.at(q+k) == ' ' {
			set(k)
			if st.match(els, i+1, q+k+1) {
				return true
			}
		}
	}
	return false
}

func indexByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// epoch matches \d{10,11}\b(?:\.\d{3,6})? and the word end at p.
func (st *fastState) epoch(p int) bool {
	n := 0
	for n < 12 {
		if _, ok := st.digit(p + n); !ok {
			break
		}
		n++
	}
	if n != 10 && n != 11 { // \d{10,11}\b needs the digits to end there
		return false
	}
	q := p + n
	if st.at(q) == '.' {
		f := 0
		for f < 7 {
			if _, ok := st.digit(q + 1 + f); !ok {
				break
			}
			f++
		}
		for k := min(f, 6); k >= 3; k-- {
			if c := st.at(q + 1 + k); c == 0 || !isWordByte[c] {
				st.matchEnd = q + 1 + k
				return true
			}
		}
	}
	if c := st.at(q); c != 0 && isWordByte[c] {
		return false
	}
	st.matchEnd = q
	return true
}

// tai64n matches @[0-9a-f]{24} and the word end at p.
func (st *fastState) tai64n(p int) bool {
	if st.at(p) != '@' {
		return false
	}
	for k := 1; k <= 24; k++ {
		c := st.at(p + k)
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	if c := st.at(p + 25); c != 0 && isWordByte[c] {
		return false
	}
	st.matchEnd = p + 25
	return true
}

func (ft *fastTemplate) core(st *fastState, p int) bool {
	switch ft.kind {
	case coreEpoch:
		return st.epoch(p)
	case coreTAI64N:
		return st.tai64n(p)
	}
	return st.match(ft.els, 0, p)
}

// search runs the template on line[pos:endpos]; st is scratch space.
func (ft *fastTemplate) search(st *fastState, line []byte, pos, endpos int, res *matchResult) fastResult {
	st.line, st.cents, st.fold = line[:endpos], ft.cents, ft.fold
	st.nonASCII, st.hasYear, st.hasTZ, st.tzBad, st.pm = false, false, false, false, 0
	s0, s1 := -1, -1
	switch ft.mode {
	case modeLineStart:
		if pos != 0 {
			return fastNoMatch
		}
		n := 0
		for n < 2 {
			c := st.at(n)
			if c == 0 && n >= endpos || isWordByte[c] {
				break
			}
			n++
		}
		for k := n; k >= 0; k-- {
			if ft.core(st, k) {
				s0, s1 = 0, k
				break
			}
		}
	case modeCaret:
		if pos == 0 && ft.core(st, 0) {
			s0, s1 = 0, 0
		}
	case modeBracket:
		if pos != 0 {
			return fastNoMatch
		}
		i := bytes.IndexByte(line[:endpos], '[')
		if i < 0 {
			return fastNoMatch
		}
		if ft.core(st, i+1) {
			s0, s1 = 0, i+1
		}
	case modeWord:
		for s := pos; s < endpos; {
			c := line[s]
			if c >= 0x80 {
				r, w := utf8.DecodeRune(line[s:])
				if mayStartNonASCII(r) {
					return fastUnknown
				}
				s += w
				continue
			}
			if !ft.first[c] {
				s++
				continue
			}
			// (?=^|\b|\W): the core starts with a word character unless it
			// starts with a space, so the previous character must not be one
			if s > 0 && isWordByte[c] {
				prev := line[s-1]
				word := isWordByte[prev]
				if prev >= 0x80 {
					r, _ := utf8.DecodeLastRune(line[:s])
					word = pyre.IsWord(r)
				}
				if word {
					s++
					continue
				}
			}
			if ft.core(st, s) {
				s0, s1 = s, s
				break
			}
			s++
		}
	case modeSearch:
		if ft.kind == coreEpoch {
			s0, s1 = ft.searchEpoch(st, line, pos, endpos)
			break
		}
		for s := pos; s < endpos; s++ {
			i := bytes.IndexByte(line[s:endpos], '@')
			if i < 0 {
				break
			}
			s += i
			if ft.core(st, s) {
				s0, s1 = s, s
				break
			}
		}
	}
	if st.nonASCII {
		return fastUnknown
	}
	if s1 < 0 {
		return fastNoMatch
	}
	res.s0, res.s1, res.e0, res.e1 = s0, s1, st.matchEnd, st.matchEnd
	if ft.kind != coreElements {
		res.ns, res.ne = s1, st.matchEnd
		return fastMatch
	}
	hour := st.vals[nfHour]
	if st.pm != 0 { // %I with %p
		hour = st.vals[nfHour12]
		switch {
		case st.pm == 1 && hour == 12:
			hour = 0
		case st.pm == 2 && hour != 12:
			hour += 12
		}
	}
	year, hasYear := st.year, st.hasYear
	if ft.els[0].kind == eNum && ft.els[0].field == nfYear2 {
		year, hasYear = year2(st.vals[nfYear2]), true
	}
	res.f = fields{
		year: year, hasYear: hasYear,
		month: st.vals[nfMonth], hasMonth: true,
		day: st.vals[nfDay], hasDay: true,
		hour: hour, minute: st.vals[nfMinute], second: st.vals[nfSecond],
		tzoff: st.tz, hasTZ: st.hasTZ, bad: st.tzBad,
	}
	return fastMatch
}

// searchEpoch is the unanchored EPOCH template: the number starts the line,
// follows a '[' that starts the line, or follows "audit(" at a word start.
// (Its conditional lookaheads never decide: an alternative that requires
// nothing always follows.)
func (ft *fastTemplate) searchEpoch(st *fastState, line []byte, pos, endpos int) (int, int) {
	if pos == 0 && ft.core(st, 0) {
		return 0, 0
	}
	if pos <= 1 && endpos > 1 && line[0] == '[' && ft.core(st, 1) {
		return 1, 1
	}
	audit := []byte("audit(")
	for from := max(pos, 6) - 6; from < endpos; {
		i := bytes.Index(line[from:endpos], audit)
		if i < 0 {
			break
		}
		a := from + i // where "audit(" starts; the number at a+6 >= pos
		from = a + 1
		if a > 0 && isWordByte[line[a-1]] {
			if line[a-1] >= 0x80 {
				st.nonASCII = true
				return -1, -1
			}
			continue
		}
		if ft.core(st, a+6) {
			return a + 6, a + 6
		}
	}
	return -1, -1
}
