package f2b

import (
	"bytes"
	"net/netip"
)

// The address guard (Options.AddressGuard) refuses failures whose address
// a client could have planted.
//
// Fail2Ban's regexes are ambiguous where a client chooses text: sshd logs
// "Failed password for invalid user U from A port N ssh2", and a user name
// U = "' from 192.0.2.66 port 22 ssh2: '" makes Fail2Ban's regex take
// 192.0.2.66, not the client. The guard asks, for every other address T in
// the searched buffer, whether the same regex would have taken T had the
// text between the two addresses been part of a client-chosen field:
//
//   - the splice: T after the matched address H: the buffer without the
//     text from H up to T (H's place is taken by T); T before H: the buffer
//     without the text after T up to the end of H (T is followed by what
//     followed H). If the regex (same prefregex content, same rule) matches
//     the splice with its host group inside T, the line reads two ways:
//     "the client wrote H and the text around it" or "the client wrote the
//     text around T";
//   - the field: the removed text must be able to sit inside a field the
//     regex captures into a named group other than the address groups
//     (F-USER, F-ID, any <F-X>: the places where a filter says "variable
//     text here"). The removed text, put back into the splice, may slide
//     over equal neighbouring characters; one of those positions must fall
//     inside such a group of the splice's match. This is what keeps
//     "rip=A, lip=B" (dovecot) and "from A port N on B" lines working: no
//     field of the rule could hold the text between the addresses. Where no
//     named group is there, the rule is probed: if it still reads T with a
//     letter inserted at one of those positions, the rule takes variable
//     text there.
//
// Addresses are compared by value, not by spelling: "::ffff:192.0.2.1"
// (IPv4-mapped IPv6, which Fail2Ban's <HOST> reads as 192.0.2.1),
// "[192.0.2.1]", "192.000.002.001" (<IP4> takes parts of one to three
// digits) and "2001:DB8:0::1" name the same addresses as "192.0.2.1" and
// "2001:db8::1", and the splices move the whole spelling: brackets and the
// "::ffff:" of an IPv4 address go with it. Any byte that cannot be part of
// an address separates addresses (a space, a TAB, a no-break or other
// Unicode space, a control character).
//
// The rule that matched is not the only reading: when the buffer names
// another address, every other failregex of the filter that can match it
// is run too, and if one takes a different address (on the same line), or
// takes the same one but could have taken another by the splice above, the
// line is just as ambiguous. The failure names nobody whichever rule a
// client steered the line into.
//
// An ambiguous failure is Ignored with no address and no host (its fid, if
// any, stays the ID). The guard never picks the other reading: Fail2Ban's
// rules end in catch-all tails ("(?:(?! from ).)*$", " on \S+", ".*"), so
// nothing in a rule's shape proves that the client could not have written
// the text after the rightmost address; see the package doc.
//
// The guard runs only on failregex matches that carry an address; lines
// that match nothing pay nothing, and a failure whose buffer names no other
// address pays one scan of the buffer. It re-runs a rule at most
// guardMaxSplices times per failure; a line naming more other addresses is
// ambiguous.

// guardMaxSplices bounds the re-runs of one failure's rule.
const guardMaxSplices = 8

// guardMaxProbes bounds the places one splice probes with guardProbe.
const guardMaxProbes = 8

// guardProbe stands for client text: a letter, which "\S", "\w", "." and
// most negated classes accept.
const guardProbe = 'x'

// guardInfo is what the guard needs to know about one regex.
type guardInfo struct {
	host   [3]int // group numbers of ip4, ip6, dns (0: absent)
	fields []int  // named groups that hold variable text
}

func newGuardInfo(r *regex) guardInfo {
	var gi guardInfo
	for i, n := range [...]string{"ip4", "ip6", "dns"} {
		gi.host[i] = r.groupNumber(n)
	}
	for g := 1; g <= r.ngroups; g++ {
		switch r.names[g] {
		case "", "ip4", "ip6", "dns", "cidr", "content", "nofail", "mlfforget", "mlfgained":
		default:
			gi.fields = append(gi.fields, g)
		}
	}
	return gi
}

