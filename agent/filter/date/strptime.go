package date

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/banfleet/banfleet/agent/filter/internal/pyre"
)

// Fail2Ban's strptime directives (fail2ban/server/strptime.py on top of
// Python 3.11's _strptime.TimeRE in the C locale), in the order of Python's
// dict. %ExY is filled in from the current year by exYRegex.
var directiveRE = []struct{ key, re string }{
	{"%", "%"},
	{"A", `(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)`},
	{"B", `(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)`},
	{"ExH", `(?P<H>[0-1]\d|2[0-3])`},
	{"ExM", `(?P<M>[0-5]\d)`},
	{"ExS", `(?P<S>[0-5]\d|6[0-1])`},
	{"ExY", ""},
	{"ExZ", `(?P<Z>[A-Z](?:[A-Z]{2,4})?)`},
	{"Exd", `(?P<d>[1-2]\d|0[1-9]|3[0-1])`},
	{"Exk", ` ?(?P<H>[0-1]?\d|2[0-3])`},
	{"Exl", ` ?(?P<I>1[0-2]|\d)`},
	{"Exm", `(?P<m>0[1-9]|1[0-2])`},
	{"Exy", `(?P<y>\d{2})`},
	{"Exz", `(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d{2})?|[A-Z](?:[A-Z]{2,4})?)`},
	{"G", `(?P<G>\d\d\d\d)`},
	{"H", `(?P<H>[0-1]?\d|2[0-3])`},
	{"I", `(?P<I>1[0-2]|0[1-9]|[1-9])`},
	{"M", `(?P<M>[0-5]?\d)`},
	{"S", `(?P<S>[0-5]?\d|6[0-1])`},
	{"U", `(?P<U>5[0-3]|[0-4]\d|\d)`},
	{"V", `(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)`},
	{"W", `(?P<W>5[0-3]|[0-4]\d|\d)`},
	{"X", `(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)`},
	{"Y", `(?P<Y>\d{4})`},
	{"Z", `(?P<Z>Z|[A-Z]{3,5})`},
	{"a", `(?P<a>mon|tue|wed|thu|fri|sat|sun)`},
	{"b", `(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)`},
	{"c", `(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)\s+(?P<Y>\d\d\d\d)`},
	{"d", `(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])`},
	{"f", `(?P<f>[0-9]{1,6})`},
	{"j", `(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])`},
	{"k", ` ?(?P<H>[0-2]?\d)`},
	{"l", ` ?(?P<I>1?\d)`},
	{"m", `(?P<m>0?[1-9]|1[0-2])`},
	{"p", `(?P<p>am|pm)`},
	{"u", `(?P<u>[1-7])`},
	{"w", `(?P<w>[0-6])`},
	{"x", `(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])/(?P<y>\d\d)`},
	{"y", `(?P<y>\d\d)`},
	{"z", `(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)`},
}

// directiveName is the text that stands for a directive in a template's
// name (Fail2Ban's getTimePatternRE names; names decide duplicates).
var directiveName = map[string]string{
	"a": "DAY", "A": "DAYNAME", "b": "MON", "B": "MONTH", "d": "Day",
	"H": "24hour", "I": "12hour", "j": "Yearday", "m": "Month",
	"M": "Minute", "p": "AMPM", "S": "Second", "U": "Yearweek",
	"w": "Weekday", "W": "Yearweek", "y": "Year2", "Y": "Year", "%": "%",
	"z": "Zone offset", "f": "Microseconds", "Z": "Zone name",
}

func nameOf(key string) string {
	if n, ok := directiveName[key]; ok {
		return n
	}
	if strings.HasPrefix(key, "Ex") {
		if n, ok := directiveName[key[2:]]; ok {
			return "Ex" + n
		}
	}
	return "%" + key
}

// exYRegex builds %ExY the way strptime._updateTimeRE does: the centuries
// ("202" for 2026) of last year, of three years ahead, and of every third
// year from 2000 up to now.
func exYRegex(year int) string {
	cent := func(y int) string {
		s := strconv.Itoa(y)
		if len(s) > 3 {
			s = s[:3]
		}
		return s
	}
	set := map[string]bool{cent(year - 1): true, cent(year + 3): true}
	for i := -1; i < year-2001+1; i += 3 {
		set[cent(2001+i)] = true
	}
	list := make([]string, 0, len(set))
	for s := range set {
		list = append(list, s)
	}
	sort.Strings(list)
	return `(?P<Y>` + centGroup(list) + `\d)`
}

