package date

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/banfleet/banfleet/agent/filter/internal/pyre"
)

// Template flags (DateTemplate.LINE_BEGIN ...).
const (
	flagLineBegin = 8
	flagLineEnd   = 4
	flagWordBegin = 2
	flagWordEnd   = 1
)

type templateKind uint8

const (
	kindPattern templateKind = iota // DatePatternRegex
	kindEpoch                       // DateEpoch
	kindTAI64N                      // DateTai64n
)

// fieldKey is a strptime group name reGroupDictStrptime reads.
type fieldKey uint8

const (
	fkNone        fieldKey = iota
	fkY2                   // y
	fkY                    // Y
	fkMonth                // m
	fkMonthFull            // B
	fkMonthAbbr            // b
	fkDay                  // d
	fkHour                 // H
	fkHour12               // I
	fkMinute               // M
	fkSecond               // S
	fkWeekdayFull          // A
	fkWeekdayAbbr          // a
	fkWeekdayNum           // w
	fkJulian               // j
	fkWeekU                // U
	fkWeekW                // W
	fkZone                 // z, Z
	fkAMPM                 // p
)

var fieldKeys = map[string]fieldKey{
	"y": fkY2, "Y": fkY, "m": fkMonth, "B": fkMonthFull, "b": fkMonthAbbr,
	"d": fkDay, "H": fkHour, "I": fkHour12, "M": fkMinute, "S": fkSecond,
	"A": fkWeekdayFull, "a": fkWeekdayAbbr, "w": fkWeekdayNum, "j": fkJulian,
	"U": fkWeekU, "W": fkWeekW, "z": fkZone, "Z": fkZone, "p": fkAMPM,
}

type fieldGroup struct {
	group int
	key   fieldKey
}

// template is one of Fail2Ban's date templates. Templates are immutable and
// shared between detectors; per-detector state (hits, ...) lives in entry.
type template struct {
	name       string
	pattern    string // DatePatternRegex.pattern (kindPattern only)
	regex      string // the Python regex Fail2Ban searches with
	flags      int
	weight     float64
	kind       templateKind
	re         *pyre.Regexp
	fields     []fieldGroup // kindPattern: groups read by strptime, in order
	ampmGroup  int          // group "p", or -1
	epochGroup int          // kindEpoch: group holding the number
	longEpoch  bool
	fast       *fastTemplate // a hand-written equivalent of re, or nil
	needsHMS   bool          // every match holds "H:M:S": check hasHMS first
}

// Meta patterns of fail2ban/server/datetemplate.py, run with the same
// regex semantics Fail2Ban runs them with.
var (
	reGrouped        = pyre.MustCompile(`(?<!(?:\(\?))(?<!\\)\((?!\?)`)
	reGroup          = pyre.MustCompile(`^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$`)
	reGlobalFlags    = pyre.MustCompile(`((?:^|(?!<\\))\(\?[a-z]+\))`)
	reExlineNoBounds = pyre.MustCompile(`^\{UNB\}`)
	reExlineBoundBeg = pyre.MustCompile(`^\{\^LN-BEG\}`)
	reExsancBoundBeg = pyre.MustCompile(`^\((?:\?:)?\^\|\\b\|\\W\)`)
	reExeancBoundBeg = pyre.MustCompile(`\(\?=\\b\|\\W\|\$\)$`)
	reNoWrdBoundBeg  = pyre.MustCompile(`^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)`)
	reNoWrdBoundEnd  = pyre.MustCompile(`(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$`)
	reDelWrdBounds   = pyre.MustCompile(`^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$`)
	reLineBoundBeg   = pyre.MustCompile(`^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))`)
	reLineBoundEnd   = pyre.MustCompile(`(?<![\\\|])(?:\$\)?)$`)
	reAlphaPattern   = pyre.MustCompile(`(?<!\%)\%[aAbBpc]`)
	reEpochPattern   = pyre.MustCompile(`(?i)(?<!\\)\{L?EPOCH\}`)
	reDatePrematch   = pyre.MustCompile(`(?i)(?<!\\)\{DATE\}`)
)

type wordBeginMode uint8