// hostSpan returns the span of the address group that took part in a match
// and the address the engine credits from it (invalid when it is no IP
// address).
func (gi *guardInfo) hostSpan(b []byte, spans []int) (s, e int, a netip.Addr, ok bool) {
	for i, g := range gi.host {
		if g == 0 || spans[2*g] < 0 {
			continue
		}
		s, e = spans[2*g], spans[2*g+1]
		t := viewString(b[s:e])
		switch i {
		case 0:
			a = parseIP(t, true)
		case 1:
			a = parseIP(t, false)
		default:
			a = plainIP(t)
		}
		return s, e, a, true
	}
	return 0, 0, netip.Addr{}, false
}

// hostRead is hostSpan for the guard's comparisons: the address the group's
// text names by value (looseAddr), valid also for spellings the engine
// does not credit, such as zero-padded IPv4 parts.
func (gi *guardInfo) hostRead(b []byte, spans []int) (s, e int, a netip.Addr, ok bool) {
	for _, g := range gi.host {
		if g == 0 || spans[2*g] < 0 {
			continue
		}
		s, e = spans[2*g], spans[2*g+1]
		return s, e, looseAddr(b[s:e]), true
	}
	return 0, 0, netip.Addr{}, false
}

// guardAmbiguous reports whether the address of this match (the
// failregex's host group, else the prefregex's) is one of several the
// filter could have read from the line.
func (m *Matcher) guardAmbiguous(r *regex, fail *failInfo, buf, fbuf []byte, pspans, spans []int) bool {
	c := m.c
	gi := &c.failGuard[r.index]
	if hs, he, h, ok := gi.hostSpan(fbuf, spans); ok {
		if !h.IsValid() {
			return false // no address: nothing to credit
		}
		var rules []int16
		if len(fbuf) > 0 {
			rules = c.dispatch[fbuf[0]]
		}
		amb, others := m.ambiguous(r, gi, fbuf, hs, he, h, rules)
		return amb || others && m.otherRuleReads(r.index, fbuf, hs, h)
	}
	if c.pref != nil && (fail.has("ip4") || fail.has("ip6") || fail.has("dns")) {
		if hs, he, h, ok := c.prefGuard.hostSpan(buf, pspans); ok && h.IsValid() {
			amb, others := m.ambiguous(c.pref, &c.prefGuard, buf, hs, he, h, nil)
			return amb || others && m.otherRuleReads(r.index, fbuf, -1, h)
		}
	}
	return false
}

// ambiguous reports whether regex r, which took the address h from
// b[hs:he], could as well have taken another address of b; see the comment
// at the top of this file. The failregexes listed in rules (other than r)
// are tried on the same splices: a client may have written the text that
// made r match. others says whether b names any address but h.
func (m *Matcher) ambiguous(r *regex, gi *guardInfo, b []byte, hs, he int, h netip.Addr, rules []int16) (amb, others bool) {
	hs, he = spelling(b, hs, he)
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	c := m.c
	tries := 0
	for i := 0; i < end; {
		ts, te, t, next := nextAddr(b, i, end)
		if ts < 0 {
			break
		}
		i = next
		if ts < he && te > hs {
			continue // the matched address itself
		}
		if t == h {
			continue
		}
		others = true
		if tries == guardMaxSplices {
			return true, true
		}
		tries++
		if m.otherReading(r, gi, b, hs, he, ts, te, h) {
			return true, true
		}
		for _, k := range rules {
			if rk, gk := c.fail[k], &c.failGuard[k]; rk != r && gk.host != [3]int{} && m.otherReading(rk, gk, b, hs, he, ts, te, h) {
				return true, true
			}
		}
	}
	return false, others
}

