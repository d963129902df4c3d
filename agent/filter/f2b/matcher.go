package f2b

import (
	"bytes"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/banfleet/banfleet/agent/filter"
)

// Matcher runs a Compiled filter over one log source. It holds that
// source's state (multi-line buffer, the MLFID cache that ties a
// connection's lines together, the last date, the date finder's template
// order), so a Matcher must see the source's lines in order and is not safe
// for concurrent use. It implements filter.Filter's methods; unlike the
// built-in filters it is stateful, so give each log source its own.
type Matcher struct {
	c       *Compiled
	dates   DateFinder
	dateErr error

	hasLast  bool
	lastDate time.Time

	// A line rejected before date detection (see Compiled.lines): its
	// date is only looked for if a later line without a date needs it.
	pend    []byte
	pendNow time.Time
	hasPend bool

	buf    []byte // the searched buffer: the line(s) without the date, plus "\n"
	cbuf   []byte // prefregex content + "\n" when not a suffix of buf
	lines  []bufLine
	spans  []int
	pspans []int
	ispans []int

	st           searchState
	gbuf, pbuf   []byte // Options.AddressGuard: the spliced and probed buffers
	gspans       []int
	cache        mlfidCache
	fi           failInfo
	fgroups      []fgroup
	matchedLines int

	stats Stats
}

type bufLine struct{ text, orig []byte }

type fgroup struct {
	name    string
	val     string
	present bool
}

// Stats counts what a Matcher saw.
type Stats struct {
	Lines   uint64 // lines offered
	Failed  uint64 // verdict Failed
	Ignored uint64 // verdict Ignored
	NoDate  uint64 // lines without a date (they took the last date or now)
	BadDate uint64 // lines whose date is no valid time (Feb 30, 24:00:00): BadLine for Match
	GaveUp  uint64 // backtracking searches abandoned after Options.MaxSteps (counted as no match)
}

var _ filter.Filter = (*Matcher)(nil)

// New returns a Matcher with fresh state.
func (c *Compiled) New() *Matcher {
	m := &Matcher{c: c}
	m.dates, m.dateErr = c.newDates()
	return m
}

// Name returns the filter's name.
func (m *Matcher) Name() string { return m.c.def.Name }

// Stats returns the counters.
func (m *Matcher) Stats() Stats { return m.stats }

// Match offers one line (without its newline) and returns the verdict, as
// Fail2Ban's daemon would decide it (first matching failregex wins). now is
// the current time: it completes dates without a year and stands in for a
// missing date. It allocates only when a failregex matches.
func (m *Matcher) Match(line []byte, now time.Time) (filter.Failure, filter.Verdict) {
	o := m.run(line, now, time.Time{}, false, true)
	return m.failure(&o), o.verdict
}

// MatchAt offers a line whose time is known (a journal entry, formatted
// "HOST IDENT[PID]: MESSAGE" like Fail2Ban's systemd backend does); no date
// is looked for in the text.
func (m *Matcher) MatchAt(line []byte, t time.Time) (filter.Failure, filter.Verdict) {
	o := m.run(line, t, t, true, true)
	return m.failure(&o), o.verdict
}

// Result is the full outcome of one line, for tools and compatibility
// tests. Its fields are copies (safe to keep).
type Result struct {
	Verdict filter.Verdict
	// Failure is what Match returns. Rule is the failregex index, -1 when
	// no failregex matched.
	filter.Failure
	// ID is Fail2Ban's failure ID: the fid group, else the ip4, ip6 or dns
	// text (empty when there is none yet, see Pending).
	ID string
	// Host is the ip4, ip6 or dns text the address was taken from.
	Host string
	// Prefix is Addr with the cidr group's length (the full length when
	// there is none); Fail2Ban bans the whole prefix.
	Prefix netip.Prefix
	// Groups are the named groups that took part: prefregex and failregex
	// groups merged (failregex wins), alt_ groups folded in, and for
	// multi-line failures (MLFID) the groups of the connection's earlier
	// lines. The prefregex's content group is not included.
	Groups map[string]string
	// Attempts is len(matches) in Fail2Ban: the lines counted for this
	// failure (several for a multi-line failure).
	Attempts int
	// Users are the distinct users a multi-line failure saw.
	Users []string
	// NoFail: a rule matched that is not a failure by itself (NOFAIL,
	// MLFGAINED). Pending: the connection has no address yet.
	NoFail, Pending bool
	// IgnoreRegex is the index of the ignoreregex that dropped the line, or -1.
	IgnoreRegex int
	// NoDate: no date was found; Time is the last date (if under 60 s old)
	// or now.
	NoDate bool
	// BadDate: the line's date is no valid time (Feb 30, 24:00:00); Time
	// is zero. Match and MatchAt return BadLine for such a line.
	BadDate bool
	// Line is the buffer the failregexes were searched on, without the
	// final newline: the line with its date cut out, or the prefregex's
	// content.
	Line string
}

