package pyre

// Exact rewrites that let RE2 run regexes Fail2Ban writes with
// backtracking-only constructs. Each rewrite keeps Python's result
// (match and every group) on every input; Go's regexp reports the match a
// backtracking engine prefers (leftmost-first), so a rewrite must keep the
// order in which a backtracking engine tries alternatives where that order
// can matter. The tests (here and in package f2b) check the rewritten forms
// against the backtracking engine running the original, and against
// Python's re.

func clone(n *Node) *Node {
	if n == nil {
		return nil
	}
	c := *n
	if n.subs != nil {
		c.subs = make([]*Node, len(n.subs))
		for i, s := range n.subs {
			c.subs[i] = clone(s)
		}
	}
	return &c
}

// cset is an over-approximation of a set of characters.
type cset struct {
	any bool // unknown: could be any character
	s   rangeSet
}

func (a cset) union(b cset) cset {
	if a.any || b.any {
		return cset{any: true}
	}
	return cset{s: normalize(append(append([]rng{}, a.s...), b.s...))}
}

func (a cset) empty() bool { return !a.any && len(a.s) == 0 }

// allIn reports whether every character of a satisfies f (false if unknown).
func (a cset) all(f func(rune) bool) bool {
	if a.any {
		return false
	}
	for _, r := range a.s {
		if r.hi-r.lo > 4096 {
			return false
		}
		for c := r.lo; c <= r.hi; c++ {
			if !f(c) {
				return false
			}
		}
	}
	return true
}

func runeSet(r rune, flags uint8) cset {
	if flags&flagI != 0 {
		return cset{s: pyFoldRune(r, flags&flagA != 0)}
	}
	return cset{s: rangeSet{{r, r}}}
}

func nodeClassSet(n *Node) cset {
	if n.flags&flagI != 0 {
		return cset{s: pyFoldClass(n.cls, n.flags&flagA != 0)}
	}
	return cset{s: n.cls.set(n.flags&flagA != 0)}
}

// nullable reports whether n can match the empty string (assertions are
// assumed to hold).
func nullable(n *Node) bool {
	switch n.kind {
	case nLit:
		return len(n.runes) == 0
	case nClass, nAny, nNever:
		return false
	case nConcat:
		for _, s := range n.subs {
			if !nullable(s) {
				return false
			}
		}
		return true
	case nAlt:
		for _, s := range n.subs {
			if nullable(s) {
				return true
			}
		}
		return false
	case nGroup, nAtomic:
		return nullable(n.subs[0])
	case nRepeat:
		return n.min == 0 || nullable(n.subs[0])
	case nCond:
		return nullable(n.subs[0]) || nullable(n.subs[1])
	}
	return true // empty, assertions, lookarounds, backrefs
}

// firstSet returns the characters n can consume first.
func firstSet(n *Node) cset { return edgeSet(n, false) }

// lastSet returns the characters n can consume last.
func lastSet(n *Node) cset { return edgeSet(n, true) }

// edgeSet returns the characters n can consume first, or last.
func edgeSet(n *Node, last bool) cset {
	switch n.kind {
	case nLit:
		if len(n.runes) == 0 {
			return cset{}
		}
		r := n.runes[0]
		if last {
			r = n.runes[len(n.runes)-1]
		}
		return runeSet(r, n.flags)
	case nClass:
		return nodeClassSet(n)
	case nAny, nBackref:
		return cset{any: true}
	case nConcat:
		var out cset
		for i := range n.subs {
			s := n.subs[i]
			if last {
				s = n.subs[len(n.subs)-1-i]
			}
			out = out.union(edgeSet(s, last))
			if !nullable(s) {
				break
			}
		}
		return out
	case nAlt:
		var out cset
		for _, s := range n.subs {
			out = out.union(edgeSet(s, last))
		}
		return out
	case nGroup, nAtomic, nRepeat:
		if n.kind == nRepeat && n.max == 0 {
			return cset{}
		}
		return edgeSet(n.subs[0], last)
	case nCond:
		return edgeSet(n.subs[0], last).union(edgeSet(n.subs[1], last))
	}
	return cset{}
}