// otherRuleReads reports whether a failregex other than the one that
// matched (index ri) takes from the content b an address other than h, or
// takes h where it could have taken another. hs is where h starts in b (-1:
// in the prefregex's part of the line); with several lines in the buffer,
// only an address on h's line counts.
func (m *Matcher) otherRuleReads(ri int, b []byte, hs int, h netip.Addr) bool {
	c := m.c
	if len(b) == 0 {
		return false
	}
	ls, le := 0, len(b)
	if c.maxLines > 1 {
		if hs < 0 {
			return false
		}
		ls = bytes.LastIndexByte(b[:hs], '\n') + 1
		if k := bytes.IndexByte(b[hs:], '\n'); k >= 0 {
			le = hs + k
		}
	}
	for _, k := range c.dispatch[b[0]] {
		gk := &c.failGuard[k]
		if int(k) == ri || gk.host == [3]int{} {
			continue
		}
		rk := c.fail[k]
		sp, ok := m.searchGuard(rk, b)
		if !ok {
			continue
		}
		s, e, a, ok := gk.hostRead(b, sp)
		if !ok || !a.IsValid() || s < ls || e > le {
			continue
		}
		if a != h {
			return true
		}
		if amb, _ := m.ambiguous(rk, gk, b, s, e, h, nil); amb {
			return true
		}
	}
	return false
}

// otherReading splices b so that the address spelt at [ts,te) stands where
// the rule would read it instead of the one spelt at [hs,he), and reports
// whether the rule then takes it with the removed text fitting a field.
func (m *Matcher) otherReading(r *regex, gi *guardInfo, b []byte, hs, he, ts, te int, h netip.Addr) bool {
	var cut0, cut1, at int // b[cut0:cut1] is removed; the address then starts at at
	if ts >= he {
		cut0, cut1, at = hs, ts, hs
	} else {
		cut0, cut1, at = te, he, ts
	}
	atEnd := at + te - ts
	g := append(append(m.gbuf[:0], b[:cut0]...), b[cut1:]...)
	m.gbuf = g
	sp, ok := m.searchGuard(r, g)
	if !ok {
		return false
	}
	s, e, a, ok := gi.hostRead(g, sp)
	if !ok || s < at || e > atEnd || !a.IsValid() || a == h {
		return false
	}
	// where the removed text x can be put back into g: at cut0, or as far
	// as it slides over equal characters on either side
	x := b[cut0:cut1]
	lo, hi := cut0, cut0
	for k := 1; k <= len(x) && cut0-k >= 0 && g[cut0-k] == x[len(x)-k]; k++ {
		lo = cut0 - k
	}
	for k := 0; k < len(x) && cut0+k < len(g) && g[cut0+k] == x[k]; k++ {
		hi = cut0 + k + 1
	}
	// never inside the address itself
	if at >= cut0 {
		hi = min(hi, at)
	} else {
		lo = max(lo, atEnd)
	}
	for _, f := range gi.fields {
		fs, fe := sp[2*f], sp[2*f+1]
		if fs < 0 || (fs <= s && fe >= e) {
			continue // not taking part, or holding the address
		}
		if fs <= hi && fe >= lo {
			return true
		}
	}
	// no named field there: probe whether the rule takes variable text at
	// one of those places (an unnamed ".*?", "\S+" …): the two ends first,
	// then the places between them
	for k := 0; k <= hi-lo && k < guardMaxProbes; k++ {
		var q int
		switch k {
		case 0:
			q = hi
		case 1:
			q = lo
		default:
			q = lo + k - 1
		}
		p := append(append(append(m.pbuf[:0], g[:q]...), guardProbe), g[q:]...)
		m.pbuf = p
		want := s
		if q <= s {
			want++
		}
		sp, ok := m.searchGuard(r, p)
		if !ok {
			continue
		}
		if ps, _, pa, ok := gi.hostRead(p, sp); ok && ps == want && pa == a {
			return true
		}
	}
	return false
}

func (m *Matcher) searchGuard(r *regex, b []byte) ([]int, bool) {
	sp, ok, err := r.search(&m.st, b, m.gspans)
	m.gspans = sp
	if err != nil {
		m.stats.GaveUp++
		return sp, false
	}
	return sp, ok
}

