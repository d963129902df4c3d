package f2b

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// engine names, as reported by (*Compiled).Regexes.
const (
	EngineRE2     = "re2"
	EngineRegexp2 = "regexp2"
)

// regex is one compiled Fail2Ban regex (prefregex, failregex or
// ignoreregex) with Python's semantics.
type regex struct {
	kind      string // "prefregex", "failregex", "ignoreregex"
	index     int
	src       string // the regex as Python compiles it (tags expanded)
	multiline bool   // compiled with re.M (failregex with maxlines > 1)
	ngroups   int
	names     []string // Python group number -> name ("" for unnamed)
	alts      []altPair
	tuples    []altPair
	skiplines []int // group numbers of skiplines0, skiplines1, ...

	// RE2 programs, tried in order (an alternation split into programs,
	// see splitTop); nil when RE2 cannot run the regex.
	progs   []*re2Prog
	multiOK bool // the RE2 programs are exact on buffers with several lines
	// anchored: every match starts at offset 0 (so the first program that
	// matches wins).
	anchored bool

	net     *regexp2.Regexp // regexp2 (.NET syntax); always compiled
	netSrc  string
	timeout time.Duration

	pf prefilter // for the whole regex
}

type altPair struct{ k, n string }

// re2Prog is one RE2 program with its group mapping.
type re2Prog struct {
	re   *regexp.Regexp
	x    *xprog // the same program on the faster runner (exec.go)
	src  string
	gidx [][]int // Python group number -> RE2 subexpression indices
	pf   prefilter
	// trail is the subexpression holding the character a final \b was
	// rewritten to consume (0: none); the whole match ends where it starts.
	trail int
}

// compileRegex builds a regex from the string config/fail2ban yields.
// multiBuf says the regex will see buffers holding several lines.
func compileRegex(kind string, idx int, raw, useDNS string, multiline, multiBuf bool, timeout time.Duration) (*regex, error) {
	if !utf8.ValidString(raw) {
		return nil, &SyntaxError{Msg: "not valid UTF-8"}
	}
	src := expandTags(raw, useDNS)
	if strings.TrimLeft(src, " \t\n\r\v\f") == "" {
		return nil, ErrEmptyRegex
	}
	src = globalToLocalFlags(src)
	var fl uint8
	if multiline {
		fl = flagM
	}
	py, err := parsePy(src, fl)
	if err != nil {
		return nil, err
	}
	r := &regex{kind: kind, index: idx, src: src, multiline: multiline, ngroups: py.groups, names: py.gnames, timeout: timeout}
	for g := 1; g <= py.groups; g++ {
		name := py.gnames[g]
		if kind, target, ok := complexName(name); ok {
			if kind == "alt" {
				r.alts = append(r.alts, altPair{name, target})
			} else {
				r.tuples = append(r.tuples, altPair{name, target})
			}
		}
	}
	sortPairs(r.alts)
	sortPairs(r.tuples)
	for i := 0; ; i++ {
		g, ok := py.names[fmt.Sprintf("skiplines%d", i)]
		if !ok {
			break
		}
		r.skiplines = append(r.skiplines, g)
	}

	// regexp2: the original tree in .NET syntax.
	r.netSrc = emitNet(py.root)
	r.net, err = regexp2.Compile(r.netSrc, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("regexp2: %w", err)
	}
	r.net.MatchTimeout = timeout

	// RE2: the tree after exact rewrites.
	t := clone(py.root)
	t = simplifyAssertions(t)
	t = eliminateConditionals(t)
	rewriteTempered(t, nil)
	t = simplifyAssertions(t)
	t = trailingBoundary(t)
	r.anchored = anchoredAtStart(t)
	r.pf = buildPrefilter(t, r.anchored)
	// On one-line buffers Python's "$" is RE2's (?m:$) wherever it stands;
	// a filter with maxlines > 1 needs programs exact on several lines.
	r.progs, r.multiOK = compileParts(t, py, multiBuf), multiBuf
	// the split programs need not check again what the whole regex's
	// prefilter checked before them
	if len(r.progs) > 1 {
		for _, p := range r.progs {
			p.pf.req = slices.DeleteFunc(p.pf.req, func(l []byte) bool {
				return slices.ContainsFunc(r.pf.req, func(x []byte) bool { return bytes.Contains(x, l) }) ||
					bytes.HasPrefix(r.pf.prefix, l)
			})
			if bytes.Equal(p.pf.prefix, r.pf.prefix) {
				p.pf.prefix = nil
			}
		}
	}
	return r, nil
}

// compileParts compiles t (split into several programs when that is exact
// and keeps each program small enough for Go's backtracker), or returns nil.
func compileParts(t *node, py *pyRegex, multiBuf bool) []*re2Prog {
	var progs []*re2Prog
	for _, p := range splitTop(t, multiBuf) {
		prog, err := compileRE2(p, py, multiBuf)
		if err != nil {
			return nil
		}
		progs = append(progs, prog)
	}
	return progs
}

func sortPairs(p []altPair) {
	slices.SortFunc(p, func(a, b altPair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.n, b.n)
	})
}