const (
	wbNone  wordBeginMode = iota // no boundary on the left
	wbWord                       // (?=^|\b|\W)
	wbStart                      // ^(?:\W{0,2})? ("start")
)

// setRegex is DateTemplate.setRegex: add the boundaries, make sure there
// is a group 1, compute the flags, drop the ** markers.
func (t *template) setRegex(regex string, wordBegin wordBeginMode, wordEnd bool) {
	regex = strings.TrimFunc(regex, pyre.IsSpace)
	gf := reGlobalFlags.FindString(regex)
	if gf != nil {
		regex = reGlobalFlags.ReplaceString(regex, 1, "")
	}
	boundBegin := wordBegin != wbNone && !reNoWrdBoundBeg.MatchString(regex)
	boundEnd := wordEnd && !reNoWrdBoundEnd.MatchString(regex)
	if !reGrouped.MatchString(regex) {
		regex = reGroup.ReplaceString(regex, 0, `\1(\2)\3`)
	}
	t.flags = 0
	if boundBegin {
		if wordBegin != wbStart {
			t.flags |= flagWordBegin
			regex = `(?=^|\b|\W)` + regex
		} else {
			t.flags |= flagLineBegin
			regex = `^(?:\W{0,2})?` + regex
			if !strings.HasPrefix(t.name, "{^LN-BEG}") {
				t.name = "{^LN-BEG}" + t.name
			}
		}
	}
	if boundEnd {
		t.flags |= flagWordEnd
		regex += `(?=\b|\W|$)`
	}
	if t.flags&flagLineBegin == 0 && reLineBoundBeg.MatchString(regex) {
		t.flags |= flagLineBegin
	}
	if t.flags&flagLineEnd == 0 && reLineBoundEnd.MatchString(regex) {
		t.flags |= flagLineEnd
	}
	regex = reDelWrdBounds.ReplaceFunc(regex, 0, func(m *pyre.Match) string {
		return strings.ReplaceAll(m.Group(0), "**", "")
	})
	if gf != nil {
		regex = gf.Group(1) + regex
	}
	t.regex = regex
}

// newPatternTemplate is DatePatternRegex(pattern).
func newPatternTemplate(dirs *directives, pattern string) (*template, error) {
	t := &template{kind: kindPattern, pattern: pattern, weight: 1}
	wordBegin, wordEnd := wbWord, true
	if reExlineNoBounds.MatchString(pattern) {
		pattern = reExlineNoBounds.ReplaceString(pattern, 0, "")
		wordBegin, wordEnd = wbNone, false
	}
	if wordBegin != wbNone && reExlineBoundBeg.MatchString(pattern) {
		pattern = reExlineBoundBeg.ReplaceString(pattern, 0, "")
		wordBegin = wbStart
	}
	regex, name, err := dirs.expand(pattern)
	if err != nil {
		return nil, fmt.Errorf("failed to set datepattern %q (may be an invalid format or unescaped percent char): %w", t.pattern, err)
	}
	t.name = name
	if reAlphaPattern.MatchString(pattern) {
		regex = `(?iu)` + regex
	}
	t.setRegex(regex, wordBegin, wordEnd)
	return t, t.compile()
}

const (
	epochRE     = `\d{10,11}\b(?:\.\d{3,6})?`
	longEpochRE = `\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`
)

// newEpochTemplate is DateEpoch(lineBeginOnly, pattern, longFrm).
func newEpochTemplate(lineBeginOnly bool, pattern string, long bool) (*template, error) {
	t := &template{kind: kindEpoch, weight: 1, epochGroup: 1, longEpoch: long}
	t.name = "Epoch"
	num := epochRE
	if long {
		t.name = "LongEpoch"
		num = longEpochRE
	}
	switch {
	case pattern != "":
		t.name = pattern
		regex := "(" + reEpochPattern.ReplaceFunc(pattern, 0, func(*pyre.Match) string { return "(" + num + ")" }) + ")"
		t.epochGroup = 2
		t.setRegex(regex, wbWord, true)
	case !lineBeginOnly:
		t.setRegex(`((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))`+num+`)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))`, wbNone, true)
	default:
		t.setRegex(`((?P<square>(?<=^\[))?`+num+`)(?(square)(?=\]))`, wbStart, true)
	}
	return t, t.compile()
}

