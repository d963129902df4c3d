package journal

import (
	"math/big"
	"strconv"
	"time"
)

// fieldID names the single-valued journal fields the source keeps. MESSAGE is
// kept apart because it may repeat.
type fieldID uint8

const (
	fCursor fieldID = iota
	fRealtime
	fMonotonic
	fSrcRealtime
	fSrcMonotonic
	fHostname
	fIdent
	fComm
	fSyslogPID
	fPID
	numFields
)

const messageField = "MESSAGE"

// lookupField maps a field name to its fieldID; msg reports MESSAGE.
func lookupField(name []byte) (id fieldID, msg, ok bool) {
	switch string(name) {
	case messageField:
		return 0, true, true
	case "__CURSOR":
		return fCursor, false, true
	case "__REALTIME_TIMESTAMP":
		return fRealtime, false, true
	case "__MONOTONIC_TIMESTAMP":
		return fMonotonic, false, true
	case "_SOURCE_REALTIME_TIMESTAMP":
		return fSrcRealtime, false, true
	case "_SOURCE_MONOTONIC_TIMESTAMP":
		return fSrcMonotonic, false, true
	case "_HOSTNAME":
		return fHostname, false, true
	case "SYSLOG_IDENTIFIER":
		return fIdent, false, true
	case "_COMM":
		return fComm, false, true
	case "SYSLOG_PID":
		return fSyslogPID, false, true
	case "_PID":
		return fPID, false, true
	}
	return 0, false, false
}

// record is one journal entry reduced to the fields formatJournalEntry and
// the entry time need. Its buffers are reused from entry to entry.
type record struct {
	vals [numFields][]byte
	seen uint32 // bit i set: vals[i] holds this entry's value
	msgs [][]byte
	nmsg int
}

func (r *record) reset() { r.seen, r.nmsg = 0, 0 }

func (r *record) has(id fieldID) bool { return r.seen&(1<<id) != 0 }

// get returns the field's value, nil when absent.
func (r *record) get(id fieldID) []byte {
	if !r.has(id) {
		return nil
	}
	return r.vals[id]
}

// slot returns the buffer to fill for a field, or nil when the field was
// already seen in this entry (the first value wins). The caller stores the
// filled buffer back with r.vals[id] = buf.
func (r *record) slot(id fieldID) ([]byte, bool) {
	if r.has(id) {
		return nil, false
	}
	r.seen |= 1 << id
	return r.vals[id][:0], true
}

// msgSlot returns the buffer for one more MESSAGE value; store it back with
// r.msgs[r.nmsg-1] = buf.
func (r *record) msgSlot() []byte {
	if r.nmsg == len(r.msgs) {
		r.msgs = append(r.msgs, nil)
	}
	r.nmsg++
	return r.msgs[r.nmsg-1][:0]
}

// FormatEntry renders a journal entry the way Fail2Ban 1.0.2's
// FilterSystemd.formatJournalEntry does, as the line its failregexes see:
//
//	[HOST ][IDENT[\[PID\]]: [\[MONOTONIC\] ]]MESSAGE
//
// with every newline written as the two characters `\n`. fields holds raw
// journal field values; see the package documentation for the exact rules.
// A MESSAGE that occurs several times in one entry (which a map cannot hold)
// is joined with spaces by the stream reader, as Fail2Ban does.
func FormatEntry(fields map[string][]byte) []byte {
	var r record
	for name, v := range fields {
		id, msg, ok := lookupField([]byte(name))
		switch {
		case !ok:
		case msg:
			r.msgs = append(r.msgs, v)
			r.nmsg = 1
		default:
			r.vals[id] = v
			r.seen |= 1 << id
		}
	}
	return formatRecord(nil, &r)
}

// formatRecord appends the Fail2Ban line for r to dst.
func formatRecord(dst []byte, r *record) []byte {
	elems := 0
	if host := r.get(fHostname); len(host) > 0 {
		dst = appendPyText(dst, host)
		elems++
	}
	ident := r.get(fIdent)
	if len(ident) == 0 {
		ident = r.get(fComm)
	}
	if len(ident) > 0 {
		if elems > 0 {
			dst = append(dst, ' ')
		}
		start := len(dst)
		dst = appendPyText(dst, ident)
		dst = appendPID(dst, r)
		dst = append(dst, ':')
		if string(dst[start:]) == "kernel:" {
			dst = appendKernelTime(dst, r)
		}
		elems++
	}
	if elems > 0 {
		dst = append(dst, ' ')
	}
	for i := 0; i < r.nmsg; i++ {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = appendPyText(dst, r.msgs[i])
	}
	return dst
}