// spelling widens the address text b[s:e] a rule took to the way the line
// spells it: with the "::ffff:" before an IPv4 address (Fail2Ban's <HOST>
// is "(?:::f{4,6}:)?<IP4>" …) and the brackets around it.
func spelling(b []byte, s, e int) (int, int) {
	if k := mappedPrefix(b, s); k >= 0 && bytes.IndexByte(b[s:e], ':') < 0 {
		s = k
	}
	return brackets(b, s, e, len(b))
}

// mappedPrefix returns where the "::ffff:" (four to six f, either case)
// that ends at s starts, or -1.
func mappedPrefix(b []byte, s int) int {
	if s < 1 || b[s-1] != ':' {
		return -1
	}
	k, n := s-2, 0
	for k >= 0 && n < 6 && (b[k] == 'f' || b[k] == 'F') {
		k, n = k-1, n+1
	}
	if n < 4 || k < 1 || b[k] != ':' || b[k-1] != ':' {
		return -1
	}
	return k - 1
}

// hexColon marks the bytes an address token is made of: hex digits, ':'
// and '.' (2 for the separators).
var hexColon = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			t[c] = 1
		case c == ':' || c == '.':
			t[c] = 2
		}
	}
	return t
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// nextAddr finds the next address in b[i:end], however it is spelt: IPv6
// (compressed or not, either case, with or without an IPv4 tail) written
// as a whole run of hex digits, ':' and '.'; otherwise an IPv4 address
// (four dot-separated runs of up to three digits, like Fail2Ban's <IP4>,
// zero-padded or not) starting where a run of digits starts, with a
// "::ffff:" before it. Either may stand in brackets. Every other byte
// separates (spaces, TABs, control characters, any non-ASCII character).
// It returns the span of the spelling, brackets included, the address
// (IPv4-mapped IPv6 as IPv4) and where to continue; ts < 0 when there is
// none.
func nextAddr(b []byte, i, end int) (ts, te int, a netip.Addr, next int) {
	for i < end {
		// Every address token holds a '.' or a ':': jump to the next one
		// and take the run of address bytes around it.
		p := nextSep(b[i:end])
		if p < 0 {
			break
		}
		p += i
		for p > i && hexColon[b[p-1]] != 0 {
			p--
		}
		i = p
		j := i
		for j < end && hexColon[b[j]] != 0 {
			j++
		}
		// the run b[i:j] (without final dots); first as an IPv6 address,
		// also without a single ':' before or after it ("(:2001:db8::1)",
		// "from 2001:db8::1: reason")
		if s, e := i, trimDots(b, i, j); maybeIP6(b[s:e]) {
			if e-s > 2 && b[s] == ':' && b[s+1] != ':' {
				s++
			}
			a, ok := looseIP6(b[s:e])
			if !ok && e-s > 2 && b[e-1] == ':' && b[e-2] != ':' {
				e--
				a, ok = looseIP6(b[s:e])
			}
			if ok {
				s, e = brackets(b, s, e, end)
				return s, e, a.Unmap(), max(j, e)
			}
		}
		// then IPv4 addresses inside it, one at a time
		for k := i; k < j; k++ {
			if !isDigit(b[k]) || (k > i && isDigit(b[k-1])) {
				continue
			}
			if e := ip4At(b, k, j); e > 0 {
				if a, ok := looseIP4(b[k:e]); ok {
					s := k
					if p := mappedPrefix(b, k); p >= i {
						s = p
					}
					s, e = brackets(b, s, e, end)
					return s, e, a, e
				}
			}
		}
		i = j
	}
	return -1, -1, netip.Addr{}, end
}

// brackets widens b[s:e] by the brackets around it, all of them, paired
// or not ("[[192.0.2.1]]", "[[192.0.2.1]": a rule's "\[<HOST>\]" around a
// client's brackets), within b[:end].
func brackets(b []byte, s, e, end int) (int, int) {
	for s > 0 && b[s-1] == '[' {
		s--
	}
	for e < end && b[e] == ']' {
		e++
	}
	return s, e
}