// centGroup is strptime._getYearCentRE's grp(): factor a common prefix out
// of the strings, then a character class or an alternation. c == nil
// stands for Python's None.
func centGroup(set []string) string {
	if len(set) > 1 {
		var c *string
		for _, s := range set {
			p := s[:len(s)-1]
			if c == nil || p == *c {
				c = &p
			} else {
				c = nil
				break
			}
		}
		if c == nil || *c == "" {
			for _, s := range set {
				if c == nil || (s != "" && s[:1] == *c) {
					p := s[:1]
					c = &p
				} else {
					c = nil
					break
				}
			}
		}
		if c != nil && *c != "" {
			rest := make([]string, len(set))
			for i, s := range set {
				rest[i] = s[len(*c):]
			}
			return *c + centGroup(rest)
		}
	}
	if len(set) > 1 {
		if len(set[0]) > 1 {
			return "(?:" + strings.Join(set, "|") + ")"
		}
		return "[" + strings.Join(set, "") + "]"
	}
	return strings.Join(set, "")
}

// exYCents lists the three-digit year prefixes %ExY accepts.
func exYCents(year int) map[string]bool {
	re := pyre.MustCompile(`^` + exYRegex(year) + `$`)
	out := map[string]bool{}
	for c := 0; c < 1000; c++ {
		s := fmt.Sprintf("%03d0", c)
		if re.MatchString(s) {
			out[s[:3]] = true
		}
	}
	return out
}

// directives maps each directive key to its regex for one %ExY.
type directives struct {
	re   map[string]string
	keys *pyre.Regexp // Fail2Ban's _patternRE
}

func newDirectives(year int) *directives {
	d := &directives{re: map[string]string{}}
	var multi, single []string
	for _, e := range directiveRE {
		v := e.re
		if e.key == "ExY" {
			v = exYRegex(year)
		}
		d.re[e.key] = v
		if len(e.key) > 1 {
			multi = append(multi, e.key)
		} else {
			single = append(single, e.key)
		}
	}
	// Python orders the multi-letter keys by dict order; none is a prefix
	// of another, so the order does not change what matches.
	d.keys = pyre.MustCompile(`%(%|` + strings.Join(multi, "|") + `|[` + escapeClass(strings.Join(single, "")) + `])`)
	return d
}

func escapeClass(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c == ']' || c == '\\' || c == '^' || c == '-' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// expand replaces the directives of a datepattern by their regexes (and
// by their names for the template's name), as DatePatternRegex.setRegex
// does with Python's %-formatting. A '%' that is not a directive is an
// error, as it is for Python's formatting.
func (d *directives) expand(pattern string) (regex, name string, err error) {
	var rb, nb strings.Builder
	last := 0
	var bad error
	check := func(lit string) {
		if bad == nil && strings.Contains(lit, "%") {
			i := strings.Index(lit, "%")
			if i+1 < len(lit) {
				bad = fmt.Errorf("unsupported format character %q", lit[i+1:i+2])
			} else {
				bad = fmt.Errorf("incomplete format")
			}
		}
	}
	var m pyre.Machine
	b := []byte(pattern)
	for pos := 0; pos <= len(b); {
		if !d.keys.Search(&m, b, pos, len(b)) {
			break
		}
		s, e := m.Group(0)
		ks, ke := m.Group(1)
		key := pattern[ks:ke]
		lit := pattern[last:s]
		check(lit)
		rb.WriteString(lit)
		nb.WriteString(lit)
		rb.WriteString(d.re[key])
		nb.WriteString(nameOf(key))
		last, pos = e, e
	}
	lit := pattern[last:]
	check(lit)
	if bad != nil {
		return "", "", bad
	}
	rb.WriteString(lit)
	nb.WriteString(lit)
	return rb.String(), nb.String(), nil
}

// Time zone abbreviations Fail2Ban knows (strptime.TZ_STR), as offsets in
// minutes.
var tzAbbr = func() map[string]int {
	const tzStr = `
	-12 Y
	-11 X NUT SST
	-10 W CKT HAST HST TAHT TKT
	-9 V AKST GAMT GIT HADT HNY
	-8 U AKDT CIST HAY HNP PST PT
	-7 T HAP HNR MST PDT
	-6 S CST EAST GALT HAR HNC MDT
	-5 R CDT COT EASST ECT EST ET HAC HNE PET
	-4 Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT
	-3 P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT
	-2 O BRST FNT PMDT UYST WGST
	-1 N AZOT CVT EGT
	0 Z EGST GMT UTC WET WT
	1 A CET DFT WAT WEDT WEST
	2 B CAT CEDT CEST EET SAST WAST
	3 C EAT EEDT EEST IDT MSK
	4 D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT
	5 E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT
	6 F ALMT BIOT BTT IOT KGT NOVT OMST YEKST
	7 G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB
	8 H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST
	9 I AWDT IRKST JST KST PWT TLT WDT WIT YAKT
	10 K AEST ChST PGT VLAT YAKST YAPT
	11 L AEDT LHDT MAGT NCT PONT SBT VLAST VUT
	12 M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT
	13 FJST NZDT
	11.5 NFT
	10.5 ACDT LHST
	9.5 ACST
	6.5 CCT MMT
	5.75 NPT
	5.5 SLT
	4.5 AFT IRDT
	3.5 IRST
	-2.5 HAT NDT
	-3.5 HNT NST NT
	-4.5 HLV VET
	-9.5 MART MIT
`
	m := map[string]int{"": 0}
	for _, line := range strings.Split(tzStr, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		h, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			panic(err)
		}
		for _, z := range f[1:] {
			m[z] = int(h * 60)
		}
	}
	return m
}()

