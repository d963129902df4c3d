package f2b

import (
	"github.com/banfleet/banfleet/agent/filter/internal/pyre"

	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Definition is a filter after Fail2Ban's config interpolation, as
// config/fail2ban yields it: the regexes still hold Fail2Ban's tags
// (<HOST>, <F-USER>…</F-USER>, …), which Compile expands.
type Definition struct {
	Name        string
	PrefRegex   string
	FailRegex   []string
	IgnoreRegex []string
	// MaxLines is the multi-line buffer size; 0 and 1 mean single lines.
	MaxLines int
	// DatePattern is handed to Options.Dates as is.
	DatePattern string
	// UseDNS is "yes", "warn" (Fail2Ban's default, used when empty), "no" or
	// "raw". It only shapes <HOST> as Fail2Ban does ("no" leaves out the
	// <DNS> alternative); banfleet never resolves names, see the package doc.
	UseDNS string
	// LogType is common.conf's logtype: "file" (default), "short",
	// "rfc5424" or "journal". Only "journal" changes matching: journal
	// lines carry no date in their text, the time comes with the entry (see
	// MatchAt); the others only shaped the regexes config/fail2ban built.
	LogType string
}

// DateFinder finds the date in a line: the time and the byte span of the
// date text, which Fail2Ban cuts out of the line before matching. It is
// what agent/filter/date's *Detector provides. A DateFinder belongs to one
// Matcher (it may keep state, such as the order of its templates).
type DateFinder interface {
	Find(line []byte, now time.Time) (t time.Time, start, end int, ok bool)
}

// Options configure Compile.
type Options struct {
	// Location is the time zone of dates without one (nil: time.Local).
	Location *time.Location
	// Dates builds a date finder for a datepattern. It is called once by
	// Compile (to report a bad pattern) and once per Matcher. Nil means no
	// date detection: lines are matched whole and take the time given to
	// Match (or Fail2Ban's last-date rule).
	Dates func(pattern string, loc *time.Location) (DateFinder, error)
	// MaxSteps bounds one search of the backtracking engine (regexes RE2
	// cannot run with Python's meaning, by construct or on multi-line
	// buffers); a search that needs more is counted in Stats.GaveUp and
	// treated as no match. Default pyre.DefaultMaxSteps (1<<20).
	MaxSteps int
	// AddressGuard refuses addresses a client could have planted: when
	// set, a failure's address must be the only one the filter's rules
	// could have taken from the buffer (addresses compared by value:
	// "::ffff:192.0.2.1", "[192.0.2.1]" and "192.0.2.1" are one). Where
	// client-chosen text (a user name …) lets the rule, or another
	// failregex of the filter, read another address of the line instead,
	// the failure is Ignored, without an address, and Multi-line (MLFID)
	// state never remembers such an address. Off, the engine is
	// Fail2Ban 1.0.2 exactly (which credits, for instance, 192.0.2.66 for
	// "Failed password for invalid user ' from 192.0.2.66 port 22 ssh2: '
	// from 203.0.113.10 port 4444 ssh2"). It costs nothing on lines that
	// match no failregex. See guard.go.
	AddressGuard bool
	// DateRequired makes Match return BadLine for a line in which no date
	// is found (banfleet's built-in filters: syslog lines always carry
	// one), where Fail2Ban takes the last date or now; the line is then
	// not matched. Every line's date is looked for, also on lines the
	// filter's words rule out (see lineFilter), so that such lines are
	// counted. MatchAt and Process are not affected.
	DateRequired bool
}

// Compiled is a compiled filter. It is immutable and safe for concurrent
// use; each log source gets its own Matcher from New.
type Compiled struct {
	def      Definition
	opts     Options
	useDNS   string
	maxLines int
	journal  bool

	pref   *regex
	fail   []*regex
	ignore []*regex

	// guard info of pref and of each failregex (Options.AddressGuard)
	prefGuard guardInfo
	failGuard []guardInfo

	// ignoreFirst: Fail2Ban checks ignoreregex on the whole buffer before
	// anything else when there are fewer ignoreregex than failregex - 2.
	ignoreFirst bool

	// prefGroups / the content group of the prefregex (0 if none)
	contentGroup int
	// lines: the literals a line must hold to match (single-line file
	// filters without ignoreregex); nil = no such test.
	lines *lineFilter

	// dispatch[c] lists, in order, the failregex that can match a buffer
	// starting with byte c.
	dispatch [256][]int16
}

// Compile checks and compiles every regex of def once.
func Compile(def Definition, o Options) (*Compiled, error) {
	c := &Compiled{def: def, opts: o}
	if c.opts.MaxSteps <= 0 {
		c.opts.MaxSteps = pyre.DefaultMaxSteps
	}
	if c.opts.Location == nil {
		c.opts.Location = time.Local
	}
	c.useDNS = strings.ToLower(def.UseDNS)
	switch c.useDNS {
	case "":
		c.useDNS = "warn"
	case "yes", "warn", "no", "raw":
	default:
		return nil, fmt.Errorf("filter %s: usedns %q (want yes, warn, no or raw): %w", def.Name, def.UseDNS, ErrBadOption)
	}
	c.journal = def.LogType == "journal"
	if def.MaxLines < 0 {
		return nil, fmt.Errorf("filter %s: maxlines %d: %w", def.Name, def.MaxLines, ErrBadOption)
	}
	c.maxLines = max(def.MaxLines, 1)
	if len(def.FailRegex) == 0 {
		return nil, fmt.Errorf("filter %s: %w", def.Name, ErrNoFailRegex)
	}
	multiBuf := c.maxLines > 1
	steps := c.opts.MaxSteps
	var err error
	if strings.TrimSpace(def.PrefRegex) != "" {
		c.pref, err = compileRegex("prefregex", 0, def.PrefRegex, c.useDNS, false, multiBuf, steps)
		if err != nil {
			return nil, fmt.Errorf("filter %s: %w", def.Name, &RegexError{Kind: "prefregex", Regex: def.PrefRegex, Err: err})
		}
		c.contentGroup = c.pref.groupNumber("content")
		c.prefGuard = newGuardInfo(c.pref)

	}
	for i, s := range def.FailRegex {
		r, err := compileRegex("failregex", i, s, c.useDNS, multiBuf, multiBuf, steps)
		if err == nil && !r.hasFailureID() && (c.pref == nil || !c.pref.hasFailureID()) {
			err = ErrNoFailureID
		}
		if err != nil {
			return nil, fmt.Errorf("filter %s: %w", def.Name, &RegexError{Kind: "failregex", Index: i, Regex: s, Err: err})
		}
		c.fail = append(c.fail, r)
		c.failGuard = append(c.failGuard, newGuardInfo(r))
	}
	for i, s := range def.IgnoreRegex {
		r, err := compileRegex("ignoreregex", i, s, c.useDNS, false, multiBuf, steps)
		if err != nil {
			return nil, fmt.Errorf("filter %s: %w", def.Name, &RegexError{Kind: "ignoreregex", Index: i, Regex: s, Err: err})
		}
		c.ignore = append(c.ignore, r)
	}
	c.ignoreFirst = len(c.ignore) > 0 && len(c.ignore) < len(c.fail)-2
	for b := 0; b < 256; b++ {
		for i, r := range c.fail {
			if !r.pf.Anchored || r.pf.AnyFirst || r.pf.First.Has(byte(b)) {
				c.dispatch[b] = append(c.dispatch[b], int16(i))
			}
		}
	}
	if !c.journal && c.opts.Dates != nil {
		if _, err := c.opts.Dates(def.DatePattern, c.opts.Location); err != nil {
			return nil, fmt.Errorf("filter %s: datepattern %q: %w", def.Name, def.DatePattern, err)
		}
	}
	if len(c.ignore) > 0 || c.journal || c.maxLines != 1 {
		// ignoreregex may match any line; journal lines have no date to
		// defer; multi-line buffers join lines
	} else {
		c.lines = newLineFilter(def, c.pref, c.fail)
	}
	return c, nil
}

// Name returns the filter's name.
func (c *Compiled) Name() string { return c.def.Name }

// failureIDGroups are Fail2Ban's FAILURE_ID_PRESENTS.
var failureIDGroups = []string{"fid", "ip4", "ip6", "dns", "mlfid"}

func (r *regex) hasFailureID() bool {
	for _, n := range failureIDGroups {
		if r.groupNumber(n) > 0 {
			return true
		}
	}
	return false
}

func (r *regex) groupNumber(name string) int {
	for g, n := range r.names {
		if g > 0 && n == name {
			return g
		}
	}
	return 0
}

// RegexInfo describes one compiled regex.
type RegexInfo struct {
	Kind   string // "prefregex", "failregex", "ignoreregex"
	Index  int
	Python string   // the regex as Fail2Ban compiles it (tags expanded)
	Engine string   // EngineRE2 or EngineBacktrack
	RE2    []string // the RE2 programs (several when split), if any
}

// Regexes describes how each regex is run.
func (c *Compiled) Regexes() []RegexInfo {
	var out []RegexInfo
	add := func(r *regex) {
		in := RegexInfo{Kind: r.kind, Index: r.index, Python: r.src, Engine: EngineBacktrack}
		if r.progs != nil {
			in.Engine = EngineRE2
			for _, p := range r.progs {
				in.RE2 = append(in.RE2, p.src)
			}
		}
		out = append(out, in)
	}
	if c.pref != nil {
		add(c.pref)
	}
	for _, r := range c.fail {
		add(r)
	}
	for _, r := range c.ignore {
		add(r)
	}
	return out
}

// newDates builds the date finder of one Matcher.
func (c *Compiled) newDates() (DateFinder, error) {
	if c.journal || c.opts.Dates == nil {
		return nil, nil
	}
	return c.opts.Dates(c.def.DatePattern, c.opts.Location)
}

// lineFilter rejects, before its date is looked for, a line that cannot
// match: one that lacks a word every prefregex match contains, or, for
// every failregex, a word (or one of the words its alternative prefixes
// hold) every match of that failregex contains. Words are runs of ASCII
// letters, digits and '_' inside the regexes' required literals. The
// regexes search the line with its date cut out; cutting can join two
// halves of a word only if the date text both follows and precedes a
// word character, which the datepatterns the filter is used with
// (Fail2Ban's default templates, {^LN-BEG}: line-anchored or at word
// boundaries) rule out. Other datepatterns get no line filter.
type lineFilter struct {
	all [][]byte // every one must occur
	any [][]byte // one must occur (nil: no such test)
}

// minLineWord is the shortest word worth a search.
const minLineWord = 3

func newLineFilter(def Definition, pref *regex, fail []*regex) *lineFilter {
	switch strings.TrimSpace(def.DatePattern) {
	case "", "{DEFAULT}", "{^LN-BEG}":
	default:
		return nil
	}
	f := &lineFilter{}
	if pref != nil {
		lits := pref.pf.Req
		if pref.pf.Anchored && len(pref.pf.Prefix) > 0 {
			lits = append(slices.Clip(lits), pref.pf.Prefix)
		}
		for _, l := range lits {
			if w := longestWord(l); len(w) >= minLineWord {
				f.all = append(f.all, w)
			}
		}
	}
	f.any = anyWords(fail)
	if len(f.all) == 0 && len(f.any) == 0 {
		return nil
	}
	return f
}

// anyWords returns words one of which every failregex match contains,
// few and likely first: each failregex offers the words of its required
// literals (any one of them is enough) or, with only alternative prefixes,
// the words of each; the word covering the most failregexes still
// uncovered is taken first (a set cover). Nil when a failregex offers
// none.
func anyWords(fail []*regex) [][]byte {
	type offer struct {
		words [][]byte // any one covers the regex
		alts  [][]byte // or: all of these are needed
	}
	offers := make([]offer, len(fail))
	for i, r := range fail {
		lits := r.pf.Req
		if r.pf.Anchored && len(r.pf.Prefix) > 0 {
			lits = append(slices.Clip(lits), r.pf.Prefix)
		}
		for _, l := range lits {
			offers[i].words = append(offers[i].words, wordsOf(l)...)
		}
		if len(offers[i].words) > 0 {
			continue
		}
		if !r.pf.Anchored || len(r.pf.Prefixes) == 0 {
			return nil
		}
		for _, p := range r.pf.Prefixes {
			w := longestWord(p)
			if len(w) < minLineWord {
				return nil
			}
			offers[i].alts = append(offers[i].alts, w)
		}
	}
	var out [][]byte
	add := func(w []byte) {
		if !slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, w) }) {
			out = append(out, w)
		}
	}
	covered := make([]bool, len(fail))
	for i, o := range offers {
		covered[i] = o.words == nil
	}
	for {
		var best []byte
		bestN := 0
		for i, o := range offers {
			if covered[i] {
				continue
			}
			for _, w := range o.words {
				n := 0
				for j, o2 := range offers {
					if !covered[j] && slices.ContainsFunc(o2.words, func(x []byte) bool { return bytes.Contains(x, w) }) {
						n++
					}
				}
				if n > bestN || n == bestN && len(w) > len(best) {
					best, bestN = w, n
				}
			}
		}
		if bestN == 0 {
			break
		}
		add(best)
		for j, o := range offers {
			if slices.ContainsFunc(o.words, func(x []byte) bool { return bytes.Contains(x, best) }) {
				covered[j] = true
			}
		}
	}
	for _, o := range offers {
		for _, w := range o.alts {
			add(w)
		}
	}
	return out
}

// wordsOf returns the runs of ASCII letters, digits and '_' of l that are
// long enough to search for.
func wordsOf(l []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i <= len(l); i++ {
		if i < len(l) && isWordByte(l[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= minLineWord {
			out = append(out, l[start:i])
		}
		start = -1
	}
	return out
}

// longestWord is the longest run of ASCII letters, digits and '_' in l.
func longestWord(l []byte) []byte {
	var best []byte
	start := -1
	for i := 0; i <= len(l); i++ {
		if i < len(l) && isWordByte(l[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start > len(best) {
			best = l[start:i]
		}
		start = -1
	}
	return best
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// pass reports whether line can match.
func (f *lineFilter) pass(line []byte) bool {
	for _, l := range f.all {
		if !bytes.Contains(line, l) {
			return false
		}
	}
	if f.any == nil {
		return true
	}
	for _, l := range f.any {
		if bytes.Contains(line, l) {
			return true
		}
	}
	return false
}
