package f2b

import (
	"time"
	"unsafe"

	"github.com/banfleet/banfleet/agent/filter"
)

// This file is what `banfleet-agent regex` (agent/regexcmd) needs beyond
// Process: a line's outcome without allocating (the tool is timed against
// the engine), and fail2ban-regex's summary mode, where Fail2Ban tries every
// failregex on every line (checkAllRegex) instead of stopping at the first
// that decides it (the daemon's mode, run's).

// LineView is the outcome of one line for banfleet-agent regex. The caller
// sets CheckAll and reuses one LineView for all lines; the strings
// (Failure.User, Host, Groups) live in the LineView's own storage and are
// valid until the next call with it.
type LineView struct {
	// CheckAll (set by the caller) asks for fail2ban-regex's summary mode,
	// Fail2Ban's checkAllRegex: after the daemon's decision, every later
	// failregex is tried on the same buffer, and every ignoreregex. Hits
	// and Ignores then list them all. Only single-line filters: in a
	// multi-line one the first match consumes its lines from the buffer
	// (as in Fail2Ban) and the daemon's decision is all there is.
	CheckAll bool

	Verdict filter.Verdict
	// Failure is the daemon's decision (Process's): Rule is -1 when no
	// failregex decided the line.
	filter.Failure
	Host    string // the ip4, ip6 or dns text (empty when none)
	NoFail  bool   // the deciding rule is not a failure by itself (NOFAIL, MLFGAINED)
	Pending bool   // the connection has no address yet (MLFID)
	NoDate  bool
	BadDate bool // the date is no valid time: Time is zero (Match says BadLine)
	// Ignore is the ignoreregex that dropped the line in the daemon's
	// decision, or -1.
	Ignore int
	// Attempts is Result.Attempts; MLFID is set when the failure came
	// through the MLFID cache.
	Attempts int
	MLFID    bool
	// Groups are the deciding failure's named groups (Result.Groups).
	Groups []Field

	// Hits are the failregex matches fail2ban-regex's summary counts, in
	// order: the daemon's decision first, and with CheckAll the later
	// failregex that matched too. Ignores are the ignoreregex that matched
	// (with CheckAll: every one, once per failregex match they dropped).
	Hits    []RuleHit
	Ignores []int

	arena []byte
}

// Field is one named group.
type Field struct{ Name, Value string }

// RuleHit is one failregex match.
type RuleHit struct {
	Rule   int
	NoFail bool // NOFAIL, MLFGAINED
	// HostName: the host is a name (the dns group), not an address.
	// banfleet never resolves names; Fail2Ban (usedns no, or a name that
	// does not resolve) finds no address and drops the match.
	HostName bool
}

// ProcessView is Process into v, without allocating once v has grown.
func (m *Matcher) ProcessView(v *LineView, line []byte, now time.Time) {
	o := m.run(line, now, time.Time{}, false, false)
	m.view(v, &o, now)
}

// ProcessViewAt is ProcessAt into v (a journal entry whose time is t).
func (m *Matcher) ProcessViewAt(v *LineView, line []byte, t time.Time) {
	o := m.run(line, t, t, true, false)
	m.view(v, &o, t)
}

func (m *Matcher) view(v *LineView, o *outcome, now time.Time) {
	v.Verdict, v.NoDate, v.BadDate, v.Ignore = o.verdict, o.noDate, o.badDate, o.ignore
	v.Failure = filter.Failure{Time: o.t, Rule: -1}
	v.Host, v.NoFail, v.Pending, v.Attempts, v.MLFID = "", false, false, 0, false
	v.Groups, v.Hits, v.Ignores, v.arena = v.Groups[:0], v.Hits[:0], v.Ignores[:0], v.arena[:0]
	decided := o.rule >= 0 && (o.verdict == filter.Failed || o.verdict == filter.Ignored)
	if decided {
		v.Rule, v.Addr, v.NoFail, v.Pending = o.rule, o.addr, o.nofail, o.pending
		v.Host = v.own(o.host)
		if f := o.fail; f != nil {
			for _, e := range f.kv {
				v.Groups = append(v.Groups, Field{e.k, v.own(e.v)})
				if e.k == "user" {
					v.User = v.Groups[len(v.Groups)-1].Value
				}
				if e.k == "mlfid" {
					v.MLFID = true
				}
			}
			v.Attempts = f.matches
		}
		v.Hits = append(v.Hits, RuleHit{Rule: o.rule, NoFail: o.nofail, HostName: m.hostName(o)})
	}
	if o.ignore >= 0 {
		v.Ignores = append(v.Ignores, o.ignore)
	}
	if !v.CheckAll || m.c.maxLines > 1 || (!decided && o.ignore < 0) {
		return
	}
	m.checkAll(v, o, now)
}