// fixedOffsetTZ is strptime.FIXED_OFFSET_TZ_RE.
var fixedOffsetTZ = pyre.MustCompile(`(?:([A-Z](?:[A-Z]{2,4})?)?([+-][01]\d(?::?\d{2})?)?$)`)

// zoneOffset is strptime.validateTimeZone/zone2offset: "CET", "UTC+0200",
// "+01:00", "GMT-04", "" (0). ok is false where Fail2Ban raises. m is
// scratch space (nil: allocate one).
func zoneOffset(m *pyre.Machine, s []byte) (minutes int, ok bool) {
	if m == nil {
		m = new(pyre.Machine)
	}
	if !fixedOffsetTZ.Match(m, s, 0, len(s)) {
		return 0, false
	}
	base := 0
	if ns, ne := m.Group(1); ns >= 0 {
		v, known := tzAbbr[string(s[ns:ne])]
		if !known {
			return 0, false
		}
		base = v
	}
	os, oe := m.Group(2)
	if os < 0 || os == oe {
		return base, true
	}
	// [+-]hh, [+-]hhmm or [+-]hh:mm, where Python's \d may be any decimal
	// digit
	var tzo [6]rune
	n := 0
	for _, r := range string(s[os:oe]) {
		if n == len(tzo) {
			return 0, false
		}
		tzo[n] = r
		n++
	}
	digit := func(i int) int { return digitValue(tzo[i]) }
	sign := 1
	if tzo[0] == '-' {
		sign = -1
	}
	h := digit(1)*10 + digit(2)
	switch n {
	case 3:
		return base + sign*h*60, true
	case 5:
		return base + sign*(h*60+digit(3)*10+digit(4)), true
	case 6:
		return base + sign*(h*60+digit(4)*10+digit(5)), true
	}
	return 0, false
}

// pyInt parses like Python's int(str): surrounding whitespace, a sign,
// Unicode decimal digits, single underscores between digits.
func pyInt(s string) (int, bool) {
	s = strings.TrimFunc(s, pyre.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	v, digits, under := 0, 0, false
	for _, r := range s {
		if r == '_' {
			if digits == 0 || under {
				return 0, false
			}
			under = true
			continue
		}
		d := digitValue(r)
		if d < 0 {
			return 0, false
		}
		under = false
		digits++
		if v > 1<<40 {
			return 0, false
		}
		v = v*10 + d
	}
	if under {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// digitValue returns the value of a Unicode decimal digit, or -1. Decimal
// digits come in runs of ten starting at a zero.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	if r < utf8.RuneSelf || !pyre.IsDigit(r) {
		return -1
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	return -1
}

// asciiDigits replaces Unicode decimal digits by ASCII ones (for float
// parsing, which Python also does on any decimal digit).
func asciiDigits(s string) string {
	for _, r := range s {
		if r >= utf8.RuneSelf {
			var b strings.Builder
			for _, r := range s {
				if d := digitValue(r); d >= 0 {
					b.WriteByte(byte('0' + d))
				} else {
					b.WriteRune(r)
				}
			}
			return b.String()
		}
	}
	return s
}

var (
	monthAbbr   = []string{"", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	monthFull   = []string{"", "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	weekdayAbbr = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	weekdayFull = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)

// lowerIndex is list.index(val.lower()) for Python's LocaleTime lists;
// non-ASCII text never lowers to these names.
func lowerIndex(list []string, val []byte) int {
	for i, name := range list {
		if len(name) != len(val) {
			continue
		}
		ok := true
		for j := 0; j < len(val); j++ {
			c := val[j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != name[j] {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}