// ctx describes what can surround a position: the characters that can be
// next to it and whether it can be the start (or end) of the buffer.
type ctx struct {
	chars cset
	edge  bool
}

func (a ctx) union(b ctx) ctx { return ctx{chars: a.chars.union(b.chars), edge: a.edge || b.edge} }

// after returns the context before the position that follows n, given the
// context before n.
func after(n *Node, before ctx) ctx {
	switch n.kind {
	case nBegin:
		if n.flags&flagM != 0 {
			return ctx{chars: before.chars.intersectNL(), edge: before.edge}
		}
		return ctx{edge: before.edge}
	case nBeginStr:
		return ctx{edge: before.edge}
	case nConcat:
		c := before
		for _, s := range n.subs {
			c = after(s, c)
		}
		return c
	}
	if nullable(n) {
		return before.union(ctx{chars: lastSet(n)})
	}
	return ctx{chars: lastSet(n)}
}

// intersectNL keeps only '\n' (the only character before a multi-line ^
// other than the start).
func (a cset) intersectNL() cset {
	if a.any || (cset{s: a.s}).containsRune('\n') {
		return cset{s: rangeSet{{'\n', '\n'}}}
	}
	return cset{}
}

func (a cset) containsRune(r rune) bool { return a.any || a.s.contains(r) }

// simplifyAssertions removes lookbehinds and word boundaries whose outcome
// the characters around them decide: Fail2Ban's IPv6 pattern ends in
// "(?<=:):" right after a group whose every alternative ends with ':', so
// the lookbehind always holds. It also decides \b and \B where both
// neighbours are known to be word or non-word characters.
func simplifyAssertions(root *Node) *Node {
	walkCtx(root, ctx{chars: cset{any: true}, edge: true})
	return root
}

// walkCtx visits n with the context before it and rewrites decidable
// assertions in place. It returns nothing; the caller's tree is modified.
func walkCtx(n *Node, before ctx) {
	switch n.kind {
	case nConcat:
		c := before
		for i, s := range n.subs {
			if r := decideAssertion(s, c, n.subs[i+1:]); r != nil {
				n.subs[i] = r
				s = r
			}
			walkCtx(s, c)
			c = after(s, c)
		}
	case nAlt:
		for i, s := range n.subs {
			if r := decideAssertion(s, before, nil); r != nil {
				n.subs[i] = r
			}
			walkCtx(n.subs[i], before)
		}
	case nGroup, nAtomic:
		walkCtx(n.subs[0], before)
	case nRepeat:
		inner := before
		if n.max != 1 {
			inner = before.union(ctx{chars: lastSet(n.subs[0])})
		}
		walkCtx(n.subs[0], inner)
	case nCond:
		walkCtx(n.subs[0], before)
		walkCtx(n.subs[1], before)
	}
}

// decideAssertion returns a replacement (nEmpty or nNever) for an assertion
// whose result is known from the context, or nil. rest is what follows it
// in the same sequence (for \b's right side); nil means unknown.
func decideAssertion(n *Node, before ctx, rest []*Node) *Node {
	switch n.kind {
	case nLook:
		if !n.behind {
			return nil
		}
		sub := n.subs[0]
		var c cset
		switch {
		case sub.kind == nLit && len(sub.runes) == 1:
			c = runeSet(sub.runes[0], sub.flags)
		case sub.kind == nClass:
			c = nodeClassSet(sub)
		default:
			return nil
		}
		if before.chars.any || c.any {
			return nil
		}
		inside := before.chars.all(func(r rune) bool { return c.s.contains(r) })
		outside := before.chars.all(func(r rune) bool { return !c.s.contains(r) })
		holds := false
		switch {
		case inside && !before.edge && !before.chars.empty():
			holds = true
		case outside:
			holds = false
		default:
			return nil
		}
		if n.neg {
			holds = !holds
		}
		if holds {
			return &Node{kind: nEmpty}
		}
		return &Node{kind: nNever}
	case nWordB, nNotWordB:
		if rest == nil {
			return nil
		}
		ascii := n.flags&flagA != 0
		isW := func(r rune) bool {
			if ascii {
				return r < 0x80 && IsWord(r)
			}
			return IsWord(r)
		}
		// left side
		leftW := before.chars.all(isW) && !before.edge && !before.chars.empty()
		leftN := before.chars.all(func(r rune) bool { return !isW(r) })
		// right side: the first characters of rest (or the end)
		var right cset
		end := true
		for _, s := range rest {
			if isZeroWidth(s) {
				continue
			}
			right = right.union(firstSet(s))
			if !nullable(s) {
				end = false
				break
			}
		}
		if end {
			// the match may end here: what follows is unknown
			return nil
		}
		rightW := right.all(isW) && !right.empty()
		rightN := right.all(func(r rune) bool { return !isW(r) })
		var boundary bool
		switch {
		case leftW && rightN, leftN && rightW:
			boundary = true
		case leftW && rightW, leftN && rightN:
			boundary = false
		default:
			return nil
		}
		if n.kind == nNotWordB {
			boundary = !boundary
		}
		if boundary {
			return &Node{kind: nEmpty}
		}
		return &Node{kind: nNever}
	}
	return nil
}

