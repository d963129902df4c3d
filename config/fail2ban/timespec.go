package fail2ban

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ParseTime converts a Fail2Ban time string (bantime, findtime, ...) to a
// duration, as MyTime.str2seconds does: "600", "10m", "1h 30m", "1d12h",
// "2weeks", "1mo" (a 12th of 365.25 days), "1y" (365.25 days),
// "1year-6mo", "(1+2)*60", "-1". Units are case-insensitive; groups
// separated by spaces are added. Fail2Ban hands the rewritten string to
// Python's eval; ParseTime evaluates only arithmetic (+ - * / // % ** and
// parentheses on numbers) and returns an error wrapping ErrValue for
// anything else, where Fail2Ban would fail too or run arbitrary Python.
// A negative result (Fail2Ban's "-1" bantime) means a permanent ban. Times
// beyond a time.Duration's range (about 292 years) are clamped to it.
func ParseTime(s string) (time.Duration, error) {
	d, err := parseTime(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrValue, err)
	}
	return d, nil
}

// parseTime is ParseTime with errors not wrapping ErrValue.
func parseTime(s string) (time.Duration, error) {
	sec, err := str2seconds(s)
	if err != nil {
		return 0, err
	}
	d := sec * float64(time.Second)
	switch {
	case math.IsNaN(d):
		return 0, fmt.Errorf("time %q is not a number", s)
	case d >= math.MaxInt64:
		return time.Duration(math.MaxInt64), nil
	case d <= math.MinInt64:
		return time.Duration(math.MinInt64), nil
	}
	return time.Duration(math.Round(d)), nil
}

type timeUnit struct {
	alts []string // tried in order, like the regex alternation
	mult string
}

// The replacements of MyTime._str2sec_parts, in their order.
var timeUnits = []timeUnit{
	{[]string{"days", "day", "da", "dd", "d"}, "*86400"},
	{[]string{"weeks", "week", "wee", "we", "ww", "w"}, "*604800"},
	{[]string{"months", "month", "mon", "mo"}, "*2629800.0"},
	{[]string{"years", "year", "yea", "ye", "yy", "y"}, "*31557600.0"},
	{[]string{"seconds", "second", "sec", "se", "ss", "s"}, "*1"},
	{[]string{"minutes", "minute", "min", "mi", "mm", "m"}, "*60"},
	{[]string{"hours", "hour", "hou", "ho", "hh", "h"}, "*3600"},
}

func str2seconds(s string) (float64, error) {
	// _str2sec_prep: a digit right after a letter starts a new group
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i > 0 && isDigit(s[i]) && isASCIILetter(s[i-1]) {
			b.WriteByte(' ')
		}
		b.WriteByte(s[i])
	}
	v := b.String()
	for _, u := range timeUnits {
		v = replaceUnit(v, u)
	}
	// _str2sec_fini: `(\d)\s+(\d)` -> `\1+\2`, non-overlapping
	b.Reset()
	for i := 0; i < len(v); {
		if isDigit(v[i]) {
			j := i + 1
			for j < len(v) {
				r, n := utf8.DecodeRuneInString(v[j:])
				if !pyIsSpace(r) {
					break
				}
				j += n
			}
			if j > i+1 && j < len(v) && isDigit(v[j]) {
				b.WriteByte(v[i])
				b.WriteByte('+')
				b.WriteByte(v[j])
				i = j + 1
				continue
			}
		}
		b.WriteByte(v[i])
		i++
	}
	x, err := evalArith(b.String())
	if err != nil {
		return 0, fmt.Errorf("time %q: %v", s, err)
	}
	return x, nil
}

// replaceUnit applies `(?i)(?<=[\d\s])(alts)\b` -> mult.
func replaceUnit(v string, u timeUnit) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(v[:i])
			if isDigit(byte(prev)) && prev < utf8.RuneSelf || pyIsSpace(prev) {
				if n := matchUnit(v[i:], u.alts); n > 0 {
					b.WriteString(u.mult)
					i += n
					continue
				}
			}
		}
		b.WriteByte(v[i])
		i++
	}
	return b.String()
}

// matchUnit returns the length of the first alternative matching at the
// start of s (case-insensitively) and followed by a word boundary.
func matchUnit(s string, alts []string) int {
	for _, a := range alts {
		if len(s) >= len(a) && strings.EqualFold(s[:len(a)], a) {
			if len(s) == len(a) {
				return len(a)
			}
			r, _ := utf8.DecodeRuneInString(s[len(a):])
			if !pyIsWord(r) {
				return len(a)
			}
		}
	}
	return 0
}