// appendPID appends "[PID]" following formatJournalEntry: SYSLOG_PID, or
// _PID when SYSLOG_PID is missing or falsy once python-systemd converted it
// with int(); a value int() rejects is retried as int(v, 0) and otherwise
// printed as the repr of the bytes, "[b'...']".
func appendPID(dst []byte, r *record) []byte {
	v := r.get(fSyslogPID)
	dec, isInt := pidInt(v)
	if !pyTruthy(v, dec, isInt) {
		v = r.get(fPID)
		dec, isInt = pidInt(v)
		if !pyTruthy(v, dec, isInt) {
			return dst
		}
	}
	dst = append(dst, '[')
	switch {
	case isInt:
		dst = append(dst, dec...)
	default:
		if d, ok := pyInt(v, 0); ok && pyStrDigitsOK(d) {
			dst = append(dst, d...)
		} else {
			dst = appendPyBytesRepr(dst, v)
		}
	}
	return append(dst, ']')
}

// pidInt is python-systemd's int() conversion of a PID field, without
// allocating for the plain digits journald writes.
func pidInt(v []byte) (dec []byte, ok bool) {
	if len(v) > 0 && len(v) <= 18 {
		plain := true
		for _, c := range v {
			if c < '0' || c > '9' {
				plain = false
				break
			}
		}
		if plain {
			for len(v) > 1 && v[0] == '0' {
				v = v[1:]
			}
			return v, true
		}
	}
	s, ok := pyInt(v, 10)
	return []byte(s), ok
}

// pyTruthy is Python's truth value of a converted field: an int is true
// unless 0, unconverted bytes unless empty, a missing field is false.
func pyTruthy(v, dec []byte, isInt bool) bool {
	if isInt {
		return string(dec) != "0"
	}
	return len(v) > 0
}

// appendKernelTime appends " [%12.6f]" of the entry's monotonic time in
// seconds, as Fail2Ban does for lines from "kernel:". Fail2Ban raises (and
// loses the entry) when neither monotonic field converts; the element is left
// out instead.
func appendKernelTime(dst []byte, r *record) []byte {
	us, ok := pyInt64(r.get(fSrcMonotonic))
	if !ok {
		us, ok = pyInt64(r.get(fMonotonic))
	}
	if !ok {
		return dst
	}
	var secs float64
	if us > -1<<53 && us < 1<<53 {
		secs = float64(us) / 1e6 // exact operand: correctly rounded, as Python's int/int
	} else {
		secs, _ = new(big.Rat).SetFrac64(us, 1e6).Float64()
	}
	var num [40]byte
	f := strconv.AppendFloat(num[:0], secs, 'f', 6, 64)
	dst = append(dst, ' ', '[')
	for i := len(f); i < 12; i++ {
		dst = append(dst, ' ')
	}
	dst = append(dst, f...)
	return append(dst, ']')
}

// entryTime is the time Fail2Ban gives an entry: _SOURCE_REALTIME_TIMESTAMP
// when present, else __REALTIME_TIMESTAMP. A source timestamp Python cannot
// convert (Fail2Ban then loses the entry) falls back to the realtime one.
func entryTime(r *record) time.Time {
	us, ok := pyInt64(r.get(fSrcRealtime))
	if !ok {
		us, ok = pyInt64(r.get(fRealtime))
	}
	if !ok {
		return time.Time{}
	}
	return time.UnixMicro(us)
}

// appendPyText appends b decoded the way Python's bytes.decode("utf-8",
// "replace") does (each maximal invalid subpart becomes one U+FFFD) with
// every '\n' written as `\n`.
func appendPyText(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			j := i + 1
			for j < len(b) && b[j] < 0x80 && b[j] != '\n' {
				j++
			}
			if c == '\n' {
				dst = append(dst, '\\', 'n')
				i++
				continue
			}
			dst = append(dst, b[i:j]...)
			i = j
			continue
		}
		n, lo, hi := utf8Lead(c)
		if n == 0 {
			dst = append(dst, "\uFFFD"...)
			i++
			continue
		}
		j := 1
		for ; j < n && i+j < len(b); j++ {
			cb := b[i+j]
			l, h := byte(0x80), byte(0xBF)
			if j == 1 {
				l, h = lo, hi
			}
			if cb < l || cb > h {
				break
			}
		}
		if j == n {
			dst = append(dst, b[i:i+n]...)
		} else {
			dst = append(dst, "\uFFFD"...)
		}
		i += j
	}
	return dst
}

// utf8Lead returns the length of the sequence a lead byte starts and the
// range allowed for its second byte (Unicode table 3-7); n is 0 for a byte
// that cannot start a sequence.
func utf8Lead(c byte) (n int, lo, hi byte) {
	switch {
	case c >= 0xC2 && c <= 0xDF:
		return 2, 0x80, 0xBF
	case c == 0xE0:
		return 3, 0xA0, 0xBF
	case c == 0xED:
		return 3, 0x80, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		return 3, 0x80, 0xBF
	case c == 0xF0:
		return 4, 0x90, 0xBF
	case c >= 0xF1 && c <= 0xF3:
		return 4, 0x80, 0xBF
	case c == 0xF4:
		return 4, 0x80, 0x8F
	}
	return 0, 0, 0
}

// pyMaxStrDigits is CPython's default sys.get_int_max_str_digits(): int()
// of a longer decimal string, and str() of a longer int, raise ValueError.
const pyMaxStrDigits = 4300

// pyStrDigitsOK reports whether Python can print the decimal d.
func pyStrDigitsOK(d string) bool {
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	return len(d) <= pyMaxStrDigits
}

func pySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// pyInt parses b as Python's int(b, base) does for base 10 or 0 and returns
// the value in decimal ("-" sign, no leading zeros, "0" for zero). ok is
// false where Python raises ValueError.
func pyInt(b []byte, base int) (dec string, ok bool) {
	for len(b) > 0 && pySpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && pySpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	radix, legacyZero := 10, false
	if base == 0 {
		if len(b) >= 2 && b[0] == '0' {
			switch b[1] {
			case 'x', 'X':
				radix = 16
			case 'o', 'O':
				radix = 8
			case 'b', 'B':
				radix = 2
			}
		}
		if radix != 10 {
			b = b[2:]
			if len(b) > 0 && b[0] == '_' {
				b = b[1:]
			}
		} else if len(b) > 0 && b[0] == '0' {
			legacyZero = true // "0..." without prefix must be zero
		}
	}
	if len(b) == 0 || b[0] == '_' || b[len(b)-1] == '_' {
		return "", false
	}
	digits := make([]byte, 0, len(b))
	for i, c := range b {
		if c == '_' {
			if b[i-1] == '_' {
				return "", false
			}
			continue
		}
		if digitValue(c) >= radix {
			return "", false
		}
		digits = append(digits, c)
	}
	if radix == 10 && len(digits) > pyMaxStrDigits {
		return "", false
	}
	if radix != 10 {
		var n big.Int
		if _, ok := n.SetString(string(digits), radix); !ok {
			return "", false
		}
		if neg {
			n.Neg(&n)
		}
		return n.String(), true
	}
	i := 0
	for i < len(digits)-1 && digits[i] == '0' {
		i++
	}
	digits = digits[i:]
	if string(digits) == "0" {
		return "0", true
	}
	if legacyZero {
		return "", false
	}
	if neg {
		return "-" + string(digits), true
	}
	return string(digits), true
}

// pyInt64 is pyInt base 10 limited to int64.
func pyInt64(b []byte) (int64, bool) {
	if b == nil {
		return 0, false
	}
	// Fast path for the plain digits journalctl writes.
	if len(b) > 0 && len(b) <= 18 {
		var n int64
		plain := true
		for _, c := range b {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if plain {
			return n, true
		}
	}
	dec, ok := pyInt(b, 10)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(dec, 10, 64)
	return n, err == nil
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// appendPyBytesRepr appends Python 3's repr() of b, as "%s" % b prints it.
func appendPyBytesRepr(dst, b []byte) []byte {
	const hexdigits = "0123456789abcdef"
	quote := byte('\'')
	squote, dquote := false, false
	for _, c := range b {
		squote = squote || c == '\''
		dquote = dquote || c == '"'
	}
	if squote && !dquote {
		quote = '"'
	}
	dst = append(dst, 'b', quote)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < ' ' || c >= 0x7f:
			dst = append(dst, '\\', 'x', hexdigits[c>>4], hexdigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, quote)
}