// nextSep returns the index of the first '.' or ':' in b, or -1.
func nextSep(b []byte) int {
	d := bytes.IndexByte(b, '.')
	if d == 0 {
		return 0
	}
	lim := b
	if d > 0 {
		lim = b[:d]
	}
	if c := bytes.IndexByte(lim, ':'); c >= 0 {
		return c
	}
	return d
}

// ip4At matches (?:\d{1,3}\.){3}\d{1,3} greedily at b[k:], within b[:end];
// it returns the end, or 0.
func ip4At(b []byte, k, end int) int {
	for part := 0; part < 4; part++ {
		n := 0
		for k < end && n < 3 && isDigit(b[k]) {
			k++
			n++
		}
		if n == 0 {
			return 0
		}
		if part < 3 {
			if k >= end || b[k] != '.' {
				return 0
			}
			k++
		}
	}
	return k
}

func trimDots(b []byte, i, j int) int {
	for j > i && b[j-1] == '.' {
		j--
	}
	return j
}

// maybeIP6 is a cheap test before the IPv6 parser: an IPv6 address has
// "::" or at least six colons.
func maybeIP6(s []byte) bool {
	n := 0
	for k, c := range s {
		if c == ':' {
			n++
			if k > 0 && s[k-1] == ':' {
				return true
			}
		}
	}
	return n >= 6
}

// looseAddr is the address text s names (a host group's text, a token of
// nextAddr): IPv4 with parts of one to three digits, zero-padded or not;
// IPv6 in any case, with an IPv4 tail; either in brackets. IPv4-mapped IPv6
// is IPv4. It does not allocate.
func looseAddr(s []byte) netip.Addr {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if bytes.IndexByte(s, ':') >= 0 {
		if a, ok := looseIP6(s); ok {
			return a.Unmap()
		}
		return netip.Addr{}
	}
	a, _ := looseIP4(s)
	return a
}

// looseIP4 parses a dotted quad whose parts have one to three digits, each
// at most 255 (leading zeros allowed, as <IP4> takes them).
func looseIP4(s []byte) (netip.Addr, bool) {
	var ip [4]byte
	for part := 0; part < 4; part++ {
		n, d := 0, 0
		for d < len(s) && d < 3 && isDigit(s[d]) {
			n = n*10 + int(s[d]-'0')
			d++
		}
		if d == 0 || n > 255 {
			return netip.Addr{}, false
		}
		ip[part], s = byte(n), s[d:]
		if part < 3 {
			if len(s) == 0 || s[0] != '.' {
				return netip.Addr{}, false
			}
			s = s[1:]
		}
	}
	if len(s) != 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// looseIP6 parses an IPv6 address (RFC 4291 text: groups of one to four
// hex digits in either case, one "::", an IPv4 tail, no zone), the IPv4
// tail loosely as looseIP4. Unlike netip.ParseAddr it does not allocate
// on bad input.
func looseIP6(s []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1 // where "::" stands, in ip
	i := 0
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis, s = 0, s[2:]
	}
	for len(s) > 0 {
		n, d := 0, 0
		for d < len(s) && d < 4 && hexVal(s[d]) >= 0 {
			n = n<<4 | hexVal(s[d])
			d++
		}
		if d == 0 {
			return netip.Addr{}, false
		}
		if d < len(s) && s[d] == '.' {
			// an IPv4 tail: the last 32 bits
			if i > 12 || (ellipsis < 0 && i != 12) {
				return netip.Addr{}, false
			}
			a4, ok := looseIP4(s)
			if !ok {
				return netip.Addr{}, false
			}
			b4 := a4.As4()
			copy(ip[i:], b4[:])
			i += 4
			s = nil
			break
		}
		if i == 16 || (d < len(s) && hexVal(s[d]) >= 0) {
			return netip.Addr{}, false // too many groups, or a group of five digits
		}
		ip[i], ip[i+1] = byte(n>>8), byte(n)
		i += 2
		s = s[d:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return netip.Addr{}, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis, s = i, s[1:]
		}
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false // "::" stands for no group
	}
	return netip.AddrFrom16(ip), true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