// Process is Match with the full result.
func (m *Matcher) Process(line []byte, now time.Time) Result {
	o := m.run(line, now, time.Time{}, false, false)
	return m.result(&o)
}

// ProcessAt is MatchAt with the full result.
func (m *Matcher) ProcessAt(line []byte, t time.Time) Result {
	o := m.run(line, t, t, true, false)
	return m.result(&o)
}

// outcome is what run found; fail and the byte slices are only valid until
// the next call.
type outcome struct {
	verdict filter.Verdict
	rule    int
	t       time.Time
	noDate  bool
	badDate bool
	ignore  int
	fail    *failInfo
	addr    netip.Addr
	prefix  netip.Prefix
	id      string
	host    string
	nofail  bool
	pending bool
	fbuf    []byte
}

func (m *Matcher) failure(o *outcome) filter.Failure {
	if o.verdict == filter.BadLine {
		return filter.Failure{}
	}
	if o.verdict != filter.Failed && o.verdict != filter.Ignored {
		return filter.Failure{Time: o.t}
	}
	f := filter.Failure{Addr: o.addr, Time: o.t, Rule: o.rule}
	if o.fail != nil {
		if u, _ := o.fail.get("user"); u != "" {
			f.User = strings.Clone(u)
		}
	}
	return f
}

func (m *Matcher) result(o *outcome) Result {
	r := Result{Verdict: o.verdict, Failure: m.failure(o), ID: strings.Clone(o.id), Host: strings.Clone(o.host), NoFail: o.nofail,
		Pending: o.pending, IgnoreRegex: o.ignore, NoDate: o.noDate, BadDate: o.badDate, Line: string(bytes.TrimSuffix(o.fbuf, []byte("\n")))}
	if o.verdict != filter.Failed && o.verdict != filter.Ignored {
		r.Rule = -1
	}
	if o.addr.IsValid() {
		r.Prefix = o.prefix
	}
	if o.fail != nil {
		r.Groups = map[string]string{}
		for _, e := range o.fail.kv {
			r.Groups[e.k] = strings.Clone(e.v)
		}
		r.Attempts = o.fail.matches
		for _, u := range o.fail.users {
			r.Users = append(r.Users, strings.Clone(u))
		}
	}
	return r
}

const lastDateWindow = 60 * time.Second

// lastOrNow is Fail2Ban's rule for a line without a (usable) date.
func (m *Matcher) lastOrNow(now time.Time) time.Time {
	if m.hasPend {
		m.hasPend = false
		if dt, s, e, ok := m.dates.Find(m.pend, m.pendNow); ok && s >= 0 && s < e && e <= len(m.pend) {
			m.hasLast, m.lastDate = true, dt
		}
	}
	if m.hasLast && m.lastDate.After(now.Add(-lastDateWindow)) {
		return m.lastDate
	}
	return now
}

