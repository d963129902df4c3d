package enforce

import (
	"bytes"
	"errors"
	"slices"
	"time"

	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/wire"
)

// errSlowPath is banDecoder.fast's answer to a value it does not handle
// itself: bans.Decode (the contract's decoder) then judges it.
var errSlowPath = errors.New("not in the fast decoder's subset")

// banDecoder decodes bucket values into wire.Ban at the rate a bucket of a
// million bans arrives. Its fast path takes the plain JSON the fleet
// writes (no escapes, no nulls, each known field at most once, spelt as
// wire.Ban spells it) and checks it as wire.Decode does (version, every
// field's type, Ban.Validate, the key); anything else goes to bans.Decode,
// so that what is accepted and the errors are the contract's. It keeps no
// Reason.Hosts (the enforcer has no use for them; they are checked all the
// same), and reuses the last jail, author and ports it saw. Not safe for
// concurrent use.
type banDecoder struct {
	jail, by string
	ports    []uint16
}

// decode decodes a bucket value of key into b.
func (d *banDecoder) decode(key string, data []byte, b *wire.Ban) error {
	if d.fast(key, data, b) == nil {
		return nil
	}
	slow, err := bans.Decode(&kvEntry{key: key, value: data})
	if err != nil {
		return err
	}
	*b = *slow
	return nil
}

// fast is the fast path: errSlowPath for what it leaves to bans.Decode.
func (d *banDecoder) fast(key string, data []byte, b *wire.Ban) error {
	*b = wire.Ban{}
	p := scanner{wire.Scanner{Data: data}}
	if !p.byte('{') {
		return errSlowPath
	}
	var seen uint16
	var created, expires bool
	for {
		name, ok := p.str()
		if !ok || !p.byte(':') {
			return errSlowPath
		}
		f := fieldIndex(name)
		if f < 0 || seen&(1<<f) != 0 {
			return errSlowPath
		}
		seen |= 1 << f
		switch f {
		case fV:
			ok = p.int(&b.V)
		case fAddr:
			var s []byte
			if s, ok = p.str(); ok {
				ok = b.Addr.UnmarshalText(s) == nil
			}
		case fJail:
			b.Jail, ok = p.intern(&d.jail)
		case fPorts:
			ok = d.portList(&p, b)
		case fReason:
			ok = p.reason(&b.Reason)
		case fCreated:
			ok, created = p.time(&b.Created), true
		case fExpires:
			ok, expires = p.time(&b.Expires), true
		case fBy:
			b.By, ok = p.intern(&d.by)
		case fCount:
			ok = p.int(&b.Count)
		case fOnly:
			var s []byte
			if s, ok = p.str(); ok {
				b.Only = string(s)
			}
		case fForced:
			ok = p.bool(&b.Forced)
		}
		if !ok {
			return errSlowPath
		}
		if p.byte(',') {
			continue
		}
		if p.byte('}') {
			break
		}
		return errSlowPath
	}
	p.Space()
	if p.Pos != len(p.Data) || !created || !expires || b.V != wire.Version || b.Validate() != nil || !keyMatches(key, b) {
		return errSlowPath
	}
	return nil
}

// The fields of wire.Ban, as its JSON tags name them.
const (
	fV = iota
	fAddr
	fJail
	fPorts
	fReason
	fCreated
	fExpires
	fBy
	fCount
	fOnly
	fForced
)

var fieldNames = [...]string{"v", "addr", "jail", "ports", "reason", "created", "expires", "by", "count", "only", "forced"}

func fieldIndex(name []byte) int {
	for i, n := range fieldNames {
		if string(name) == n {
			return i
		}
	}
	return -1
}

// keyMatches reports whether key is bans.Key(b), without building it.
func keyMatches(key string, b *wire.Ban) bool {
	rest, ok := cutPrefix(key, b.Jail)
	if !ok || len(rest) == 0 || rest[0] != '.' {
		return false
	}
	rest = rest[1:]
	var buf [48]byte
	a := b.Addr.AppendTo(buf[:0])
	for i, c := range a {
		if c == ':' {
			a[i] = '_'
		}
	}
	rest, ok = cutPrefix(rest, string(a))
	if !ok {
		return false
	}
	if b.Only == "" {
		return rest == ""
	}
	return len(rest) == len(b.Only)+1 && rest[0] == '=' && rest[1:] == b.Only
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return s, false
	}
	return s[len(prefix):], true
}

func (d *banDecoder) portList(p *scanner, b *wire.Ban) bool {
	var buf [8]uint16
	ports := buf[:0]
	if !p.byte('[') {
		return false
	}
	for empty := p.byte(']'); !empty; {
		var v int
		if !p.int(&v) || v < 0 || v > 65535 {
			return false
		}
		ports = append(ports, uint16(v))
		if p.byte(']') {
			break
		}
		if !p.byte(',') {
			return false
		}
	}
	switch {
	case len(ports) == 0:
		b.Ports = []uint16{}
	case slices.Equal(ports, d.ports):
		b.Ports = d.ports
	default:
		d.ports = slices.Clone(ports)
		b.Ports = d.ports
	}
	return true
}

// scanner reads the JSON of one value (wire.Scanner), skipping white
// space before each token.
type scanner struct{ wire.Scanner }

// byte consumes c if it comes next.
func (p *scanner) byte(c byte) bool {
	p.Space()
	return p.Byte(c)
}

// str reads a string without escapes or control characters, and returns
// its bytes (a view of the input); escaped strings are the slow path's.
func (p *scanner) str() ([]byte, bool) {
	p.Space()
	return p.Raw()
}

// intern reads a string, reusing *last when it is the same.
func (p *scanner) intern(last *string) (string, bool) {
	s, ok := p.str()
	if !ok {
		return "", false
	}
	if string(s) != *last {
		*last = string(s)
	}
	return *last, true
}

// int reads an integer as JSON writes one: no fraction, no exponent, no
// leading zero.
func (p *scanner) int(v *int) bool {
	p.Space()
	n, ok := p.Int()
	*v = n
	return ok
}

func (p *scanner) bool(v *bool) bool {
	p.Space()
	switch {
	case bytes.HasPrefix(p.Data[p.Pos:], []byte("true")):
		*v, p.Pos = true, p.Pos+4
	case bytes.HasPrefix(p.Data[p.Pos:], []byte("false")):
		*v, p.Pos = false, p.Pos+5
	default:
		return false
	}
	return true
}

// time reads an RFC 3339 time as time.Time's JSON form.
func (p *scanner) time(t *time.Time) bool {
	s, ok := p.str()
	return ok && t.UnmarshalText(s) == nil
}

// reason reads a wire.Reason, checking its hosts without keeping them.
func (p *scanner) reason(r *wire.Reason) bool {
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return true
	}
	var seen [3]bool
	for {
		name, ok := p.str()
		if !ok || !p.byte(':') {
			return false
		}
		switch string(name) {
		case "count":
			if seen[0] || !p.int(&r.Count) {
				return false
			}
			seen[0] = true
		case "hosts":
			if seen[1] || !p.strings() {
				return false
			}
			seen[1] = true
		case "text":
			s, ok := p.str()
			if seen[2] || !ok {
				return false
			}
			r.Text, seen[2] = string(s), true
		default:
			return false
		}
		if p.byte('}') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}

// strings reads an array of strings.
func (p *scanner) strings() bool {
	if !p.byte('[') {
		return false
	}
	if p.byte(']') {
		return true
	}
	for {
		if _, ok := p.str(); !ok {
			return false
		}
		if p.byte(']') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}