// checkAll continues a single-line decision as Fail2Ban's findFailure does
// with checkAllRegex: the buffer is not reduced after a match, an
// ignoreregex hit drops only that match, and every ignoreregex is tried.
// run left its buffers (m.buf, the prefregex content in o.fbuf, the
// prefregex groups in m.pspans) in place.
func (m *Matcher) checkAll(v *LineView, o *outcome, now time.Time) {
	c := m.c
	buf, fbuf := m.buf, o.fbuf
	after := o.rule
	if o.rule < 0 { // an ignoreregex decided
		if c.ignoreFirst && m.searchOK(c.ignore[o.ignore], buf, &m.ispans) {
			// before the prefregex, on the whole buffer: Fail2Ban stops there
			m.moreIgnores(v, o.ignore, buf)
			return
		}
		// after a failregex match: find that failregex, go on after it
		after = -1
		for _, ri := range c.candidates(fbuf) {
			if m.searchOK(c.fail[ri], fbuf, &m.spans) {
				after = int(ri)
				break
			}
		}
		m.moreIgnores(v, o.ignore, fbuf)
		if after < 0 {
			return
		}
	}
	for _, ri := range c.candidates(fbuf) {
		if int(ri) <= after {
			continue
		}
		r := c.fail[ri]
		if !m.searchOK(r, fbuf, &m.spans) {
			continue
		}
		o2 := outcome{ignore: -1, rule: -1, t: o.t}
		if !m.decide(&o2, r, buf, fbuf, -1, m.pspans, m.lines, now) {
			continue // no failure id: Fail2Ban logs it and goes on
		}
		if o2.ignore >= 0 {
			v.Ignores = append(v.Ignores, o2.ignore)
			m.moreIgnores(v, o2.ignore, fbuf)
			continue
		}
		v.Hits = append(v.Hits, RuleHit{Rule: o2.rule, NoFail: o2.nofail, HostName: m.hostName(&o2)})
	}
}

// moreIgnores adds the ignoreregex after from that match b.
func (m *Matcher) moreIgnores(v *LineView, from int, b []byte) {
	for i := from + 1; i < len(m.c.ignore); i++ {
		if m.searchOK(m.c.ignore[i], b, &m.ispans) {
			v.Ignores = append(v.Ignores, i)
		}
	}
}

// hostName reports a decision whose host came from the dns group and is
// not an address (see RuleHit.HostName).
func (m *Matcher) hostName(o *outcome) bool {
	if o.fail == nil || o.host == "" || o.addr.IsValid() || m.c.useDNS == "raw" {
		return false
	}
	return o.fail.has("dns") && !o.fail.has("ip4") && !o.fail.has("ip6")
}

// candidates are the failregex that can match b, in order (run's dispatch).
func (c *Compiled) candidates(b []byte) []int16 {
	if len(b) == 0 {
		return nil
	}
	return c.dispatch[b[0]]
}

// own copies s into v's storage.
func (v *LineView) own(s string) string {
	if s == "" {
		return ""
	}
	if cap(v.arena)-len(v.arena) < len(s) {
		// a new block: the strings already handed out keep the old one
		v.arena = make([]byte, 0, max(2*cap(v.arena), len(s), 512))
	}
	start := len(v.arena)
	v.arena = append(v.arena, s...)
	return unsafe.String(&v.arena[start], len(s))
}