// run is Filter.processLine + findFailure with checkAllRegex off (the
// daemon's behaviour).
//
// skipBadDate (the filter path, Match and MatchAt) makes a line whose date
// is no valid time BadLine at once; otherwise (Process, the tools) it is
// matched as Fail2Ban does, with a zero time and outcome.badDate set.
func (m *Matcher) run(line []byte, now, at time.Time, atSet, skipBadDate bool) (o outcome) {
	c := m.c
	m.stats.Lines++
	m.cache.recycle()
	o.ignore = -1
	o.rule = -1
	if m.dateErr != nil {
		o.verdict = filter.BadLine
		return o
	}
	// 0. A line without the literals a match needs (Compiled.lines) is
	// rejected before its date is looked for (kept for later: Fail2Ban's
	// last-date rule may need it), unless a missing date must be counted.
	required := c.opts.DateRequired && skipBadDate && !atSet
	if c.lines != nil && !atSet && m.dates != nil && !required && !c.lines.pass(line) {
		m.pend = append(m.pend[:0], line...)
		m.pendNow, m.hasPend = now, true
		o.verdict = filter.NoMatch
		return o
	}
	// 1. the date, cut out of the line
	cutS, cutE := 0, 0
	switch {
	case atSet || c.journal:
		o.t = at
		if !atSet {
			o.t = now
		}
		m.hasLast, m.lastDate = true, o.t
	case m.dates != nil:
		dt, s, e, ok := m.dates.Find(line, now)
		if ok && s >= 0 && s <= e && e <= len(line) {
			cutS, cutE = s, e
			if e > s {
				if dt.IsZero() {
					// A date that is no time (Feb 30, 24:00:00, an
					// unknown zone). Fail2Ban logs an error and matches
					// the line anyway, with the last date or now (the
					// tools, which count as fail2ban-regex, do that with
					// a zero Time); a filter never hands out a failure
					// without its own time: the line is BadLine, skipped
					// before any rule sees it.
					m.stats.BadDate++
					o.badDate = true
					if skipBadDate {
						o.verdict = filter.BadLine
						return o
					}
				} else {
					m.hasPend = false // this line's date is newer than a pending one
					o.t = dt
					m.hasLast, m.lastDate = true, dt
				}
			} else {
				o.t = m.lastOrNow(now)
			}
		} else {
			o.noDate = true
			o.t = m.lastOrNow(now)
		}
	default:
		o.noDate = true
		o.t = m.lastOrNow(now)
	}
	if o.noDate {
		m.stats.NoDate++
		if required {
			o.verdict = filter.BadLine
			return o
		}
	}
	if required && c.lines != nil && !c.lines.pass(line) {
		o.verdict = filter.NoMatch
		return o
	}
	// 2. the buffer
	var buf []byte
	if c.maxLines == 1 {
		buf = append(append(append(m.buf[:0], line[:cutS]...), line[cutE:]...), '\n')
		m.buf = buf
	} else {
		m.pushLine(line, cutS, cutE)
		buf = m.joinLines(m.lines)
	}
	o.fbuf = buf
	orgLines := m.lines // the buffer before a content replacement (multi-line)
	// 3. ignoreregex first, when there are few of them
	if c.ignoreFirst {
		for i, r := range c.ignore {
			if m.searchOK(r, buf, &m.ispans) {
				o.ignore = i
				return o
			}
		}
	}
	// 4. prefregex
	fbuf := buf
	fOff := 0 // fbuf == buf[fOff:], or -1
	var pspans []int
	if c.pref != nil {
		var matched, definite bool
		if c.pref.prefix != nil {
			m.pspans, matched, definite = c.pref.prefix.Match(buf, m.pspans)
		}
		if !definite {
			matched = m.searchOK(c.pref, buf, &m.pspans)
		}
		if !matched {
			return o
		}
		pspans = m.pspans
		if g := c.contentGroup; g > 0 && pspans[2*g] >= 0 && pspans[2*g+1] > pspans[2*g] {
			s, e := pspans[2*g], pspans[2*g+1]
			if c.maxLines > 1 {
				m.lines = append(m.lines[:0:0], bufLine{text: append([]byte(nil), buf[s:e]...), orig: append([]byte(nil), buf[s:e]...)})
				m.cbuf = m.joinLinesInto(m.cbuf[:0], m.lines)
				fbuf = m.cbuf
				fOff = -1
			} else if e == len(buf)-1 {
				fbuf = buf[s:]
				fOff = s
			} else {
				fOff = -1
				m.cbuf = append(append(m.cbuf[:0], buf[s:e]...), '\n')
				fbuf = m.cbuf
			}
		}
	}
	o.fbuf = fbuf
	// 5. failregex in order; the first match wins
	var cands []int16
	if len(fbuf) > 0 {
		cands = c.dispatch[fbuf[0]]
	}
	for _, ri := range cands {
		r := c.fail[ri]
		spans, ok, err := r.search(&m.st, fbuf, m.spans)
		m.spans = spans
		if err != nil {
			m.stats.GaveUp++
		}
		if !ok {
			continue
		}
		if m.decide(&o, r, buf, fbuf, fOff, pspans, orgLines, now) {
			return o
		}
		// A match without any failure id: Fail2Ban logs it and goes on
		// with the buffer reduced to the unmatched lines ("\n" for one line).
		if c.maxLines > 1 {
			m.cbuf = m.joinLinesInto(m.cbuf[:0], m.lines)
		} else {
			m.cbuf = append(m.cbuf[:0], '\n')
		}
		fbuf, fOff = m.cbuf, -1
		o.fbuf = fbuf
	}
	return o
}

