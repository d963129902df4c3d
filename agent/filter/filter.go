package filter

import (
	"fmt"
	"net/netip"
	"time"
)

// Verdict is the result of offering one line to a [Filter].
type Verdict uint8

const (
	// NoMatch: the line is well formed but no rule matched it (another
	// daemon, a success, a session message …).
	NoMatch Verdict = iota
	// Failed: the line is a failure that counts against Failure.Addr.
	Failed
	// Ignored: a rule matched, but the line is not a failure by itself.
	// Either the rule is one of Fail2Ban's NOFAIL helpers (pam_unix
	// "authentication failure", "Connection closed …", "Failed publickey"
	// for a valid user …), or it is a failure that names no address banfleet
	// can trust: the rule has no <HOST> and needs multi-line context (see the
	// package doc), the <HOST> text is not a valid IP address, or the line
	// carries injected text that makes the address ambiguous. Failure
	// carries what is known (Rule, Time, User, and Addr when it is sound).
	Ignored
	// BadLine: the line cannot be read (a filter that requires a date found
	// none). Count it; never treat it as fatal.
	BadLine
)

func (v Verdict) String() string {
	switch v {
	case NoMatch:
		return "nomatch"
	case Failed:
		return "failed"
	case Ignored:
		return "ignored"
	case BadLine:
		return "badline"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Failure describes a matched line.
type Failure struct {
	// Addr is the offending address, taken only from the position the
	// matching rule's anchors give <HOST> (never from a user name or other
	// client-controlled text). IPv4-mapped IPv6 addresses are unmapped.
	// Always valid when the verdict is Failed.
	Addr netip.Addr
	// Time is the line's own timestamp (or the journal entry's).
	Time time.Time
	// User is the user name the rule captured, if any.
	User string
	// Rule is the index of the matching failregex in the filter's
	// Fail2Ban failregex list for the selected mode.
	Rule int
}

// Filter recognises failures in log lines.
//
// A Filter may keep state between lines (Fail2Ban's multi-line filters
// do: f2b.Matcher), so one Filter serves one log source and is not safe for
// concurrent use; build one per source. Match must not block, must not
// retain line, and must not allocate when it returns NoMatch or BadLine.
type Filter interface {
	// Name is the filter's name, e.g. "sshd".
	Name() string
	// Match inspects one line (without its trailing newline). now is used
	// to infer the year of timestamps that lack one.
	Match(line []byte, now time.Time) (Failure, Verdict)
}

// AtFilter is a [Filter] that also matches a line whose time is known from
// elsewhere: a journal entry, formatted as Fail2Ban does ("host
// daemon[pid]: msg", no timestamp in the text). Every filter the agent
// builds implements it.
type AtFilter interface {
	Filter
	MatchAt(line []byte, t time.Time) (Failure, Verdict)
}
