package pyre

import (
	"regexp/syntax"
	"strconv"
)

// GroupName is the RE2 capture name written for Python group number g;
// the RE2 forms keep Python's numbering whatever their layout.
func GroupName(g int) string { return "g" + strconv.Itoa(g) }

// TrailName is the RE2 group around the character a final \b was
// rewritten to consume: the whole match ends where it starts.
const TrailName = trailName

// RE2Part is one RE2 program of a plan with its own prefilter.
type RE2Part struct {
	Src    string
	Filter Prefilter
}

// RE2Plan is how a regex runs on Go's RE2 after exact rewrites (see
// rewrite.go): its parts are searched in order, the first that matches at
// the leftmost position winning (split.go).
type RE2Plan struct {
	Anchored bool      // every match starts at offset 0
	Filter   Prefilter // for the whole regex (valid for the backtracking engine too)
	Parts    []RE2Part // nil when RE2 cannot run the regex with Python's meaning
}

// RE2 rewrites the regex exactly for RE2 and writes it in RE2 syntax.
// multiBuf says the regex will see buffers holding several lines (joined
// with "\n", with a final "\n"); otherwise the RE2 forms are exact only on
// one-line buffers.
func (py *Regex) RE2(multiBuf bool) RE2Plan {
	t := clone(py.root)
	t = simplifyAssertions(t)
	t = eliminateConditionals(t)
	rewriteTempered(t, nil)
	t = simplifyAssertions(t)
	t = trailingBoundary(t)
	plan := RE2Plan{Anchored: anchoredAtStart(t)}
	plan.Filter = buildPrefilter(t, plan.Anchored)
	for _, p := range splitTop(t, multiBuf) {
		s, err := emitRE2(p, multiBuf)
		if err != nil {
			plan.Parts = nil
			break
		}
		plan.Parts = append(plan.Parts, RE2Part{Src: s, Filter: buildPrefilter(p, anchoredAtStart(p))})
	}
	return plan
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
func anchoredAtStart(t *Node) bool {
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