// searchOK runs r and reports whether it matched (a search given up counts as no).
func (m *Matcher) searchOK(r *regex, buf []byte, spans *[]int) bool {
	s, ok, err := r.search(&m.st, buf, *spans)
	*spans = s
	if err != nil {
		m.stats.GaveUp++
	}
	return ok
}

// decide handles a failregex match; it returns true when the line's
// outcome is settled (a failure, a nofail or pending match, or an
// ignoreregex hit, which sets o.ignore) and false to try the next failregex
// (a match without any failure id).
func (m *Matcher) decide(o *outcome, r *regex, buf, fbuf []byte, fOff int, pspans []int, orgLines []bufLine, now time.Time) bool {
	c := m.c
	spans := m.spans
	// matched and unmatched lines (Regex.search)
	m.matchedLines = 1
	var unmatched []bufLine
	if c.maxLines > 1 {
		var matched []bufLine
		matched, unmatched = m.splitMatched(r, fbuf, spans, orgLines)
		m.matchedLines = len(matched)
		if len(c.ignore) > 0 {
			ibuf := m.joinLinesInto(nil, matched)
			for i, ir := range c.ignore {
				if m.searchOK(ir, ibuf, &m.ispans) {
					o.ignore = i
					m.lines = unmatched
					return true
				}
			}
		}
		m.lines = unmatched
	} else if len(c.ignore) > 0 {
		for i, ir := range c.ignore {
			if m.searchOK(ir, fbuf, &m.ispans) {
				o.ignore = i
				return true
			}
		}
	}
	// the failure's groups: prefregex groups, overridden by the failregex's
	fail := &m.fi
	fail.reset()
	if c.pref != nil {
		for g := 1; g <= c.pref.ngroups; g++ {
			name := c.pref.names[g]
			if name == "" || g == c.contentGroup {
				continue
			}
			if pspans[2*g] >= 0 {
				fail.setCopy(name, buf[pspans[2*g]:pspans[2*g+1]])
			}
		}
	}
	if len(r.alts) == 0 && len(r.tuples) == 0 {
		for g := 1; g <= r.ngroups; g++ {
			if name := r.names[g]; name != "" {
				if spans[2*g] >= 0 {
					fail.setCopy(name, fbuf[spans[2*g]:spans[2*g+1]])
				} else {
					fail.pop(name)
				}
			}
		}
	} else {
		m.groupsWithAlt(r, fail, fbuf, spans)
	}
	// Options.AddressGuard: an address the rule could have read elsewhere
	// is dropped before it can be credited or remembered (MLFID).
	guarded := c.opts.AddressGuard && m.guardAmbiguous(r, fail, buf, fbuf, pspans, spans)
	if guarded {
		fail.pop("ip4")
		fail.pop("ip6")
		fail.pop("dns")
	}
	// multi-line failure id
	mlfid, hasMLFID := fail.get("mlfid")
	if hasMLFID {
		fail = m.mergeFailure(mlfid, fail, now)
		if fail.truthy("nofail") {
			o.fail, o.nofail, o.verdict, o.rule = fail, true, filter.Ignored, r.index
			m.stats.Ignored++
			return true
		}
	} else {
		fail.matches = m.matchedLines
	}
	if guarded {
		o.fail, o.rule, o.verdict = fail, r.index, filter.Ignored
		if fid, ok := fail.get("fid"); ok {
			o.id = fid
		}
		if hasMLFID && !fail.has("ip4") && !fail.has("ip6") && !fail.has("dns") {
			// as for a line without an address: a later line of the
			// connection may bring one
			fail.pending, o.pending = true, true
		}
		m.stats.Ignored++
		return true
	}
	fid, hasFid := fail.get("fid")
	var ip string
	var hasIP, raw bool
	cidrDefault := -1
	if v, ok := fail.get("ip4"); ok {
		ip, hasIP, raw, cidrDefault = v, true, true, 32
	} else if v, ok := fail.get("ip6"); ok {
		ip, hasIP, raw, cidrDefault = v, true, true, 128
	} else if v, ok := fail.get("dns"); ok {
		ip, hasIP = v, true
		raw = c.useDNS == "raw"
	} else {
		if !hasFid && !hasMLFID {
			// Fail2Ban: "No group found" (RegexException): logged, and the
			// next failregex is tried.
			return false
		}
		ip, hasIP, raw = fid, hasFid, true
	}
	o.fail, o.rule = fail, r.index
	if !hasIP {
		fail.pending = true
		o.pending, o.verdict = true, filter.Ignored
		m.stats.Ignored++
		return true
	}
	o.host = ip
	o.id = ip
	if hasFid && fid != ip {
		o.id = fid
	}
	o.verdict = filter.Ignored
	var addr netip.Addr
	switch {
	case cidrDefault > 0:
		addr = parseIP(ip, cidrDefault == 32)
	case !raw:
		// <DNS>: banfleet never resolves; an IP written there is used.
		addr = plainIP(ip)
	}
	if addr.IsValid() {
		bits := addr.BitLen()
		if v, ok := fail.get("cidr"); ok && v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= bits {
				bits = n
			}
		}
		o.prefix, _ = addr.Prefix(bits)
		o.addr = o.prefix.Addr()
		if bits == addr.BitLen() {
			o.addr = addr
		}
		o.verdict = filter.Failed
		m.stats.Failed++
	} else {
		m.stats.Ignored++
	}
	return true
}