func compileRE2(t *node, py *pyRegex, multiBuf bool) (*re2Prog, error) {
	s, err := emitRE2(t, multiBuf)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("re2: %w", err)
	}
	x, err := newXProg(s)
	if err != nil {
		return nil, fmt.Errorf("re2: %w", err)
	}
	p := &re2Prog{re: re, x: x, src: s, gidx: make([][]int, py.groups+1)}
	p.gidx[0] = []int{0}
	for i, n := range re.SubexpNames() {
		if n == trailName {
			p.trail = i
			continue
		}
		if len(n) > 1 && n[0] == 'g' {
			var g int
			fmt.Sscanf(n[1:], "%d", &g)
			if g > 0 && g <= py.groups {
				p.gidx[g] = append(p.gidx[g], i)
			}
		}
	}
	p.pf = buildPrefilter(t, anchoredAtStart(t))
	return p, nil
}

// progSize returns the number of instructions of an RE2 program.
func progSize(s string) int {
	re, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return 0
	}
	p, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0
	}
	return len(p.Inst)
}

// anchoredAtStart reports whether every match of t starts at offset 0.
func anchoredAtStart(t *node) bool {
	for {
		switch t.kind {
		case nBegin:
			return t.flags&flagM == 0
		case nBeginStr:
			return true
		case nConcat:
			if len(t.subs) == 0 {
				return false
			}
			t = t.subs[0]
			continue
		case nGroup:
			t = t.subs[0]
			continue
		case nAlt:
			for _, s := range t.subs {
				if !anchoredAtStart(s) {
					return false
				}
			}
			return true
		}
		return false
	}
}

// errTimeout is returned by search when regexp2 gave up.
var errTimeout = errors.New("regexp2 match timeout")

// searchState is the reusable memory of searches (one per Matcher).
type searchState struct {
	x    xstate
	best []int
}

// search runs the regex on buf (which ends with '\n') and fills spans with
// Python's group spans: spans[2g], spans[2g+1] for group g (0 = whole
// match), -1 when the group did not take part. It does not allocate unless
// the regex runs on regexp2 or on Go's NFA (inputs too long for the
// backtracker).
func (r *regex) search(st *searchState, buf []byte, spans []int) ([]int, bool, error) {
	n := 2 * (r.ngroups + 1)
	if cap(spans) < n {
		spans = make([]int, n)
	}
	spans = spans[:n]
	// the prefilter comes from the exactly rewritten tree: valid for both
	// engines
	if !r.pf.pass(buf) {
		return spans, false, nil
	}
	if r.progs != nil && (r.multiOK || singleLine(buf)) {
		ok := r.searchRE2(st, buf, spans)
		return spans, ok, nil
	}
	ok, err := r.searchNet(buf, spans)
	return spans, ok, err
}

func singleLine(buf []byte) bool {
	return len(buf) == 0 || bytes.IndexByte(buf[:len(buf)-1], '\n') < 0
}

// run returns the capture positions of p's match on buf (valid until the
// next run), or nil.
func (p *re2Prog) run(st *searchState, buf []byte) []int {
	if p.x.fits(len(buf)) {
		return p.x.find(&st.x, buf)
	}
	return p.re.FindSubmatchIndex(buf)
}

func (r *regex) searchRE2(st *searchState, buf []byte, spans []int) bool {
	bestStart := -1
	var bestProg *re2Prog
	for _, p := range r.progs {
		if len(r.progs) > 1 && !p.pf.pass(buf) {
			continue
		}
		loc := p.run(st, buf)
		if loc == nil {
			continue
		}
		if bestStart < 0 || loc[0] < bestStart {
			bestStart, bestProg = loc[0], p
			st.best = append(st.best[:0], loc...)
		}
		if r.anchored || loc[0] == 0 {
			break
		}
	}
	if bestProg == nil {
		return false
	}
	best := st.best
	for g := range bestProg.gidx {
		spans[2*g], spans[2*g+1] = -1, -1
		for _, i := range bestProg.gidx[g] {
			if best[2*i] >= 0 {
				spans[2*g], spans[2*g+1] = best[2*i], best[2*i+1]
				break
			}
		}
	}
	if tr := bestProg.trail; tr > 0 && best[2*tr] >= 0 {
		spans[1] = best[2*tr]
	}
	return true
}

func (r *regex) searchNet(buf []byte, spans []int) (bool, error) {
	m, err := r.net.FindStringMatch(string(buf))
	if err != nil {
		return false, errTimeout
	}
	if m == nil {
		return false, nil
	}
	for i := range spans {
		spans[i] = -1
	}
	idx, l := m.ByteRange()
	spans[0], spans[1] = idx, idx+l
	for g := 1; g <= r.ngroups; g++ {
		grp := m.GroupByName(groupName(g))
		if grp == nil || len(grp.Captures) == 0 {
			continue
		}
		idx, l := grp.ByteRange()
		spans[2*g], spans[2*g+1] = idx, idx+l
	}
	return true, nil
}

// group returns the text of group g (ok false when it did not take part).
func group(buf []byte, spans []int, g int) ([]byte, bool) {
	if spans[2*g] < 0 {
		return nil, false
	}
	return buf[spans[2*g]:spans[2*g+1]], true
}
