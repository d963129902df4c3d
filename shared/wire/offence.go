package wire

import (
	"fmt"
	"net/netip"
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
type offenceDecoder struct{ Scanner }

// decodeOffence strictly decodes data into o (which it resets). It reports
// whether the message had a version field.
func decodeOffence(data []byte, o *Offence) (hasVersion bool, err error) {
	*o = Offence{}
	d := offenceDecoder{Scanner{Data: data}}
	d.Space()
	if !d.Byte('{') {
		return false, d.fail("an object")
	}
	var seen uint
	d.Space()
	if d.Byte('}') {
		return false, d.end()
	}
	for {
		d.Space()
		at := d.Pos
		name, ok := d.Raw()
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
		d.Space()
		if !d.Byte(':') {
			return false, d.fail("':'")
		}
		d.Space()
		if err := d.value(key, o); err != nil {
			return false, err
		}
		d.Space()
		if d.Byte(',') {
			continue
		}
		if d.Byte('}') {
			return seen&1 != 0, d.end()
		}
		return false, d.fail("',' or '}'")
	}
}

// value reads the value of field key into o.
func (d *offenceDecoder) value(key string, o *Offence) error {
	at := d.Pos
	if key == "v" {
		n, ok := d.Int()
		if !ok {
			return fmt.Errorf("offence: field %q at byte %d: want an integer", key, at)
		}
		o.V = n
		return nil
	}
	if key == "time" {
		// As time.Time's UnmarshalJSON: the quoted text as it is, RFC 3339.
		raw, ok := d.Raw()
		if !ok {
			return fmt.Errorf("offence: field %q at byte %d: want a string without escapes", key, at)
		}
		if err := o.Time.UnmarshalText(raw); err != nil {
			return fmt.Errorf("offence: field %q at byte %d: %w", key, at, err)
		}
		return nil
	}
	s, ok := d.Str()
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
	d.Space()
	if d.Pos != len(d.Data) {
		return fmt.Errorf("offence: trailing data at byte %d", d.Pos)
	}
	return nil
}

func (d *offenceDecoder) fail(want string) error {
	if d.Pos >= len(d.Data) {
		return fmt.Errorf("offence: want %s at byte %d, message ends", want, d.Pos)
	}
	return fmt.Errorf("offence: want %s at byte %d, found %q", want, d.Pos, d.Data[d.Pos])
}
