package journal

import (
	"fmt"
	"strings"
)

// ParseMatch parses a Fail2Ban filter's journalmatch value into OR groups of
// AND terms, as Fail2Ban 1.0.2 does: every non-empty line is split like a
// POSIX shell line (Python's shlex.split: quotes, backslashes, no comments)
// and added as its own match, so lines are ORed; within a line a "+" word
// starts a new OR group. Empty groups (a leading, trailing or doubled "+")
// add nothing to the journal's match and are dropped. Every term must be
// FIELD=value as sd_journal_add_match accepts it (see [ValidMatchTerm]).
// An empty value gives no groups: every entry matches.
func ParseMatch(s string) ([][]string, error) {
	var groups [][]string
	for line := range strings.SplitSeq(s, "\n") {
		if line == "" {
			continue
		}
		words, err := shlexSplit(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrInvalidMatch, line, err)
		}
		var cur []string
		for _, w := range words {
			if w == "+" {
				if len(cur) > 0 {
					groups = append(groups, cur)
				}
				cur = nil
				continue
			}
			if err := ValidMatchTerm(w); err != nil {
				return nil, err
			}
			cur = append(cur, w)
		}
		if len(cur) > 0 {
			groups = append(groups, cur)
		}
	}
	return groups, nil
}

// ValidMatchTerm checks one journal match term the way sd_journal_add_match
// does: a non-empty name of A-Z, 0-9 and '_' not starting with "__", then
// '=' and any value. A NUL byte is refused too: it cannot be passed to
// journalctl.
func ValidMatchTerm(term string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q: %s", ErrInvalidMatch, term, why)
	}
	if strings.IndexByte(term, 0) >= 0 {
		return bad("contains a NUL byte")
	}
	if strings.HasPrefix(term, "__") {
		return bad(`field name starts with "__"`)
	}
	for i := 0; i < len(term); i++ {
		c := term[i]
		switch {
		case c == '=':
			if i == 0 {
				return bad("empty field name")
			}
			return nil
		case c == '_', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return bad("field name may hold only A-Z, 0-9 and _, followed by =")
		}
	}
	return bad("no '=' (expected FIELD=value)")
}

// shlexSplit splits s as Python's shlex.split(s) does (POSIX mode, no
// comments): whitespace is " \t\r\n"; '...' is literal; in "..." a
// backslash escapes only '"' and '\'; elsewhere it escapes any character;
// adjacent quoted and unquoted parts form one word, and "" is an empty word.
func shlexSplit(s string) ([]string, error) {
	var (
		words []string
		tok   []byte
		inTok bool
	)
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n':
			if inTok {
				words = append(words, string(tok))
				tok, inTok = tok[:0], false
			}
			i++
		case '\\':
			if i+1 >= len(s) {
				return nil, errNoEscaped
			}
			tok, inTok = append(tok, s[i+1]), true
			i += 2
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errNoClosingQuote
			}
			tok, inTok = append(tok, s[i+1:i+1+j]...), true
			i += j + 2
		case '"':
			inTok = true
			i++
			for {
				if i >= len(s) {
					return nil, errNoClosingQuote
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' {
					if i+1 >= len(s) {
						return nil, errNoEscaped
					}
					if n := s[i+1]; n == '"' || n == '\\' {
						tok = append(tok, n)
					} else {
						tok = append(tok, '\\', n)
					}
					i += 2
					continue
				}
				tok = append(tok, c)
				i++
			}
		default:
			tok, inTok = append(tok, c), true
			i++
		}
	}
	if inTok {
		words = append(words, string(tok))
	}
	return words, nil
}

type shlexError string

func (e shlexError) Error() string { return string(e) }

const (
	errNoClosingQuote = shlexError("no closing quotation")
	errNoEscaped      = shlexError("no escaped character")
)

// ValidCursor checks a cursor the way sd_journal_seek_cursor parses it:
// ';'-separated k=v items where s and b are 128-bit ids, i, m, t and x are
// hexadecimal numbers, other keys are ignored, and either s+i, b+m or t is
// present. journalctl exits at once on a cursor it refuses, so a saved
// cursor is checked before it is used.
func ValidCursor(c string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q: %s", ErrInvalidCursor, c, why)
	}
	if c == "" {
		return bad("empty")
	}
	if strings.ContainsAny(c, "\x00\n") {
		return bad("contains NUL or newline")
	}
	var s, i, b, m, t bool
	for item := range strings.SplitSeq(c, ";") {
		if item == "" {
			continue
		}
		if len(item) < 2 || item[1] != '=' {
			return bad("item " + item + " is not k=v")
		}
		v := item[2:]
		switch item[0] {
		case 's', 'b':
			if !isID128(v) {
				return bad("item " + item + " is not a 128-bit id")
			}
			s, b = s || item[0] == 's', b || item[0] == 'b'
		case 'i', 'm', 't', 'x':
			if !isHex64(v) {
				return bad("item " + item + " is not a hexadecimal number")
			}
			i, m, t = i || item[0] == 'i', m || item[0] == 'm', t || item[0] == 't'
		}
	}
	if !(s && i) && !(b && m) && !t {
		return bad("needs s and i, b and m, or t")
	}
	return nil
}

func isID128(v string) bool {
	if len(v) == 36 && v[8] == '-' && v[13] == '-' && v[18] == '-' && v[23] == '-' {
		v = v[:8] + v[9:13] + v[14:18] + v[19:23] + v[24:]
	}
	return len(v) == 32 && isHex(v)
}

func isHex64(v string) bool { return len(v) > 0 && len(v) <= 16 && isHex(v) }

func isHex(v string) bool {
	for i := 0; i < len(v); i++ {
		if digitValue(v[i]) >= 16 {
			return false
		}
	}
	return true
}
