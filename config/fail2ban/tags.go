package fail2ban

import (
	"strings"
)

// MaxTagReplaceCount is helpers.MAX_TAG_REPLACE_COUNT: within one value,
// substituting the same tag more often than this is reported as recursion.
const MaxTagReplaceCount = 25

// maxTagValueLen bounds a value growing through tag substitution (Fail2Ban
// has no bound; tags doubling a value 25 times would take gigabytes).
const maxTagValueLen = 1 << 20

// tagMatch is one match of helpers.TAG_CRE, `<([^ <>]+)>`.
type tagMatch struct {
	start, end int
	name       string
}

// searchTag finds the first <tag> in s at or after pos.
func searchTag(s string, pos int) (tagMatch, bool) {
	for pos < len(s) {
		i := strings.IndexByte(s[pos:], '<')
		if i < 0 {
			return tagMatch{}, false
		}
		i += pos
		j := i + 1
		for j < len(s) && s[j] != ' ' && s[j] != '<' && s[j] != '>' {
			j++
		}
		if j > i+1 && j < len(s) && s[j] == '>' {
			return tagMatch{start: i, end: j + 1, name: s[i+1 : j]}, true
		}
		pos = i + 1
	}
	return tagMatch{}, false
}

// substituteTags is helpers.substituteRecursiveTags: every <tag> naming
// another option (or one addrepl resolves) is replaced, recursively, in
// option order; unknown tags stay. tags is not modified. addrepl returns
// nil for a tag it does not know.
func substituteTags(tags *section, ignore map[string]bool, addrepl func(string) (*value, error)) (*section, error) {
	tags = tags.clone()
	done := map[string]bool{}
	repCounts := map[string]map[string]int{}
	for {
		repFlag := false
		for _, tag := range tags.keys {
			if ignore[tag] || done[tag] {
				continue
			}
			v := tags.vals[tag]
			if v == nil { // None: str(None) has no tags
				done[tag] = true
				continue
			}
			val, orig := v.s, v.s
			rplc := repCounts[tag]
			if rplc == nil {
				rplc = map[string]int{}
			}
			m, ok := searchTag(val, 0)
			for ok {
				rtag := m.name
				if ignore[rtag] {
					m, ok = searchTag(val, m.end)
					continue
				}
				cnt, seen := rplc[rtag]
				if !seen {
					cnt = 1
				}
				if rtag == tag || cnt > MaxTagReplaceCount {
					return nil, errAt(v, "", tag, ErrTagRecursion,
						"tag <%s> cannot be resolved (self-reference or more than %d substitutions)", rtag, MaxTagReplaceCount)
				}
				repl := tags.vals[rtag]
				if repl == nil && addrepl != nil {
					var err error
					if repl, err = addrepl(rtag); err != nil {
						return nil, err
					}
				}
				if repl == nil {
					m, ok = searchTag(val, m.end)
					continue
				}
				val = strings.ReplaceAll(val, "<"+rtag+">", repl.s)
				if len(val) > maxTagValueLen {
					return nil, errAt(v, "", tag, ErrTagRecursion, "value grows beyond %d bytes", maxTagValueLen)
				}
				rplc[rtag]++
				m, ok = searchTag(val, m.start)
			}
			if val != orig {
				if _, more := searchTag(val, 0); more {
					repCounts[tag] = rplc
					repFlag = true
				}
				tags.vals[tag] = &value{s: val, file: v.file, line: v.line}
			}
			if !strings.Contains(val, "<") {
				done[tag] = true
			}
		}
		if !repFlag {
			return tags, nil
		}
	}
}