// newTAI64NTemplate is DateTai64n(wordBegin).
func newTAI64NTemplate(start bool) (*template, error) {
	t := &template{kind: kindTAI64N, weight: 1, name: "TAI64N"}
	wb := wbNone
	if start {
		wb = wbStart
	}
	t.setRegex(`@[0-9a-f]{24}`, wb, true)
	return t, t.compile()
}

func (t *template) compile() error {
	re, err := pyre.Compile(t.regex)
	if err != nil {
		return fmt.Errorf("compile date template %q (regex %q): %w", t.name, t.regex, err)
	}
	t.re = re
	t.ampmGroup = -1
	if t.kind == kindPattern {
		for i, n := range re.GroupNames() {
			if k, ok := fieldKeys[n]; ok && i > 0 {
				t.fields = append(t.fields, fieldGroup{group: i, key: k})
				if k == fkAMPM {
					t.ampmGroup = i
				}
			}
		}
	}
	t.needsHMS = requiresHMS(re.Sequence())
	if t.epochGroup > re.NumGroups() {
		return fmt.Errorf("compile date template %q: no group %d", t.name, t.epochGroup)
	}
	return nil
}

// unboundPattern is DateTemplate.unboundPattern.
func unboundPattern(p string) string {
	p = reExlineNoBounds.ReplaceString(p, 0, "")
	p = reExlineBoundBeg.ReplaceString(p, 0, "")
	p = reExsancBoundBeg.ReplaceString(p, 0, "")
	return reExeancBoundBeg.ReplaceString(p, 0, "")
}

// templateFor is datedetector._getPatternTemplate: the template a pattern
// (with its cache key) stands for.
func (b *builder) templateFor(pattern, key string) (*template, error) {
	if t, ok := b.cache[key]; ok {
		return t, nil
	}
	var t *template
	var err error
	if strings.Contains(key, "EPOCH") {
		switch {
		case reEpochPattern.MatchString(pattern):
			t, err = newEpochTemplate(false, pattern, strings.Contains(key, "LEPOCH"))
		case key == "EPOCH" || key == "{^LN-BEG}EPOCH" || key == "^EPOCH":
			t, err = newEpochTemplate(key != "EPOCH", "", false)
		case key == "LEPOCH" || key == "{^LN-BEG}LEPOCH" || key == "^LEPOCH":
			t, err = newEpochTemplate(key != "LEPOCH", "", true)
		}
	}
	if t == nil && err == nil {
		if key == "TAI64N" || key == "{^LN-BEG}TAI64N" || key == "^TAI64N" {
			t, err = newTAI64NTemplate(key != "TAI64N")
		} else {
			t, err = newPatternTemplate(b.dirs, pattern)
		}
	}
	if err != nil {
		return nil, err
	}
	if b.anchoredKeys[key] {
		t.weight = 100
	}
	if ft, ok := b.fast[t.regex]; ok {
		switch {
		case ft.kind == coreElements && t.kind == kindPattern,
			ft.kind == coreEpoch && t.kind == kindEpoch && !t.longEpoch && t.epochGroup == 1,
			ft.kind == coreTAI64N && t.kind == kindTAI64N:
			t.fast = ft
		}
	}
	b.cache[key] = t
	return t, nil
}

// patternKey is how Fail2Ban keys its template cache: patterns without a
// strptime directive are case-insensitive.
func patternKey(p string) string {
	if strings.Contains(p, "%") {
		return p
	}
	return strings.ToUpper(p)
}

// defaultPatterns are DateDetectorCache.DEFAULT_TEMPLATES.
var defaultPatterns = []string{
	`%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
	`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
	`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`,
	`%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
	`%m/%d/%ExY:%H:%M:%S`,
	`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
	`EPOCH`,
	`{^LN-BEG}%H:%M:%S`,
	`^<%m/%d/%Exy@%H:%M:%S>`,
	`%Exy%Exm%Exd  ?%H:%M:%S`,
	`%b %d, %ExY %I:%M:%S %p`,
	`^%b-%d-%Exy %k:%M:%S`,
	`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
	`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	`TAI64N`,
}

