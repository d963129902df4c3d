package fail2ban

import (
	"fmt"
	"strings"
)

// shlexSplit is Python's shlex.split(s) (POSIX mode, no comments): words
// separated by spaces, tabs and newlines, with '...' and "..." quoting and
// backslash escapes.
func shlexSplit(s string) ([]string, error) {
	const (
		stWhite = iota
		stWord
		stQuote  // inside '...' or "..."
		stEscape // after a backslash
	)
	var (
		out     []string
		tok     strings.Builder
		state   = stWhite
		quote   rune // the quote char while in stQuote
		escFrom = stWord
		escQ    rune // quote char escFrom was in
		quoted  bool
	)
	isWS := func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }
	flush := func() {
		if tok.Len() > 0 || quoted {
			out = append(out, tok.String())
		}
		tok.Reset()
		quoted = false
	}
	for _, r := range s {
		switch state {
		case stWhite:
			switch {
			case isWS(r):
			case r == '\\':
				escFrom, state = stWord, stEscape
			case r == '\'' || r == '"':
				quote, state = r, stQuote
			default:
				tok.WriteRune(r)
				state = stWord
			}
		case stWord:
			switch {
			case isWS(r):
				flush()
				state = stWhite
			case r == '\'' || r == '"':
				quote, state = r, stQuote
			case r == '\\':
				escFrom, state = stWord, stEscape
			default:
				tok.WriteRune(r)
			}
		case stQuote:
			quoted = true
			switch {
			case r == quote:
				state = stWord
			case r == '\\' && quote == '"':
				escFrom, escQ, state = stQuote, quote, stEscape
			default:
				tok.WriteRune(r)
			}
		case stEscape:
			// in "...", a backslash only escapes " and itself
			if escFrom == stQuote && r != '\\' && r != escQ {
				tok.WriteByte('\\')
			}
			tok.WriteRune(r)
			state = escFrom
		}
	}
	switch state {
	case stQuote:
		return nil, fmt.Errorf("%q: no closing quotation", s)
	case stEscape:
		return nil, fmt.Errorf("%q: no escaped character", s)
	}
	flush()
	return out, nil
}
