package wire

import (
	"fmt"
	"net/netip"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The coordinator decodes every offence of the fleet, so an Offence has a
// decoder of its own: the JSON Encode writes (one object, the fields of
// Offence), read in one pass without reflection. It is stricter than
// encoding/json, never looser: field names must be exact and appear once,
// and no value may be null. What it accepts, encoding/json decodes to the
// same Offence (FuzzDecodeOffence checks).

// offenceFields are the fields of an Offence, by bit.
var offenceFields = [...]string{"v", "id", "host", "jail", "addr", "time", "line", "user"}

// offenceDecoder reads one Offence from data.
type offenceDecoder struct {
	data []byte
	pos  int
}

// decodeOffence strictly decodes data into o (which it resets). It reports
// whether the message had a version field.
func decodeOffence(data []byte, o *Offence) (hasVersion bool, err error) {
	*o = Offence{}
	d := offenceDecoder{data: data}
	d.space()
	if !d.byte('{') {
		return false, d.fail("an object")
	}
	var seen uint
	d.space()
	if d.byte('}') {
		return false, d.end()
	}
	for {
		d.space()
		at := d.pos
		name, ok := d.rawString()
		if !ok {
			return false, d.fail("a field name")
		}
		field := -1
		for i, f := range offenceFields {
			if string(name) == f {
				field = i
				break
			}
		}
		if field < 0 {
			return false, fmt.Errorf("offence: unknown field %q at byte %d", name, at)
		}
		key := offenceFields[field]
		if seen&(1<<field) != 0 {
			return false, fmt.Errorf("offence: field %q twice (byte %d)", key, at)
		}
		seen |= 1 << field
		d.space()
		if !d.byte(':') {
			return false, d.fail("':'")
		}
		d.space()
		if err := d.value(key, o); err != nil {
			return false, err
		}
		d.space()
		if d.byte(',') {
			continue
		}
		if d.byte('}') {
			return seen&1 != 0, d.end()
		}
		return false, d.fail("',' or '}'")
	}
}

// value reads the value of field key into o.
func (d *offenceDecoder) value(key string, o *Offence) error {
	at := d.pos
	if key == "v" {
		n, ok := d.int()
		if !ok {
			return fmt.Errorf("offence: field %q at byte %d: want an integer", key, at)
		}
		o.V = n
		return nil
	}
	if key == "time" {
		// As time.Time's UnmarshalJSON: the quoted text as it is, RFC 3339.
		raw, ok := d.rawString()
		if !ok {
			return fmt.Errorf("offence: field %q at byte %d: want a string without escapes", key, at)
		}
		if err := o.Time.UnmarshalText(raw); err != nil {
			return fmt.Errorf("offence: field %q at byte %d: %w", key, at, err)
		}
		return nil
	}
	s, ok := d.string()
	if !ok {
		return fmt.Errorf("offence: field %q at byte %d: want a string", key, at)
	}
	switch key {
	case "id":
		o.ID = s
	case "host":
		o.Host = s
	case "jail":
		o.Jail = s
	case "line":
		o.Line = s
	case "user":
		o.User = s
	case "addr":
		if s == "" {
			o.Addr = netip.Addr{} // as netip.Addr's UnmarshalText
			return nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("offence: field %q at byte %d: %w", key, at, err)
		}
		o.Addr = a
	}
	return nil
}

// end checks that nothing but white space follows the object.
func (d *offenceDecoder) end() error {
	d.space()
	if d.pos != len(d.data) {
		return fmt.Errorf("offence: trailing data at byte %d", d.pos)
	}
	return nil
}

func (d *offenceDecoder) fail(want string) error {
	if d.pos >= len(d.data) {
		return fmt.Errorf("offence: want %s at byte %d, message ends", want, d.pos)
	}
	return fmt.Errorf("offence: want %s at byte %d, found %q", want, d.pos, d.data[d.pos])
}

func (d *offenceDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *offenceDecoder) byte(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// int reads a JSON number that is an integer in int's range (no fraction,
// no exponent, as encoding/json takes into an int).
func (d *offenceDecoder) int() (int, bool) {
	i := d.pos
	if i < len(d.data) && d.data[i] == '-' {
		i++
	}
	digits := i
	for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
		i++
	}
	switch {
	case i == digits, d.data[digits] == '0' && i > digits+1:
		return 0, false // no digits, or a leading zero
	case i < len(d.data) && (d.data[i] == '.' || d.data[i] == 'e' || d.data[i] == 'E'):
		return 0, false
	}
	n, err := strconv.ParseInt(string(d.data[d.pos:i]), 10, strconv.IntSize)
	if err != nil {
		return 0, false
	}
	d.pos = i
	return int(n), true
}

// rawString reads a string that needs no unescaping (valid UTF-8, no
// escape, no control character) and returns its bytes in data.
func (d *offenceDecoder) rawString() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start, ascii := d.pos, true
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			s := d.data[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.pos = i + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// string reads a JSON string as encoding/json does: escapes resolved, each
// byte of invalid UTF-8 and each lone surrogate made U+FFFD.
func (d *offenceDecoder) string() (string, bool) {
	save := d.pos
	if s, ok := d.rawString(); ok {
		return string(s), true
	}
	d.pos = save
	if !d.byte('"') {
		return "", false
	}
	var b []byte
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(b), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", false
			}
			e := d.data[d.pos+1]
			d.pos += 2
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
					if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
						save := d.pos
						d.pos += 2
						if r2, ok = d.hex4(); !ok {
							return "", false
						}
						d.pos = save
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						d.pos += 6
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
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			d.pos += size
			b = utf8.AppendRune(b, r) // U+FFFD for an invalid byte
		}
	}
	return "", false
}

// hex4 reads the 4 hex digits of a \u escape.
func (d *offenceDecoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
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
	d.pos += 4
	return r, true
}