// defaults holds the default templates for one %ExY: the 17 of
// DEFAULT_TEMPLATES and the 31 Fail2Ban searches with (line-anchored
// copies first).
type defaults struct {
	base []*template
	all  []*template
}

// builder builds templates with Fail2Ban's cache rules (DD_patternCache),
// so that names, weights and duplicates come out as in Fail2Ban. There is
// one per %ExY year, shared by all detectors, as Fail2Ban's cache is
// process-wide; templates never change once built.
type builder struct {
	mu           sync.Mutex
	dirs         *directives
	fast         map[string]*fastTemplate
	cache        map[string]*template
	anchoredKeys map[string]bool
	defs         *defaults
}

var builders = struct {
	sync.Mutex
	byYear map[int]*builder
}{byYear: map[int]*builder{}}

func builderFor(year int) (*builder, error) {
	builders.Lock()
	defer builders.Unlock()
	if b, ok := builders.byYear[year]; ok {
		return b, nil
	}
	b, err := newBuilder(year)
	if err != nil {
		return nil, err
	}
	builders.byYear[year] = b
	return b, nil
}

func newBuilder(year int) (*builder, error) {
	b := &builder{
		dirs:         newDirectives(year),
		cache:        map[string]*template{},
		anchoredKeys: map[string]bool{},
	}
	b.fast = fastTemplates(b.dirs, year)
	defs := &defaults{}
	var anchored []*template
	for _, p := range defaultPatterns {
		t, err := b.templateFor(p, patternKey(p))
		if err != nil {
			return nil, err
		}
		defs.base = append(defs.base, t)
	}
	for _, t := range defs.base {
		if strings.HasPrefix(t.name, "{^LN-BEG}") || strings.HasPrefix(t.name, "^") {
			continue
		}
		var pat string
		if t.kind == kindPattern {
			pat = "{^LN-BEG}" + t.pattern
		} else {
			pat = "{^LN-BEG}" + t.name
		}
		key := patternKey(pat)
		b.anchoredKeys[key] = true
		t2, err := b.templateFor(pat, key)
		if err != nil {
			return nil, err
		}
		if t2.name != t.name {
			t2.weight = 100
			anchored = append(anchored, t2)
		}
	}
	defs.all = append(anchored, defs.base...)
	b.defs = defs
	return b, nil
}

// dateTemplate is _getAnchoredTemplate(template, wrap) for a {DATE}
// pattern: the default template put in place of {DATE}.
func (b *builder) dateTemplate(t *template, preMatch string) (*template, error) {
	wrap := func(s string) string {
		u := unboundPattern(s)
		return reDatePrematch.ReplaceFunc(preMatch, 0, func(*pyre.Match) string { return u })
	}
	name := wrap(t.name)
	if c, ok := b.cache[name]; ok {
		return c, nil
	}
	if t.kind != kindPattern {
		return b.templateFor(name, patternKey(name))
	}
	regex := wrap(t.pattern)
	if c, ok := b.cache[regex]; ok {
		return c, nil
	}
	return b.templateFor(regex, patternKey(regex))
}

func (t *template) String() string {
	return t.name + " (" + t.regex + ", flags " + strconv.Itoa(t.flags) + ")"
}

// requiresHMS reports whether every match of a template's regex holds
// three consecutive groups of digits separated by colons, the last digit
// of the first, all of the second (one or two digits) and the first
// digit of the third: %H:%M:%S and its variants. No line without
// something like "12:34:56" can match such a template (see hasHMS).
func requiresHMS(seq []pyre.Atom) bool {
	group := func(a pyre.Atom, name string) bool { return a.Kind == pyre.AtomGroup && a.Name == name }
	colon := func(a pyre.Atom) bool { return a.Kind == pyre.AtomLiteral && a.Lit == ':' }
	for i := 0; i+5 <= len(seq); i++ {
		h, m, s := seq[i], seq[i+2], seq[i+4]
		if (group(h, "H") || group(h, "I")) && h.DigitLast && colon(seq[i+1]) &&
			group(m, "M") && m.DigitFirst && m.DigitLast && m.MaxWidth >= 0 && m.MaxWidth <= 2 && colon(seq[i+3]) &&
			group(s, "S") && s.DigitFirst {
			return true
		}
	}
	return false
}
