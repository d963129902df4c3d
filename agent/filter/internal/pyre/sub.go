package pyre

import (
	"strings"
	"unicode/utf8"
)

// Match is one match of a string search, for the string helpers below.
type Match struct {
	s    string
	caps []int
}

// Group returns the text of group i ("" if it did not take part).
func (mt *Match) Group(i int) string {
	if 2*i+1 >= len(mt.caps) || mt.caps[2*i] < 0 {
		return ""
	}
	return mt.s[mt.caps[2*i]:mt.caps[2*i+1]]
}

// Span returns the byte span of group i, or -1, -1.
func (mt *Match) Span(i int) (int, int) {
	if 2*i+1 >= len(mt.caps) || mt.caps[2*i] < 0 {
		return -1, -1
	}
	return mt.caps[2*i], mt.caps[2*i+1]
}

// FindString returns the first match in s, or nil. It allocates; it is
// meant for building patterns, not for the per-line path.
func (re *Regexp) FindString(s string) *Match {
	var m Machine
	if !re.Search(&m, []byte(s), 0, len(s)) {
		return nil
	}
	return &Match{s: s, caps: append([]int(nil), m.caps...)}
}

// MatchString reports whether s contains a match.
func (re *Regexp) MatchString(s string) bool { return re.FindString(s) != nil }

// ReplaceFunc works like Python's re.sub(pattern, func, s, count): each
// non-overlapping match (at most count, 0 = all) is replaced by repl's
// result.
func (re *Regexp) ReplaceFunc(s string, count int, repl func(*Match) string) string {
	var m Machine
	b := []byte(s)
	var out strings.Builder
	last, pos, n := 0, 0, 0
	emptyAt := -1 // position of the previous empty match
	for pos <= len(b) && (count == 0 || n < count) {
		if !re.Search(&m, b, pos, len(b)) {
			break
		}
		st, en := m.caps[0], m.caps[1]
		if st == en && st == emptyAt {
			// Python does not match empty twice at the same place
			if st >= len(b) {
				break
			}
			_, w := utf8.DecodeRune(b[st:])
			pos = st + w
			continue
		}
		out.WriteString(s[last:st])
		out.WriteString(repl(&Match{s: s, caps: append([]int(nil), m.caps...)}))
		last, pos = en, en
		n++
		emptyAt = -1
		if st == en {
			emptyAt = st
		}
	}
	out.WriteString(s[last:])
	return out.String()
}

// ReplaceString is ReplaceFunc with a fixed replacement in which \1 .. \9
// stand for groups (as in Python's template strings, without \g<>).
func (re *Regexp) ReplaceString(s string, count int, template string) string {
	return re.ReplaceFunc(s, count, func(mt *Match) string {
		var out strings.Builder
		for i := 0; i < len(template); i++ {
			if template[i] == '\\' && i+1 < len(template) && template[i+1] >= '0' && template[i+1] <= '9' {
				out.WriteString(mt.Group(int(template[i+1] - '0')))
				i++
				continue
			}
			out.WriteByte(template[i])
		}
		return out.String()
	})
}