func isZeroWidth(n *Node) bool {
	switch n.kind {
	case nEmpty, nBegin, nEnd, nBeginStr, nEndStr, nWordB, nNotWordB, nLook:
		return true
	}
	return false
}

// ---------------------------------------------------------------------------
// Conditionals.
//
// (?(g)yes|no) tests whether group g took part in the match so far. When g
// is defined in element i of a sequence and tested in later elements, and
// whether g takes part is decided by a finite choice (an alternation or an
// optional ?), the elements i..j are replaced by an alternation over those
// choices, in the order a backtracking engine tries them, each followed by
// elements i+1..j with the conditional resolved. Capture groups get
// duplicated (Go allows duplicate names; at most one copy takes part).

type variant struct {
	n    *Node
	part bool
}

// split returns the ordered alternatives of n, each with whether group g
// takes part in it, or ok=false if that is not a finite choice.
func split(n *Node, g int) ([]variant, bool) {
	if !definesGroup(n, g) {
		return []variant{{n, false}}, true
	}
	switch n.kind {
	case nGroup:
		if n.group == g {
			return []variant{{n, true}}, true
		}
		vs, ok := split(n.subs[0], g)
		if !ok {
			return nil, false
		}
		out := make([]variant, len(vs))
		for i, v := range vs {
			c := *n
			c.subs = []*Node{v.n}
			out[i] = variant{&c, v.part}
		}
		return out, true
	case nAlt:
		var out []variant
		for _, s := range n.subs {
			vs, ok := split(s, g)
			if !ok {
				return nil, false
			}
			out = append(out, vs...)
		}
		return merge(out), true
	case nConcat:
		idx := -1
		for i, s := range n.subs {
			if definesGroup(s, g) {
				if idx >= 0 {
					return nil, false
				}
				idx = i
			}
		}
		vs, ok := split(n.subs[idx], g)
		if !ok {
			return nil, false
		}
		out := make([]variant, len(vs))
		for i, v := range vs {
			subs := append(append(append([]*Node{}, cloneAll(n.subs[:idx])...), v.n), cloneAll(n.subs[idx+1:])...)
			out[i] = variant{&Node{kind: nConcat, subs: subs}, v.part}
		}
		return out, true
	case nRepeat:
		if n.possessive || n.max != 1 {
			return nil, false
		}
		vs, ok := split(n.subs[0], g)
		if !ok {
			return nil, false
		}
		if n.min == 1 {
			return vs, true
		}
		empty := variant{&Node{kind: nEmpty}, false}
		if n.greedy {
			return merge(append(vs, empty)), true
		}
		return merge(append([]variant{empty}, vs...)), true
	}
	return nil, false
}

func cloneAll(ns []*Node) []*Node {
	out := make([]*Node, len(ns))
	for i, n := range ns {
		out[i] = clone(n)
	}
	return out
}

