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
//     the splice with its host group on T, the line reads two ways: "the
//     client wrote H and the text around it" or "the client wrote the text
//     around T";
//   - the field: the removed text must be able to sit inside a field the
//     regex captures into a named group other than the address groups
//     (F-USER, F-ID, any <F-X>: the places where a filter says "variable
//     text here"). The removed text, put back into the splice, may slide
//     over equal neighbouring characters; one of those positions must fall
//     inside such a group of the splice's match. This is what keeps
//     "rip=A, lip=B" (dovecot) and "from A port N on B" lines working: no
//     field of the rule could hold the text between the addresses. A rule
//     with no such named group at all is judged by the splice alone.
//
// An ambiguous failure is Ignored with no address and no host (its fid, if
// any, stays the ID). The guard never picks the other reading: Fail2Ban's
// rules end in catch-all tails ("(?:(?! from ).)*$", " on \S+", ".*"), so
// nothing in a rule's shape proves that the client could not have written
// the text after the rightmost address; see the package doc.
//
// The guard runs only on failregex matches that carry an address; lines
// that match nothing pay nothing. It re-runs the rule at most
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
// and the address it holds (invalid when it is no IP address).
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

// ambiguous reports whether the address that regex r took from b (its
// match is spans, gi its guard info) is one of several the rule could have
// taken; see the comment at the top of this file.
func (m *Matcher) ambiguous(r *regex, gi *guardInfo, b []byte, spans []int) bool {
	hs, he, h, ok := gi.hostSpan(b, spans)
	if !ok || !h.IsValid() {
		return false // no address: nothing to credit
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	tries := 0
	for i := 0; i < end; {
		if i == hs {
			i = he // the matched address itself
			continue
		}
		ts, te, t, next := nextAddr(b, i, end)
		if ts < 0 {
			break
		}
		if ts < he && te > hs {
			i = max(next, he)
			continue
		}
		i = next
		if t == h {
			continue
		}
		if tries == guardMaxSplices {
			return true
		}
		tries++
		if m.otherReading(r, gi, b, hs, he, ts, te, h) {
			return true
		}
	}
	return false
}

// otherReading splices b so that the address at [ts,te) stands where the
// rule would read it instead of the one at [hs,he), and reports whether the
// rule then takes it with the removed text fitting a field.
func (m *Matcher) otherReading(r *regex, gi *guardInfo, b []byte, hs, he, ts, te int, h netip.Addr) bool {
	var cut0, cut1, at int // b[cut0:cut1] is removed; the address then starts at at
	if ts >= he {
		cut0, cut1, at = hs, ts, hs
	} else {
		cut0, cut1, at = te, he, ts
	}
	g := append(append(m.gbuf[:0], b[:cut0]...), b[cut1:]...)
	m.gbuf = g
	sp, ok := m.searchGuard(r, g)
	if !ok {
		return false
	}
	s, e, a, ok := gi.hostSpan(g, sp)
	if !ok || s != at || !a.IsValid() || a == h {
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
	if s >= cut0 {
		hi = min(hi, s)
	} else {
		lo = max(lo, e)
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
	// one of those places (an unnamed ".*?", "\S+" …)
	for q, n := lo, 0; q <= hi && n < guardMaxProbes; q, n = q+1, n+1 {
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
		if ps, _, pa, ok := gi.hostSpan(p, sp); ok && ps == want && pa == a {
			return true
		}
	}
	return false
}

func (m *Matcher) searchGuard(r *regex, b []byte) ([]int, bool) {
	sp, ok, err := r.search(&m.st, b, m.gspans)
	m.gspans = sp
	if err != nil {
		m.stats.Timeouts++
		return sp, false
	}
	return sp, ok
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

func isHexColon(c byte) bool { return hexColon[c] != 0 }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// nextAddr finds the next address token in b[i:end]: an IPv6 address
// written as a whole run of hex digits, ':' and '.', or an IPv4 address
// (four dot-separated runs of up to three digits, like Fail2Ban's <IP4>)
// starting where a run of digits starts. It returns the span, the address
// and where to continue; ts < 0 when there is none.
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
		// the run b[i:j] (without a final '.'); first as an IPv6 address
		if v6End := trimDots(b, i, j); maybeIP6(b[i:v6End]) {
			if a := parseIP(viewString(b[i:v6End]), false); a.IsValid() {
				return i, v6End, a, j
			}
		}
		// then IPv4 addresses inside it, one at a time
		for k := i; k < j; k++ {
			if !isDigit(b[k]) || (k > i && isDigit(b[k-1])) {
				continue
			}
			if e := ip4At(b, k, j); e > 0 {
				if a := parseIP(viewString(b[k:e]), true); a.IsValid() {
					return k, e, a, e
				}
			}
		}
		i = j
	}
	return -1, -1, netip.Addr{}, end
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

// maybeIP6 is a cheap test before netip's parser (whose errors allocate):
// an IPv6 address has "::" or at least six colons.
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
