package pyre

import (
	"sync"
	"unicode"
)

// Python's case-insensitive matching (Lib/re/_compiler.py, Modules/_sre):
// a cased literal c matches every character x with lower(x) in {lower(c)}
// plus the extra equivalences of re._casefix (such as i and dotless ı, s and
// long ſ), where lower is the simple lowercase mapping; a set with a cased
// member matches x when lower(x) is in the set's lowered members. Go's
// (?i) uses simple case folding instead, which differs (İ and ı, for one),
// so the emitters spell the characters out and never emit (?i).

// pyExtraCases is re._casefix._EXTRA_CASES (Python 3.11).
var pyExtraCases = map[rune][]rune{
	0x69: {0x131}, 0x73: {0x17f}, 0xb5: {0x3bc}, 0x131: {0x69}, 0x17f: {0x73}, 0x345: {0x3b9, 0x1fbe},
	0x390: {0x1fd3}, 0x3b0: {0x1fe3}, 0x3b2: {0x3d0}, 0x3b5: {0x3f5}, 0x3b8: {0x3d1}, 0x3b9: {0x345, 0x1fbe},
	0x3ba: {0x3f0}, 0x3bc: {0xb5}, 0x3c0: {0x3d6}, 0x3c1: {0x3f1}, 0x3c2: {0x3c3}, 0x3c3: {0x3c2},
	0x3c6: {0x3d5}, 0x3d0: {0x3b2}, 0x3d1: {0x3b8}, 0x3d5: {0x3c6}, 0x3d6: {0x3c0}, 0x3f0: {0x3ba},
	0x3f1: {0x3c1}, 0x3f5: {0x3b5}, 0x432: {0x1c80}, 0x434: {0x1c81}, 0x43e: {0x1c82}, 0x441: {0x1c83},
	0x442: {0x1c84, 0x1c85}, 0x44a: {0x1c86}, 0x463: {0x1c87}, 0x1c80: {0x432}, 0x1c81: {0x434},
	0x1c82: {0x43e}, 0x1c83: {0x441}, 0x1c84: {0x442, 0x1c85}, 0x1c85: {0x442, 0x1c84}, 0x1c86: {0x44a},
	0x1c87: {0x463}, 0x1c88: {0xa64b}, 0x1e61: {0x1e9b}, 0x1e9b: {0x1e61}, 0x1fbe: {0x345, 0x3b9},
	0x1fd3: {0x390}, 0x1fe3: {0x3b0}, 0xa64b: {0x1c88}, 0xfb05: {0xfb06}, 0xfb06: {0xfb05},
}

type lowerPair struct{ from, to rune }

var (
	lowerOnce  sync.Once
	lowerPairs []lowerPair // every rune whose lowercase differs, ascending
	lowerDom   rangeSet    // their set
)

func lowerTables() {
	lowerOnce.Do(func() {
		var dom []rng
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if l := unicode.ToLower(r); l != r {
				lowerPairs = append(lowerPairs, lowerPair{r, l})
				dom = append(dom, rng{r, r})
			}
		}
		lowerDom = normalize(dom)
	})
}

func pyCased(r rune) bool { return unicode.ToLower(r) != r || unicode.ToUpper(r) != r }

func asciiLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// subtract returns s without the characters of t.
func (s rangeSet) subtract(t rangeSet) rangeSet {
	return normalize(append(s.complement(), t...)).complement()
}

// preimage returns {x : lower(x) in s}.
func preimage(s rangeSet) rangeSet {
	lowerTables()
	out := []rng(s.subtract(lowerDom))
	for _, p := range lowerPairs {
		if s.contains(p.to) {
			out = append(out, rng{p.from, p.from})
		}
	}
	return normalize(out)
}

// pyFoldRune is the set of characters a case-insensitive literal r matches.
func pyFoldRune(r rune, ascii bool) rangeSet {
	if ascii {
		if !asciiLetter(r) {
			return rangeSet{{r, r}}
		}
		lo := r | 0x20
		return normalize([]rng{{lo, lo}, {lo - 0x20, lo - 0x20}})
	}
	if !pyCased(r) {
		return rangeSet{{r, r}}
	}
	lo := unicode.ToLower(r)
	targets := []rng{{lo, lo}}
	for _, k := range pyExtraCases[lo] {
		targets = append(targets, rng{k, k})
	}
	return preimage(normalize(targets))
}

// pyFoldClass is the set of characters a case-insensitive set matches.
func pyFoldClass(c *pyClass, ascii bool) rangeSet {
	var lits []rng // literal and range members
	var cats []rng // \d \w \s ... members
	hascased := false
	for _, it := range c.items {
		if it.kind != ciRange {
			cats = append(cats, itemSet(it, ascii)...)
			continue
		}
		lits = append(lits, rng{it.lo, it.hi})
		if !hascased {
			for x := it.lo; x <= it.hi; x++ {
				if ascii && asciiLetter(x) || !ascii && pyCased(x) {
					hascased = true
					break
				}
				if x-it.lo > 0x3000 {
					// big ranges hold cased letters
					hascased = true
					break
				}
			}
		}
	}
	if !hascased {
		return c.set(ascii)
	}
	var img []rng
	if ascii {
		for _, r := range normalize(lits) {
			img = append(img, r)
			lo, hi := max(r.lo, 'A'), min(r.hi, 'Z')
			if lo <= hi {
				img = append(img, rng{lo + 0x20, hi + 0x20})
			}
		}
		img = append(img, cats...)
		s := normalize(img)
		// {x : asciilower(x) in s}: s without A-Z, plus A-Z whose
		// lowercase is in s
		upper := rangeSet{{'A', 'Z'}}
		pre := []rng(s.subtract(upper))
		for x := rune('A'); x <= 'Z'; x++ {
			if s.contains(x + 0x20) {
				pre = append(pre, rng{x, x})
			}
		}
		out := normalize(pre)
		if c.neg {
			return out.complement()
		}
		return out
	}
	lowerTables()
	ls := normalize(lits)
	img = append(img, ls.subtract(lowerDom)...)
	for _, p := range lowerPairs {
		if ls.contains(p.from) {
			img = append(img, rng{p.to, p.to})
		}
	}
	s := normalize(img)
	var fix []rng
	for k, vs := range pyExtraCases {
		if s.contains(k) {
			for _, v := range vs {
				fix = append(fix, rng{v, v})
			}
		}
	}
	s = normalize(append(append(append([]rng{}, s...), fix...), cats...))
	out := preimage(s)
	if c.neg {
		return out.complement()
	}
	return out
}

// asciiFoldees lists the non-ASCII characters IGNORECASE matches with an
// ASCII letter (İ ı ſ K with Unicode tables).
var asciiFoldees = sync.OnceValue(func() rangeSet {
	var out []rng
	for c := rune('a'); c <= 'z'; c++ {
		for _, x := range pyFoldRune(c, false) {
			if x.hi >= 0x80 {
				out = append(out, rng{max(x.lo, 0x80), x.hi})
			}
		}
	}
	return normalize(out)
})

// FoldsToASCII reports whether r is a non-ASCII character that Python's
// IGNORECASE matching (str pattern) equates with an ASCII letter.
func FoldsToASCII(r rune) bool { return r >= 0x80 && asciiFoldees().contains(r) }