// merge joins neighbouring variants with the same participation into one
// alternation (same order, so the same backtracking order).
func merge(vs []variant) []variant {
	var out []variant
	for _, v := range vs {
		if n := len(out); n > 0 && out[n-1].part == v.part {
			out[n-1].n = reAlt(out[n-1].n, v.n)
			continue
		}
		out = append(out, v)
	}
	return out
}

func definesGroup(n *Node, g int) bool {
	if n.kind == nGroup && n.group == g {
		return true
	}
	for _, s := range n.subs {
		if definesGroup(s, g) {
			return true
		}
	}
	return false
}

func testsGroup(n *Node, g int) bool {
	if n.kind == nCond && n.group == g {
		return true
	}
	for _, s := range n.subs {
		if testsGroup(s, g) {
			return true
		}
	}
	return false
}

// resolve returns a copy of n with every (?(g)yes|no) replaced by yes or no.
func resolve(n *Node, g int, part bool) *Node {
	if n.kind == nCond && n.group == g {
		if part {
			return resolve(n.subs[0], g, part)
		}
		return resolve(n.subs[1], g, part)
	}
	c := *n
	if n.subs != nil {
		c.subs = make([]*Node, len(n.subs))
		for i, s := range n.subs {
			c.subs[i] = resolve(s, g, part)
		}
	}
	return &c
}

// eliminateConditionals rewrites every conditional it can; others remain
// (and send the regex to the backtracking engine).
func eliminateConditionals(n *Node) *Node {
	for i, s := range n.subs {
		n.subs[i] = eliminateConditionals(s)
	}
	if n.kind != nConcat {
		return n
	}
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(n.subs) && !changed; i++ {
			for _, g := range definedGroups(n.subs[i]) {
				if testsGroup(n.subs[i], g) {
					continue
				}
				j := -1
				for k := i + 1; k < len(n.subs); k++ {
					if testsGroup(n.subs[k], g) {
						j = k
					}
				}
				if j < 0 {
					continue
				}
				vs, ok := split(n.subs[i], g)
				if !ok {
					continue
				}
				alt := &Node{kind: nAlt}
				for _, v := range vs {
					seq := []*Node{v.n}
					for _, m := range n.subs[i+1 : j+1] {
						seq = append(seq, resolve(m, g, v.part))
					}
					// the variant may hold further conditionals it can now
					// resolve (a group defined inside v.n)
					alt.subs = append(alt.subs, eliminateConditionals(mkConcat(seq)))
				}
				var repl *Node = alt
				if len(alt.subs) == 1 {
					repl = alt.subs[0]
				}
				subs := append(append(append([]*Node{}, n.subs[:i]...), repl), n.subs[j+1:]...)
				n.subs = subs
				changed = true
				break
			}
		}
	}
	if len(n.subs) == 1 {
		return n.subs[0]
	}
	return n
}

func definedGroups(n *Node) []int {
	var out []int
	var walk func(*Node)
	walk = func(m *Node) {
		if m.kind == nGroup {
			out = append(out, m.group)
		}
		for _, s := range m.subs {
			walk(s)
		}
	}
	walk(n)
	return out
}

// ---------------------------------------------------------------------------
// Tempered dots.
//
// (?:(?!X).)* and (?:(?!X).)*? with a literal X stop before the first place
// X starts (or before a newline). When what follows the loop is X itself,
// or "$", the loop can only end at one place: the first occurrence of X
// (resp. the newline or end). The loop then equals the regular language of
// the strings it can consume there, which a DFA built from X gives without
// lookahead: the strings over [^\n] in which X does not start (for "$"),
// and that also do not run into the X that follows (for X).