// viewString views b as a string without copying; it must not outlive b's
// contents.
func viewString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// groupsWithAlt is Regex._getGroupsWithAlt: the failregex's groups with
// alt_ and tuple_ groups folded in, set into fail.
func (m *Matcher) groupsWithAlt(r *regex, fail *failInfo, fbuf []byte, spans []int) {
	m.fgroups = m.fgroups[:0]
	for g := 1; g <= r.ngroups; g++ {
		name := r.names[g]
		if name == "" {
			continue
		}
		fg := fgroup{name: name}
		if spans[2*g] >= 0 {
			// a view of fbuf: copied into fail below
			fg.val, fg.present = viewString(fbuf[spans[2*g]:spans[2*g+1]]), true
		}
		m.fgroups = append(m.fgroups, fg)
	}
	for _, a := range r.alts {
		v, ok := fgLookup(m.fgroups, a.k)
		if ok && v != "" {
			if cur, ok := fgLookup(m.fgroups, a.n); !ok || cur == "" {
				m.fgroups = fgSet(m.fgroups, a.n, v)
			}
		}
	}
	if len(r.tuples) > 0 {
		m.applyTuples(r)
	}
	for _, fg := range m.fgroups {
		if fg.present {
			fail.setCopy(fg.name, unsafeBytes(fg.val))
		} else {
			fail.pop(fg.name)
		}
	}
}

func (m *Matcher) applyTuples(r *regex) {
	for _, t := range r.tuples {
		v, vok := fgLookup(m.fgroups, t.k)
		cur, cok := fgLookup(m.fgroups, t.n)
		var items []*string
		if cok {
			items = append(items, &cur)
		} else {
			items = append(items, nil)
		}
		if vok {
			items = append(items, &v)
		} else {
			items = append(items, nil)
		}
		m.fgroups = fgSet(m.fgroups, t.n, pyTupleRepr(items))
	}
}

func fgLookup(fg []fgroup, name string) (string, bool) {
	for _, g := range fg {
		if g.name == name {
			return g.val, g.present
		}
	}
	return "", false
}

