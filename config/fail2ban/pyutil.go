package fail2ban

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the few Python string semantics Fail2Ban's readers rely on:
// str.isspace/strip, the Unicode \w of Python's re, os.path's join, dirname
// and splitext, and universal-newline line splitting.

// pyIsSpace reports whether r is whitespace for Python's str.isspace and the
// Unicode \s of its re module.
func pyIsSpace(r rune) bool {
	switch {
	case r >= 0x09 && r <= 0x0d, r >= 0x1c && r <= 0x20, r == 0x85, r == 0xa0,
		r == 0x1680, r >= 0x2000 && r <= 0x200a, r == 0x2028, r == 0x2029,
		r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// pyIsWord reports whether r matches Python's Unicode \w.
func pyIsWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

func pyStrip(s string) string  { return strings.TrimFunc(s, pyIsSpace) }
func pyRStrip(s string) string { return strings.TrimRightFunc(s, pyIsSpace) }

// pyLower lower-cases like configparser's optionxform (str.lower).
func pyLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}

// pyJoin is os.path.join for two POSIX path parts.
func pyJoin(a, b string) string {
	if strings.HasPrefix(b, "/") {
		return b
	}
	if a == "" || strings.HasSuffix(a, "/") {
		return a + b
	}
	return a + "/" + b
}

// pyDirname is os.path.dirname: the head of the path, trailing slashes
// removed unless it is all slashes. It does not clean the path.
func pyDirname(p string) string {
	i := strings.LastIndexByte(p, '/') + 1
	head := p[:i]
	if head != "" && strings.Trim(head, "/") != "" {
		head = strings.TrimRight(head, "/")
	}
	return head
}

// pySplitextRoot is os.path.splitext(p)[0]: p without its extension. Leading
// dots of the last component do not start an extension.
func pySplitextRoot(p string) string {
	sep := strings.LastIndexByte(p, '/')
	dot := strings.LastIndexByte(p, '.')
	if dot > sep {
		// the extension must not be made of the component's leading dots only
		for i := sep + 1; i < dot; i++ {
			if p[i] != '.' {
				return p[:dot]
			}
		}
	}
	return p
}

// splitUniversal splits text into lines the way Python's text files do in
// universal-newline mode: "\n", "\r\n" and "\r" all end a line. The line
// ends are dropped; a final line end does not start another line.
func splitUniversal(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			out = append(out, s[start:i])
			start = i + 1
		case '\r':
			out = append(out, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// splitWords is helpers.splitwords: split on any run of spaces, commas and
// newlines, strip each word, drop empty ones.
func splitWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' }) {
		if w = pyStrip(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// asBool is helpers._as_bool for strings.
func asBool(s string) bool {
	switch strings.ToLower(s) {
	case "1", "on", "true", "yes":
		return true
	}
	return false
}

// pyBoolStr is str() of a Python bool.
func pyBoolStr(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }
