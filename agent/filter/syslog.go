package filter

import "time"

// SyslogLine is a syslog line split into its header fields. The byte slices
// point into the line given to [ParseSyslogPrefix]; copy them to keep them.
type SyslogLine struct {
	// Time is the line's timestamp. A timestamp with a UTC offset is taken
	// at that offset; one without (classic syslog) is read in the location
	// given to ParseSyslogPrefix. The result is expressed in that location.
	Time time.Time
	// Host is the host name field, empty when the line has none
	// ("Nov 23 21:50:19 sshd[8148]: …").
	Host []byte
	// Daemon is the program name from the tag, with brackets, a "(sub)"
	// qualifier, the "[pid]" and the trailing colon removed: "sshd" for
	// "sshd[123]:", "[sshd]:", "sshd(pam_unix)[123]:" and "sshd:".
	Daemon []byte
	// PID is the process id from the tag's "[pid]", or 0 when there is none.
	PID int
	// Msg is the rest of the line after the tag and the blanks that follow
	// it, with a Solaris "[ID 800047 auth.info] " marker removed.
	Msg []byte
}

// ParseSyslogPrefix splits a syslog line ("Nov 26 06:35:46 host sshd[123]: msg"
// or "2026-11-26T06:35:46.123456+00:00 host sshd[123]: msg") into its
// timestamp, host, tag and message. It is hand-written, allocates nothing and
// never retains line.
//
// Timestamps:
//   - classic (RFC 3164): "Mmm dd HH:MM:SS" with the month name in any case,
//     the day space-padded ("Jan  5"), unpadded ("Jan 5") or zero-padded
//     ("Jan 05"), an optional ".fraction". It has no year: like Fail2Ban, the
//     year is now's year in loc, or the year before if that would put the
//     line more than one day after now. It has no zone: it is read in loc.
//   - ISO 8601 / RFC 3339 as rsyslog writes by default on Debian 12 and
//     Ubuntu 24.04: "YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM|±HHMM]" (a space
//     instead of the "T" is accepted too). Without an offset it is read in loc.
//
// After the timestamp comes an optional host, then the tag. A first field
// that ends with ':' or starts with '[' or '(' is the tag of a line without a
// host. The tag's colon is optional, as in Fail2Ban's common.conf.
//
// ok is false when the line does not start with a valid timestamp (including
// impossible dates such as Feb 30 or 24:00:00) or has no tag after it. A nil
// loc means time.Local.
func ParseSyslogPrefix(line []byte, now time.Time, loc *time.Location) (SyslogLine, bool) {
	if loc == nil {
		loc = time.Local
	}
	t, n, ok := parseTimestamp(line, now, loc)
	if !ok || n >= len(line) || !isBlank(line[n]) {
		return SyslogLine{}, false
	}
	return ParseSyslogHeader(line[n:], t)
}

// ParseSyslogHeader splits what follows a syslog timestamp ("host
// sshd[123]: msg", or "sshd[123]: msg" without a host) into host, tag and
// message, with t as the line's time. This is the form of a journal entry as
// Fail2Ban formats it, whose time comes from the journal. ok is false when
// there is no tag. It allocates nothing and never retains line.
func ParseSyslogHeader(line []byte, t time.Time) (SyslogLine, bool) {
	out := SyslogLine{Time: t}
	tok, after := nextField(skipBlanks(line))
	if len(tok) == 0 {
		return SyslogLine{}, false
	}
	if !looksLikeTag(tok) {
		out.Host = tok
		tok, after = nextField(skipBlanks(after))
		if len(tok) == 0 {
			return SyslogLine{}, false
		}
	}
	out.Daemon, out.PID = parseTag(tok)
	out.Msg = skipSolarisID(skipBlanks(after))
	return out, true
}

// looksLikeTag reports whether the first field after the timestamp is a tag
// rather than a host name: "sshd[1]:", "sshd:", "[sshd]", "(sshd)".
func looksLikeTag(tok []byte) bool {
	return tok[len(tok)-1] == ':' || tok[0] == '[' || tok[0] == '('
}

// parseTag extracts the program name and pid from a syslog tag such as
// "sshd[123]:", "[sshd]:", "sshd(pam_unix)[4920]:" or "sshd-session:".
// Anything that does not fit that shape yields the whole tag (without a
// trailing colon) as the name, which then matches no daemon.
func parseTag(tag []byte) (name []byte, pid int) {
	if tag[len(tag)-1] == ':' {
		tag = tag[:len(tag)-1]
	}
	whole := tag
	if len(tag) == 0 {
		return whole, 0
	}
	// Bracketed name: "[sshd]" or "(sshd)", optionally followed by "[pid]".
	if tag[0] == '[' || tag[0] == '(' {
		closer := byte(']')
		if tag[0] == '(' {
			closer = ')'
		}
		i := 1
		for i < len(tag) && tag[i] != closer {
			i++
		}
		if i == len(tag) || i == 1 {
			return whole, 0
		}
		name = tag[1:i]
		rest := tag[i+1:]
		if len(rest) == 0 {
			return name, 0
		}
		if p, ok := parsePID(rest); ok {
			return name, p
		}
		return whole, 0
	}
	i := 0
	for i < len(tag) && tag[i] != '[' && tag[i] != '(' {
		i++
	}
	name = tag[:i]
	rest := tag[i:]
	// Optional "(qualifier)", as in "sshd(pam_unix)[123]".
	if len(rest) > 0 && rest[0] == '(' {
		j := 1
		for j < len(rest) && rest[j] != ')' {
			j++
		}
		if j == len(rest) {
			return whole, 0
		}
		rest = rest[j+1:]
	}
	if len(rest) == 0 {
		return name, 0
	}
	if p, ok := parsePID(rest); ok {
		return name, p
	}
	return whole, 0
}

// parsePID parses exactly "[digits]".
func parsePID(b []byte) (int, bool) {
	if len(b) < 3 || b[0] != '[' || b[len(b)-1] != ']' {
		return 0, false
	}
	digits := b[1 : len(b)-1]
	if len(digits) > 9 {
		return 0, false
	}
	v, ok := atoi(digits)
	return v, ok
}

// skipSolarisID removes a leading "[ID <digits> <facility.level>] " that
// Solaris syslogd writes after the tag (Fail2Ban's __daemon_extra_re).
func skipSolarisID(msg []byte) []byte {
	if len(msg) < 7 || msg[0] != '[' || msg[1] != 'I' || msg[2] != 'D' || msg[3] != ' ' {
		return msg
	}
	i := 4
	j := i
	for j < len(msg) && isDigit(msg[j]) {
		j++
	}
	if j == i || j >= len(msg) || msg[j] != ' ' {
		return msg
	}
	j++
	k := j
	for k < len(msg) && !isBlank(msg[k]) && msg[k] != ']' {
		k++
	}
	if k == j || k >= len(msg) || msg[k] != ']' {
		return msg
	}
	k++
	if k >= len(msg) || !isBlank(msg[k]) {
		return msg
	}
	return skipBlanks(msg[k:])
}

// nextField returns the bytes up to the next blank and what follows them.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && !isBlank(b[i]) {
		i++
	}
	return b[:i], b[i:]
}