func isDigit(c byte) bool       { return '0' <= c && c <= '9' }
func isASCIILetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// evalArith evaluates the Python arithmetic expressions str2seconds builds.
func evalArith(s string) (float64, error) {
	p := &arith{s: s}
	p.space()
	if p.i == len(p.s) {
		return 0, fmt.Errorf("empty expression")
	}
	x, err := p.expr()
	if err != nil {
		return 0, err
	}
	p.space()
	if p.i != len(p.s) {
		return 0, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	return x, nil
}

type arith struct {
	s     string
	i     int
	depth int
}

func (p *arith) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\f') {
		p.i++
	}
}

func (p *arith) peek(tok string) bool {
	p.space()
	return strings.HasPrefix(p.s[p.i:], tok)
}

func (p *arith) expr() (float64, error) {
	x, err := p.term()
	if err != nil {
		return 0, err
	}
	for {
		switch {
		case p.peek("+"):
			p.i++
			y, err := p.term()
			if err != nil {
				return 0, err
			}
			x += y
		case p.peek("-"):
			p.i++
			y, err := p.term()
			if err != nil {
				return 0, err
			}
			x -= y
		default:
			return x, nil
		}
	}
}

func (p *arith) term() (float64, error) {
	x, err := p.unary()
	if err != nil {
		return 0, err
	}
	for {
		var op string
		switch {
		case p.peek("**"):
			return x, nil // handled in power
		case p.peek("//"):
			op = "//"
		case p.peek("*"):
			op = "*"
		case p.peek("/"):
			op = "/"
		case p.peek("%"):
			op = "%"
		default:
			return x, nil
		}
		p.i += len(op)
		y, err := p.unary()
		if err != nil {
			return 0, err
		}
		switch op {
		case "*":
			x *= y
		case "/", "//", "%":
			if y == 0 {
				return 0, fmt.Errorf("division by zero")
			}
			switch op {
			case "/":
				x /= y
			case "//":
				x = math.Floor(x / y)
			default:
				x -= y * math.Floor(x/y)
			}
		}
	}
}

func (p *arith) unary() (float64, error) {
	neg := false
	for {
		if p.peek("-") {
			neg = !neg
		} else if !p.peek("+") {
			break
		}
		p.i++
	}
	x, err := p.power()
	if neg {
		x = -x
	}
	return x, err
}

func (p *arith) power() (float64, error) {
	x, err := p.atom()
	if err != nil {
		return 0, err
	}
	if p.peek("**") {
		p.i += 2
		if p.depth++; p.depth > 100 {
			return 0, fmt.Errorf("too deeply nested")
		}
		y, err := p.unary()
		p.depth--
		if err != nil {
			return 0, err
		}
		return math.Pow(x, y), nil
	}
	return x, nil
}

func (p *arith) atom() (float64, error) {
	p.space()
	if p.i >= len(p.s) {
		return 0, fmt.Errorf("unexpected end")
	}
	if p.s[p.i] == '(' {
		if p.depth++; p.depth > 100 {
			return 0, fmt.Errorf("too deeply nested")
		}
		p.i++
		x, err := p.expr()
		if err != nil {
			return 0, err
		}
		if !p.peek(")") {
			return 0, fmt.Errorf("missing )")
		}
		p.i++
		p.depth--
		return x, nil
	}
	// a Python int or float literal
	j := p.i
	for j < len(p.s) && isDigit(p.s[j]) {
		j++
	}
	intEnd := j
	if j < len(p.s) && p.s[j] == '.' {
		j++
		for j < len(p.s) && isDigit(p.s[j]) {
			j++
		}
	}
	lit := p.s[p.i:j]
	if lit == "" || lit == "." {
		return 0, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	if j < len(p.s) && (pyIsWord(rune(p.s[j])) || p.s[j] >= utf8.RuneSelf) {
		return 0, fmt.Errorf("invalid literal %q", p.s[p.i:])
	}
	// Python 3 rejects integer literals with leading zeros ("010")
	if intEnd == j && len(lit) > 1 && lit[0] == '0' && strings.Trim(lit, "0") != "" {
		return 0, fmt.Errorf("leading zeros in %q", lit)
	}
	p.i = j
	return strconv.ParseFloat(lit, 64)
}