func fgSet(fg []fgroup, name, v string) []fgroup {
	for i := range fg {
		if fg[i].name == name {
			fg[i].val, fg[i].present = v, true
			return fg
		}
	}
	return append(fg, fgroup{name: name, val: v, present: true})
}

// parseIP parses an ip4/ip6 group like Fail2Ban's IPAddr (inet_pton of the
// family; IPv4-compatible IPv6 becomes IPv4).
func parseIP(s string, v4 bool) netip.Addr {
	if !v4 && len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	if v4 != a.Is4() {
		if v4 {
			return netip.Addr{}
		}
	}
	return a.Unmap()
}

var ip46 = regexp.MustCompile(`^(?:(?P<v4>(?:[0-9]{1,3}\.){3}[0-9]{1,3})|\[?(?P<v6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:))\]?)$`)

// plainIP is IPAddr.searchIP + validity: a <DNS> text that is an address.
func plainIP(s string) netip.Addr {
	m := ip46.FindStringSubmatch(s)
	if m == nil {
		return netip.Addr{}
	}
	if m[1] != "" {
		return parseIP(m[1], true)
	}
	return parseIP(m[2], false)
}

// pushLine adds a line to the multi-line buffer, keeping the last maxLines.
func (m *Matcher) pushLine(line []byte, cutS, cutE int) {
	var bl bufLine
	if len(m.lines) >= m.c.maxLines {
		// reuse the storage of the line that drops out
		bl = m.lines[0]
		copy(m.lines, m.lines[1:])
		m.lines = m.lines[:len(m.lines)-1]
	}
	bl.text = append(append(bl.text[:0], line[:cutS]...), line[cutE:]...)
	bl.orig = append(bl.orig[:0], line...)
	m.lines = append(m.lines, bl)
}

func (m *Matcher) joinLines(lines []bufLine) []byte {
	m.buf = m.joinLinesInto(m.buf[:0], lines)
	return m.buf
}

func (m *Matcher) joinLinesInto(dst []byte, lines []bufLine) []byte {
	for i, l := range lines {
		if i > 0 {
			dst = append(dst, '\n')
		}
		dst = append(dst, l.text...)
	}
	return append(dst, '\n')
}

// splitMatched is the multi-line part of Regex.search: the buffer lines the
// match covers (minus <SKIPLINES>), and the others.
func (m *Matcher) splitMatched(r *regex, s []byte, spans []int, org []bufLine) (matched, unmatched []bufLine) {
	if len(org) <= 1 {
		return org, nil
	}
	start, end := spans[0], spans[1]
	lineStart := bytes.LastIndexByte(s[:min(start+1, len(s))], '\n') + 1
	from := end - 1
	if from < 0 {
		from = len(s) - 1
	}
	lineEnd := len(s)
	if i := bytes.IndexByte(s[from:], '\n'); i >= 0 {
		lineEnd = from + i + 1
	}
	lc1 := bytes.Count(s[:lineStart], []byte("\n"))
	lc2 := bytes.Count(s[:lineEnd], []byte("\n"))
	lc1, lc2 = min(lc1, len(org)), min(lc2, len(org))
	matched = append([]bufLine(nil), org[lc1:max(lc1, lc2)]...)
	unmatched = append([]bufLine(nil), org[:lc1]...)
	// lines captured by <SKIPLINES> move to the unmatched ones
	var skipped [][]byte
	for _, g := range r.skiplines {
		if spans[2*g] >= 0 {
			skipped = append(skipped, splitLinesPy(s[spans[2*g]:spans[2*g+1]])...)
		}
	}
	n := 0
	for _, sk := range skipped {
		for k := n; k < len(matched); k++ {
			if bytes.Equal(matched[k].text, sk) {
				unmatched = append(unmatched, matched[k])
				matched = append(matched[:k], matched[k+1:]...)
				n = k
				break
			}
		}
	}
	unmatched = append(unmatched, org[lc2:]...)
	return matched, unmatched
}

// splitLinesPy is str.splitlines(False) for the line breaks Fail2Ban's
// buffers can hold.
func splitLinesPy(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\n\r\v\f\x1c\x1d\x1e")
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i])
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	return out
}