func rewriteTempered(n *Node, cont []*Node) {
	switch n.kind {
	case nConcat:
		for i, s := range n.subs {
			next := append(append([]*Node{}, n.subs[i+1:]...), cont...)
			if x, ok := temperedLit(s); ok {
				if r := temperedReplacement(s, x, next); r != nil {
					n.subs[i] = r
					continue
				}
			}
			rewriteTempered(s, next)
		}
	case nAlt:
		for i, s := range n.subs {
			if x, ok := temperedLit(s); ok {
				if r := temperedReplacement(s, x, cont); r != nil {
					n.subs[i] = r
					continue
				}
			}
			rewriteTempered(s, cont)
		}
	case nGroup, nAtomic:
		s := n.subs[0]
		if x, ok := temperedLit(s); ok {
			if r := temperedReplacement(s, x, cont); r != nil {
				n.subs[0] = r
				return
			}
		}
		rewriteTempered(s, cont)
	case nRepeat:
		rewriteTempered(n.subs[0], nil)
	case nCond:
		rewriteTempered(n.subs[0], cont)
		rewriteTempered(n.subs[1], cont)
	}
}

// temperedLit recognises (?:(?!X).)* / *? and returns X.
func temperedLit(n *Node) ([]rune, bool) {
	if n.kind != nRepeat || n.min != 0 || n.max != -1 || n.possessive {
		return nil, false
	}
	body := n.subs[0]
	for body.kind == nConcat && len(body.subs) == 1 {
		body = body.subs[0]
	}
	if body.kind != nConcat || len(body.subs) != 2 {
		return nil, false
	}
	la, dot := body.subs[0], body.subs[1]
	if la.kind != nLook || la.behind || !la.neg || dot.kind != nAny || dot.flags&flagS != 0 {
		return nil, false
	}
	lit := la.subs[0]
	if lit.kind != nLit || lit.flags&flagI != 0 || len(lit.runes) == 0 {
		return nil, false
	}
	for _, r := range lit.runes {
		if r == '\n' {
			return nil, false
		}
	}
	return lit.runes, true
}

// temperedReplacement returns the loop-free replacement, or nil when the
// continuation does not force the loop's end.
func temperedReplacement(loop *Node, x []rune, cont []*Node) *Node {
	first := firstElem(cont)
	switch {
	case first == nil:
		return nil
	case first.kind == nEnd || first.kind == nEndStr:
		return dfaRegex(x, false)
	case first.kind == nLit && first.flags&flagI == 0 && hasPrefixRunes(first.runes, x):
		return dfaRegex(x, true)
	}
	return nil
}

// firstElem returns the first element of a continuation, looking into
// groups and sequences.
func firstElem(cont []*Node) *Node {
	for _, n := range cont {
		for {
			switch {
			case n.kind == nConcat && len(n.subs) > 0:
				n = n.subs[0]
				continue
			case n.kind == nGroup:
				n = n.subs[0]
				continue
			}
			break
		}
		if n.kind == nEmpty || (n.kind == nConcat && len(n.subs) == 0) {
			continue
		}
		return n
	}
	return nil
}

func hasPrefixRunes(s, p []rune) bool {
	if len(s) < len(p) {
		return false
	}
	for i := range p {
		if s[i] != p[i] {
			return false
		}
	}
	return true
}