func skipBlanks(b []byte) []byte {
	i := 0
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	return b[i:]
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// atoi parses a short run of ASCII digits; it reports false for an empty or
// non-digit input. Callers bound the length, so it cannot overflow.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseTimestamp parses a classic or ISO timestamp at the start of b and
// returns the time and the number of bytes it used.
func parseTimestamp(b []byte, now time.Time, loc *time.Location) (time.Time, int, bool) {
	if len(b) >= 5 && isDigit(b[0]) && isDigit(b[1]) && isDigit(b[2]) && isDigit(b[3]) && b[4] == '-' {
		return parseISO(b, loc)
	}
	return parseClassic(b, now, loc)
}

var monthNames = [12]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func parseMonth(b []byte) (time.Month, bool) {
	if len(b) < 3 {
		return 0, false
	}
	a, c, d := lower(b[0]), lower(b[1]), lower(b[2])
	for i, m := range monthNames {
		if m[0] == a && m[1] == c && m[2] == d {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// parseClassic parses "Mmm dd HH:MM:SS[.frac]".
func parseClassic(b []byte, now time.Time, loc *time.Location) (time.Time, int, bool) {
	mon, ok := parseMonth(b)
	if !ok || len(b) < 4 || b[3] != ' ' {
		return time.Time{}, 0, false
	}
	i := 4
	if i < len(b) && b[i] == ' ' {
		i++ // space-padded day: "Jan  5"
	}
	j := i
	for j < len(b) && j-i < 2 && isDigit(b[j]) {
		j++
	}
	day, ok := atoi(b[i:j])
	if !ok || j >= len(b) || b[j] != ' ' {
		return time.Time{}, 0, false
	}
	hour, minute, sec, nsec, n, ok := parseClock(b, j+1, true)
	if !ok {
		return time.Time{}, 0, false
	}

	// Year inference, as Fail2Ban's strptime: this year, or last year when
	// that would put the line more than a day into the future.
	year := now.In(loc).Year()
	limit := now.Add(24 * time.Hour)
	if validDate(year, mon, day) {
		t := time.Date(year, mon, day, hour, minute, sec, nsec, loc)
		if !t.After(limit) {
			return t, n, true
		}
	}
	year--
	if !validDate(year, mon, day) {
		return time.Time{}, 0, false
	}
	return time.Date(year, mon, day, hour, minute, sec, nsec, loc), n, true
}

// parseClock parses "HH:MM:SS[.frac]" at b[i:]. With looseHour a one-digit
// hour is accepted, as Fail2Ban's %H/%k do.
func parseClock(b []byte, i int, looseHour bool) (hour, minute, sec, nsec, n int, ok bool) {
	j := i
	for j < len(b) && j-i < 2 && isDigit(b[j]) {
		j++
	}
	if j-i != 2 && !(looseHour && j-i == 1) {
		return
	}
	hour, _ = atoi(b[i:j])
	if j+6 > len(b) || b[j] != ':' || b[j+3] != ':' {
		return
	}
	var ok1, ok2 bool
	minute, ok1 = atoi(b[j+1 : j+3])
	sec, ok2 = atoi(b[j+4 : j+6])
	if !ok1 || !ok2 || hour > 23 || minute > 59 || sec > 60 {
		return
	}
	j += 6
	nsec, j = parseFraction(b, j)
	return hour, minute, sec, nsec, j, true
}

// parseFraction parses an optional ".ddd" or ",ddd" at b[i:]; digits beyond
// nanoseconds are consumed and dropped.
func parseFraction(b []byte, i int) (nsec, n int) {
	if i+1 >= len(b) || (b[i] != '.' && b[i] != ',') || !isDigit(b[i+1]) {
		return 0, i
	}
	i++
	scale := 100000000
	for i < len(b) && isDigit(b[i]) {
		nsec += int(b[i]-'0') * scale
		scale /= 10
		i++
	}
	return nsec, i
}

// parseISO parses "YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM|±HHMM]".
func parseISO(b []byte, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 19 || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') {
		return time.Time{}, 0, false
	}
	year, ok1 := atoi(b[0:4])
	month, ok2 := atoi(b[5:7])
	day, ok3 := atoi(b[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || !validDate(year, time.Month(month), day) {
		return time.Time{}, 0, false
	}
	hour, minute, sec, nsec, n, ok := parseClock(b, 11, false)
	if !ok {
		return time.Time{}, 0, false
	}
	if n < len(b) {
		switch c := b[n]; {
		case c == 'Z':
			t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
			return t.In(loc), n + 1, true
		case c == '+' || c == '-':
			off, m, ok := parseOffset(b, n)
			if !ok {
				return time.Time{}, 0, false
			}
			// Build the instant in UTC and shift it: time.FixedZone would allocate.
			t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
			t = t.Add(-time.Duration(off) * time.Second)
			return t.In(loc), m, true
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), n, true
}

// parseOffset parses "±HH:MM" or "±HHMM" at b[i:] into seconds east of UTC.
func parseOffset(b []byte, i int) (off, n int, ok bool) {
	sign := 1
	if b[i] == '-' {
		sign = -1
	}
	i++
	if i+2 > len(b) {
		return 0, 0, false
	}
	hh, ok := atoi(b[i : i+2])
	if !ok {
		return 0, 0, false
	}
	i += 2
	if i < len(b) && b[i] == ':' {
		i++
	}
	if i+2 > len(b) {
		return 0, 0, false
	}
	mm, ok := atoi(b[i : i+2])
	if !ok || hh > 23 || mm > 59 {
		return 0, 0, false
	}
	return sign * (hh*3600 + mm*60), i + 2, true
}

func validDate(year int, month time.Month, day int) bool {
	if month < time.January || month > time.December || day < 1 {
		return false
	}
	return day <= daysIn(year, month)
}

func daysIn(year int, month time.Month) int {
	switch month {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}
