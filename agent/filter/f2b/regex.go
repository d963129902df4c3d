package f2b

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/banfleet/banfleet/agent/filter/internal/pyre"
)

// engine names, as reported by (*Compiled).Regexes.
const (
	EngineRE2       = "re2"
	EngineBacktrack = "backtrack" // the Python-regex backtracking engine
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

	// the backtracking engine (Python's semantics for everything);
	// always compiled
	bt       *pyre.Regexp
	maxSteps int

	pf pyre.Prefilter // for the whole regex

	// prefix: the prefregex's fast path (prefix.go), nil if its shape is
	// not the syslog header's or the buffers hold several lines
	prefix *pyre.PrefixProg
}

type altPair struct{ k, n string }

// re2Prog is one RE2 program with its group mapping.
type re2Prog struct {
	re   *regexp.Regexp
	x    *xprog // the same program on the faster runner (exec.go)
	src  string
	gidx [][]int // Python group number -> RE2 subexpression indices
	pf   pyre.Prefilter
	// trail is the subexpression holding the character a final \b was
	// rewritten to consume (0: none); the whole match ends where it starts.
	trail int
}

// compileRegex builds a regex from the string config/fail2ban yields.
// multiBuf says the regex will see buffers holding several lines.
func compileRegex(kind string, idx int, raw, useDNS string, multiline, multiBuf bool, maxSteps int) (*regex, error) {
	if !utf8.ValidString(raw) {
		return nil, &SyntaxError{Msg: "not valid UTF-8"}
	}
	src := expandTags(raw, useDNS)
	if strings.TrimLeft(src, " \t\n\r\v\f") == "" {
		return nil, ErrEmptyRegex
	}
	src = globalToLocalFlags(src)
	py, err := pyre.Parse(src, multiline)
	if err != nil {
		return nil, err
	}
	r := &regex{kind: kind, index: idx, src: src, multiline: multiline, ngroups: py.Groups, names: py.GroupNames, maxSteps: maxSteps}
	for g := 1; g <= py.Groups; g++ {
		name := py.GroupNames[g]
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
		g, ok := py.Names[fmt.Sprintf("skiplines%d", i)]
		if !ok {
			break
		}
		r.skiplines = append(r.skiplines, g)
	}

	if kind == "prefregex" && !multiBuf {
		r.prefix = py.Prefix()
	}
	// the backtracking engine: the original tree
	r.bt, err = py.Program()
	if err != nil {
		return nil, err
	}

	// RE2: the tree after exact rewrites. On one-line buffers Python's "$"
	// is RE2's (?m:$) wherever it stands; a filter with maxlines > 1 needs
	// programs exact on several lines.
	plan := py.RE2(multiBuf)
	r.anchored = plan.Anchored
	r.pf = plan.Filter
	r.progs, r.multiOK = compileParts(plan, py.Groups), multiBuf
	// the split programs need not check again what the whole regex's
	// prefilter checked before them
	if len(r.progs) > 1 {
		for _, p := range r.progs {
			p.pf.Req = slices.DeleteFunc(p.pf.Req, func(l []byte) bool {
				return slices.ContainsFunc(r.pf.Req, func(x []byte) bool { return bytes.Contains(x, l) }) ||
					bytes.HasPrefix(r.pf.Prefix, l)
			})
			if bytes.Equal(p.pf.Prefix, r.pf.Prefix) {
				p.pf.Prefix = nil
			}
		}
	}
	return r, nil
}

// compileParts compiles the RE2 programs of plan, or returns nil.
func compileParts(plan pyre.RE2Plan, groups int) []*re2Prog {
	var progs []*re2Prog
	for _, p := range plan.Parts {
		prog, err := compileRE2(p, groups)
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

func compileRE2(part pyre.RE2Part, groups int) (*re2Prog, error) {
	s := part.Src
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("re2: %w", err)
	}
	x, err := newXProg(s)
	if err != nil {
		return nil, fmt.Errorf("re2: %w", err)
	}
	p := &re2Prog{re: re, x: x, src: s, gidx: make([][]int, groups+1), pf: part.Filter}
	p.gidx[0] = []int{0}
	for i, n := range re.SubexpNames() {
		if n == pyre.TrailName {
			p.trail = i
			continue
		}
		if len(n) > 1 && n[0] == 'g' {
			var g int
			fmt.Sscanf(n[1:], "%d", &g)
			if g > 0 && g <= groups {
				p.gidx[g] = append(p.gidx[g], i)
			}
		}
	}
	return p, nil
}

// errGaveUp is returned by search when the backtracking engine gave up
// after Options.MaxSteps steps.
var errGaveUp = errors.New("backtracking search abandoned after its step limit")

// searchState is the reusable memory of searches (one per Matcher).
type searchState struct {
	x    xstate
	bt   pyre.Machine
	best []int
}

// search runs the regex on buf (which ends with '\n') and fills spans with
// Python's group spans: spans[2g], spans[2g+1] for group g (0 = whole
// match), -1 when the group did not take part. It does not allocate once
// st has grown, unless the regex runs on Go's NFA (inputs too long for the
// RE2 backtracker).
func (r *regex) search(st *searchState, buf []byte, spans []int) ([]int, bool, error) {
	n := 2 * (r.ngroups + 1)
	if cap(spans) < n {
		spans = make([]int, n)
	}
	spans = spans[:n]
	// the prefilter comes from the exactly rewritten tree: valid for both
	// engines
	if !r.pf.Pass(buf) {
		return spans, false, nil
	}
	if r.progs != nil && (r.multiOK || singleLine(buf)) {
		ok := r.searchRE2(st, buf, spans)
		return spans, ok, nil
	}
	ok, err := r.searchBT(st, buf, spans)
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
		if len(r.progs) > 1 && !p.pf.Pass(buf) {
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

// searchBT runs the backtracking engine.
func (r *regex) searchBT(st *searchState, buf []byte, spans []int) (bool, error) {
	m := &st.bt
	m.MaxSteps = r.maxSteps
	if !r.bt.Search(m, buf, 0, len(buf)) {
		if m.Aborted() {
			return false, errGaveUp
		}
		return false, nil
	}
	for g := 0; g <= r.ngroups; g++ {
		spans[2*g], spans[2*g+1] = m.Group(g)
	}
	return true, nil
}