// dfaRegex builds a regex for the strings over [^\n] in which x does not
// start; with followedByX, also requires that x does not start inside the
// string when x is appended.
func dfaRegex(x []rune, followedByX bool) *Node {
	k := len(x)
	// alphabet: the distinct runes of x, then "other"
	var alpha []rune
	seen := map[rune]bool{}
	for _, r := range x {
		if !seen[r] {
			seen[r] = true
			alpha = append(alpha, r)
		}
	}
	// KMP transition: state q = length of the longest prefix of x that is a
	// suffix of what was read; k = x found (dead).
	delta := func(q int, r rune, other bool) int {
		for {
			if q < k && !other && x[q] == r {
				return q + 1
			}
			if q == 0 {
				return 0
			}
			// failure function: longest proper border of x[:q]
			q = border(x[:q])
		}
	}
	accepting := make([]bool, k)
	for q := 0; q < k; q++ {
		accepting[q] = true
		if followedByX {
			s := q
			for i := 0; i < k-1; i++ {
				s = delta(s, x[i], false)
				if s == k {
					accepting[q] = false
					break
				}
			}
		}
	}
	otherCls := &pyClass{neg: true, items: []classItem{{kind: ciRange, lo: '\n', hi: '\n'}}}
	for _, r := range alpha {
		otherCls.items = append(otherCls.items, classItem{kind: ciRange, lo: r, hi: r})
	}
	// GNFA over states 0..k-1 plus start S=k and final F=k+1.
	N := k + 2
	S, F := k, k+1
	R := make([][]*Node, N)
	for i := range R {
		R[i] = make([]*Node, N)
	}
	add := func(i, j int, n *Node) { R[i][j] = reAlt(R[i][j], n) }
	for q := 0; q < k; q++ {
		for _, r := range alpha {
			if t := delta(q, r, false); t < k {
				add(q, t, &Node{kind: nLit, runes: []rune{r}})
			}
		}
		if t := delta(q, 0, true); t < k {
			add(q, t, &Node{kind: nClass, cls: otherCls})
		}
		if accepting[q] {
			add(q, F, &Node{kind: nEmpty})
		}
	}
	add(S, 0, &Node{kind: nEmpty})
	for q := k - 1; q >= 0; q-- {
		loop := R[q][q]
		for i := 0; i < N; i++ {
			if i == q || R[i][q] == nil {
				continue
			}
			for j := 0; j < N; j++ {
				if j == q || R[q][j] == nil {
					continue
				}
				add(i, j, reCat(reCat(R[i][q], reStar(loop)), R[q][j]))
			}
		}
		for i := 0; i < N; i++ {
			R[i][q], R[q][i] = nil, nil
		}
	}
	if R[S][F] == nil {
		return &Node{kind: nEmpty}
	}
	return R[S][F]
}

func border(s []rune) int {
	for l := len(s) - 1; l > 0; l-- {
		if hasPrefixRunes(s, s[len(s)-l:]) {
			return l
		}
	}
	return 0
}

func reAlt(a, b *Node) *Node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	if a.kind == nAlt {
		c := *a
		c.subs = append(append([]*Node{}, a.subs...), b)
		return &c
	}
	return &Node{kind: nAlt, subs: []*Node{a, b}}
}

func reCat(a, b *Node) *Node {
	if a == nil || b == nil {
		return nil
	}
	if a.kind == nEmpty {
		return b
	}
	if b.kind == nEmpty {
		return a
	}
	return mkConcat([]*Node{a, b})
}

func reStar(a *Node) *Node {
	if a == nil || a.kind == nEmpty {
		return &Node{kind: nEmpty}
	}
	return &Node{kind: nRepeat, min: 0, max: -1, greedy: true, subs: []*Node{a}}
}

// trailingBoundary rewrites a \b or \B that ends the regex when the
// character before it is known to be a word (or a non-word) character:
// the boundary then only depends on the next character, which RE2 can
// consume instead of looking at. "failed\b" becomes "failed(?:[^\w]|\z)":
// the same matches with the same groups, the whole match being one
// character longer, which the search puts back (see nTrail).
func trailingBoundary(t *Node) *Node {
	if t.kind != nConcat || len(t.subs) < 2 {
		return t
	}
	last := t.subs[len(t.subs)-1]
	if (last.kind != nWordB && last.kind != nNotWordB) || last.flags&flagA != 0 {
		return t
	}
	before := ctx{chars: cset{any: true}, edge: true}
	for _, s := range t.subs[:len(t.subs)-1] {
		before = after(s, before)
	}
	leftW := before.chars.all(IsWord) && !before.edge && !before.chars.empty()
	leftN := before.chars.all(func(r rune) bool { return !IsWord(r) })
	word := &pyClass{items: []classItem{{kind: ciWord}}}
	nonWordOrEnd := &Node{kind: nAlt, subs: []*Node{
		{kind: nClass, cls: &pyClass{neg: true, items: []classItem{{kind: ciWord}}}},
		{kind: nEndStr},
	}}
	var repl *Node
	switch {
	case leftW == (last.kind == nWordB) && (leftW || leftN):
		// word before and \b, or non-word before and \B: the next is not a word character
		repl = nonWordOrEnd
	case leftW || leftN:
		repl = &Node{kind: nClass, cls: word}
	default:
		return t
	}
	t.subs[len(t.subs)-1] = &Node{kind: nTrail, subs: []*Node{repl}}
	return t
}
