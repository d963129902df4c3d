package wire

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Scanner reads JSON tokens from Data at Pos, without reflection: the
// one-pass decoders of the hot paths (offences here, bans in the agent's
// enforcer) are built on it. Each method consumes its token and reports
// whether it was there and well formed; on false, Pos is unspecified.
type Scanner struct {
	Data []byte
	Pos  int
}

// Space skips white space.
func (d *Scanner) Space() {
	for d.Pos < len(d.Data) {
		switch d.Data[d.Pos] {
		case ' ', '\t', '\n', '\r':
			d.Pos++
		default:
			return
		}
	}
}

// Byte consumes c if it comes next (no white space skipped).
func (d *Scanner) Byte(c byte) bool {
	if d.Pos < len(d.Data) && d.Data[d.Pos] == c {
		d.Pos++
		return true
	}
	return false
}

// Int reads a JSON number that is an integer in int's range (no fraction,
// no exponent, as encoding/json takes into an int).
func (d *Scanner) Int() (int, bool) {
	i := d.Pos
	if i < len(d.Data) && d.Data[i] == '-' {
		i++
	}
	digits := i
	for i < len(d.Data) && d.Data[i] >= '0' && d.Data[i] <= '9' {
		i++
	}
	switch {
	case i == digits, d.Data[digits] == '0' && i > digits+1:
		return 0, false // no digits, or a leading zero
	case i < len(d.Data) && (d.Data[i] == '.' || d.Data[i] == 'e' || d.Data[i] == 'E'):
		return 0, false
	}
	n, err := strconv.ParseInt(string(d.Data[d.Pos:i]), 10, strconv.IntSize)
	if err != nil {
		return 0, false
	}
	d.Pos = i
	return int(n), true
}

// Raw reads a string that needs no unescaping (valid UTF-8, no
// escape, no control character) and returns its bytes in data.
func (d *Scanner) Raw() ([]byte, bool) {
	if !d.Byte('"') {
		return nil, false
	}
	start, ascii := d.Pos, true
	for i := start; i < len(d.Data); i++ {
		switch c := d.Data[i]; {
		case c == '"':
			s := d.Data[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.Pos = i + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// Str reads a JSON string as encoding/json does: escapes resolved, each
// byte of invalid UTF-8 and each lone surrogate made U+FFFD.
func (d *Scanner) Str() (string, bool) {
	save := d.Pos
	if s, ok := d.Raw(); ok {
		return string(s), true
	}
	d.Pos = save
	if !d.Byte('"') {
		return "", false
	}
	var b []byte
	for d.Pos < len(d.Data) {
		c := d.Data[d.Pos]
		switch {
		case c == '"':
			d.Pos++
			return string(b), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if d.Pos+1 >= len(d.Data) {
				return "", false
			}
			e := d.Data[d.Pos+1]
			d.Pos += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; anything else leaves U+FFFD
					// and is read on its own.
					r2 := rune(-1)
					if d.Pos+1 < len(d.Data) && d.Data[d.Pos] == '\\' && d.Data[d.Pos+1] == 'u' {
						save := d.Pos
						d.Pos += 2
						if r2, ok = d.hex4(); !ok {
							return "", false
						}
						d.Pos = save
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						d.Pos += 6
						r = dec
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.Pos++
		default:
			r, size := utf8.DecodeRune(d.Data[d.Pos:])
			d.Pos += size
			b = utf8.AppendRune(b, r) // U+FFFD for an invalid byte
		}
	}
	return "", false
}

// hex4 reads the 4 hex digits of a \u escape.
func (d *Scanner) hex4() (rune, bool) {
	if d.Pos+4 > len(d.Data) {
		return 0, false
	}
	var r rune
	for _, c := range d.Data[d.Pos : d.Pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.Pos += 4
	return r, true
}
