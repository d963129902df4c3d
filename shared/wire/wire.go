package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/banfleet/banfleet/shared/subject"
)

// Version is the version of every message this build writes and reads.
const Version = 1

// MaxLine is the longest log line an offence carries; longer lines are cut.
const MaxLine = 1024

// MaxMessage is the largest message a decoder accepts.
const MaxMessage = 64 << 10

// MaxOffenceMessage is the largest offence the stream stores: a line of
// MaxLine bytes and a user of MaxUser, JSON-escaped at 6 bytes a byte at
// worst, and the other fields fit.
const MaxOffenceMessage = 16 << 10

// MaxUser is the longest user name an offence carries.
const MaxUser = 256

// Offence is one failure seen by one host's agent.
type Offence struct {
	V    int        `json:"v"`
	ID   string     `json:"id"`   // unique per host and offence; the JetStream Msg-Id
	Host string     `json:"host"` // must equal the subject's host token
	Jail string     `json:"jail"`
	Addr netip.Addr `json:"addr"`
	Time time.Time  `json:"time"` // the log line's time
	Line string     `json:"line"` // the matched line, at most MaxLine bytes
	User string     `json:"user,omitempty"`
}

// Reason says why the coordinator banned: how many offences from which hosts.
type Reason struct {
	Count int      `json:"count"`
	Hosts []string `json:"hosts,omitempty"`
	Text  string   `json:"text,omitempty"` // free text, e.g. for manual bans
}

// Ban is the value of a key in the bans bucket.
type Ban struct {
	V       int        `json:"v"`
	Addr    netip.Addr `json:"addr"`
	Jail    string     `json:"jail"`
	Ports   []uint16   `json:"ports,omitempty"` // empty: all ports
	Reason  Reason     `json:"reason"`
	Created time.Time  `json:"created"`
	Expires time.Time  `json:"expires"`
	By      string     `json:"by"`              // "coord" or "admin:<user>@<host>"
	Count   int        `json:"count,omitempty"` // how many times this address was banned in this jail (bantime.increment)
	// Only names the one host that enforces this ban: a ban that host's
	// own evidence justified while the fleet's did not (the jail's quorum
	// not met, or a jail the fleet does not know). Empty: every host.
	Only string `json:"only,omitempty"`
	// Forced: an admin banned an address the fleet would never ban on its
	// own (a fleet host's, one in ignoreip) with --force.
	Forced bool `json:"forced,omitempty"`
}

// Heartbeat is what an agent writes to the agents bucket periodically.
type Heartbeat struct {
	V           int          `json:"v"`
	Host        string       `json:"host"`
	Version     string       `json:"version"`
	Started     time.Time    `json:"started"`
	Seen        time.Time    `json:"seen"`
	BansApplied int          `json:"bans_applied"` // elements in its firewall
	Backend     string       `json:"backend"`
	Addrs       []netip.Addr `json:"addrs,omitempty"` // the host's own addresses: never banned
	// Jails are the thresholds this host's jails bring (from a Fail2Ban
	// configuration): the coordinator's defaults for jails its own
	// configuration does not name.
	Jails map[string]JailPolicy `json:"jails,omitempty"`
}

// JailPolicy is a jail's thresholds as a host knows them.
type JailPolicy struct {
	MaxRetry int      `json:"maxretry,omitempty"`
	FindTime float64  `json:"findtime_s,omitempty"`
	BanTime  float64  `json:"bantime_s,omitempty"` // < 0: permanent
	Ports    []uint16 `json:"ports,omitempty"`
	// IgnoreIP is the jail's ignoreip (addresses and CIDRs) on this host.
	IgnoreIP []netip.Prefix `json:"ignoreip,omitempty"`
}

// MaxJailIgnore bounds JailPolicy.IgnoreIP.
const MaxJailIgnore = 256

// Policy is what the coordinator enforces, for admins and their tools (coord
// ban checks its input against it): the jails the fleet knows with the
// policy in force, the longest manual ban, and every address never banned
// and why. It is the value of key subject.PolicyKey in the fleet bucket.
type Policy struct {
	V          int                   `json:"v"`
	Jails      map[string]PolicyJail `json:"jails"`
	MaxBanTime float64               `json:"max_bantime_s"` // seconds
	Never      []NeverBan            `json:"never"`
	Updated    time.Time             `json:"updated"`
	By         string                `json:"by"`
}

// PolicyJail is one jail's policy in force and where it comes from.
type PolicyJail struct {
	MaxRetry int            `json:"maxretry"`
	FindTime float64        `json:"findtime_s"`
	BanTime  float64        `json:"bantime_s"` // < 0: permanent
	Quorum   int            `json:"quorum"`
	Ports    []uint16       `json:"ports,omitempty"` // empty: all ports
	IgnoreIP []netip.Prefix `json:"ignoreip,omitempty"`
	Source   string         `json:"source"` // "config", "fail2ban", "hosts" (most hosts agree), "defaults"
}

// NeverBan is a prefix the fleet never bans, and why. Force: an admin may
// still ban it with coord ban --force (a fleet host's address, ignoreip);
// never for the control plane.
type NeverBan struct {
	Prefix netip.Prefix `json:"prefix"`
	Reason string       `json:"reason"`
	Force  bool         `json:"force,omitempty"`
}

// Validate checks a policy record.
func (p *Policy) Validate() error {
	if len(p.Never) > MaxExemptPrefixes || len(p.Jails) > MaxHeartbeatJails*4 {
		return fmt.Errorf("%w: policy too large", ErrMalformed)
	}
	for _, n := range p.Never {
		if !n.Prefix.IsValid() {
			return fmt.Errorf("%w: policy: prefix %v invalid", ErrMalformed, n.Prefix)
		}
	}
	for name := range p.Jails {
		if !subject.ValidName(name) {
			return fmt.Errorf("%w: policy: jail %q invalid", ErrMalformed, name)
		}
	}
	return nil
}

// FirewallEntry is one element of an agent's firewall.
type FirewallEntry struct {
	Jail      string     `json:"jail"`
	Addr      netip.Addr `json:"addr"`
	ExpiresIn float64    `json:"expires_in_s"` // seconds; 0 = no timeout
	// Local: a ban this agent made alone while NATS was away, not (or no
	// longer) in the bans bucket.
	Local bool `json:"local,omitempty"`
}

// FirewallState is an agent's answer to a firewall request.
type FirewallState struct {
	V       int             `json:"v"`
	Host    string          `json:"host"`
	Backend string          `json:"backend"`
	Entries []FirewallEntry `json:"entries"`
	Error   string          `json:"error,omitempty"`
	// Behind is how many bucket revisions the firewall has not taken yet.
	Behind uint64 `json:"behind,omitempty"`
}

// Health is an agent's answer to a live health request (coord health):
// what it is doing right now, and what is wrong, if anything.
type Health struct {
	V       int       `json:"v"`
	Host    string    `json:"host"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	Now     time.Time `json:"now"` // the agent's clock
	Backend string    `json:"backend"`
	// NATSUnreachable: NATS has been unreachable for offline.after (the
	// agent decides alone); it answered, so it is back or on its way.
	NATSUnreachable bool   `json:"nats_unreachable,omitempty"`
	SourcesReady    bool   `json:"sources_ready"` // every log file present at start is followed
	Files           int    `json:"files"`         // log files followed
	Journals        int    `json:"journals"`      // journal readers
	Lines           uint64 `json:"lines"`         // lines read since start
	Unsent          int    `json:"unsent"`        // offences queued, not yet stored by JetStream
	BansApplied     int    `json:"bans_applied"`  // bans from the bucket
	LocalBans       int    `json:"local_bans"`    // bans made alone while NATS was away
	// LastReconcile is when the firewall was last made equal to the
	// bucket (zero: not yet); FirewallError the last firewall failure
	// since then, if any.
	LastReconcile time.Time `json:"last_reconcile,omitzero"`
	FirewallError string    `json:"firewall_error,omitempty"`
	// BansBehind is how many bucket revisions the firewall has not taken
	// yet; KernelElements what the kernel held at the last check.
	BansBehind     uint64 `json:"bans_behind,omitempty"`
	KernelElements int    `json:"kernel_elements,omitempty"`
	// Problems says in words what is wrong; empty when the agent is well.
	Problems []string `json:"problems,omitempty"`
}

// CoordStats is the coordinator's answer to a stats request (coord health):
// what it has judged of each host's offences since it started.
type CoordStats struct {
	V       int                     `json:"v"`
	Name    string                  `json:"name"`
	Started time.Time               `json:"started"`
	Hosts   map[string]HostOffences `json:"hosts"`
}

// HostOffences counts one host's offences at the coordinator.
type HostOffences struct {
	Offences uint64 `json:"offences"`
	// Capped are the offences over limits.offence_rate (one host, one
	// address, one second), not counted toward a ban.
	Capped     uint64    `json:"capped"`
	LastCapped time.Time `json:"last_capped,omitzero"`
}

// Validate checks a stats answer.
func (s *CoordStats) Validate() error {
	for h := range s.Hosts {
		if !subject.ValidName(h) {
			return fmt.Errorf("%w: stats host %q invalid", ErrMalformed, h)
		}
	}
	return nil
}

// MaxHealthProblems bounds Health.Problems.
const MaxHealthProblems = 32

// Validate checks a health answer's fields.
func (h *Health) Validate() error {
	if !subject.ValidName(h.Host) {
		return fmt.Errorf("%w: health host %q invalid", ErrMalformed, h.Host)
	}
	if len(h.Problems) > MaxHealthProblems || h.Files < 0 || h.Journals < 0 || h.Unsent < 0 || h.BansApplied < 0 || h.LocalBans < 0 {
		return fmt.Errorf("%w: health of %s: counts out of range", ErrMalformed, h.Host)
	}
	return nil
}

// Exempt is the coordinator's list of addresses no agent may ban on its
// own: its ignoreip and every host's own addresses (from the heartbeats).
// It is the value of key subject.ExemptKey in the fleet bucket; agents keep
// the last one they read, for the time NATS is away.
type Exempt struct {
	V        int            `json:"v"`
	Prefixes []netip.Prefix `json:"prefixes"`
	Updated  time.Time      `json:"updated"`
	By       string         `json:"by"` // "coord:<name>"
}

// Limits of an Exempt record: room for thousands of hosts with several
// addresses each.
const (
	MaxExemptPrefixes = 8192
	MaxExemptMessage  = 512 << 10 // below NATS's default max_payload of 1 MiB
)

// Validate checks an exemption list.
func (e *Exempt) Validate() error {
	if len(e.Prefixes) > MaxExemptPrefixes {
		return fmt.Errorf("%w: exempt list: %d prefixes, at most %d", ErrMalformed, len(e.Prefixes), MaxExemptPrefixes)
	}
	for _, p := range e.Prefixes {
		if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return fmt.Errorf("%w: exempt list: prefix %v invalid", ErrMalformed, p)
		}
	}
	return nil
}

// Validate checks an offence's fields.
func (o *Offence) Validate() error {
	switch {
	case o.ID == "" || len(o.ID) > 256:
		return fmt.Errorf("%w: offence id empty or too long", ErrMalformed)
	case !subject.ValidName(o.Host):
		return fmt.Errorf("%w: offence host %q invalid", ErrMalformed, o.Host)
	case !subject.ValidName(o.Jail):
		return fmt.Errorf("%w: offence jail %q invalid", ErrMalformed, o.Jail)
	case !o.Addr.IsValid() || o.Addr.Zone() != "":
		return fmt.Errorf("%w: offence addr missing or invalid", ErrMalformed)
	case o.Time.IsZero():
		return fmt.Errorf("%w: offence time missing", ErrMalformed)
	case len(o.Line) > MaxLine:
		return fmt.Errorf("%w: offence line longer than %d bytes", ErrMalformed, MaxLine)
	case len(o.User) > MaxUser:
		return fmt.Errorf("%w: offence user longer than %d bytes", ErrMalformed, MaxUser)
	}
	return nil
}

// Validate checks a ban's fields.
func (b *Ban) Validate() error {
	switch {
	case !subject.ValidName(b.Jail):
		return fmt.Errorf("%w: ban jail %q invalid", ErrMalformed, b.Jail)
	case !b.Addr.IsValid() || b.Addr.Zone() != "":
		return fmt.Errorf("%w: ban addr missing or invalid", ErrMalformed)
	case b.Created.IsZero():
		return fmt.Errorf("%w: ban created time missing", ErrMalformed)
	case !b.Expires.IsZero() && b.Expires.Before(b.Created):
		return fmt.Errorf("%w: ban expires before it was created", ErrMalformed)
	case b.Only != "" && !subject.ValidName(b.Only):
		return fmt.Errorf("%w: ban host %q invalid", ErrMalformed, b.Only)
	}
	return nil
}

// Limits of what a heartbeat may carry: its addresses join the fleet's
// never-ban list and its jails' thresholds become defaults, so a message
// cannot make either unbounded.
const (
	MaxHeartbeatAddrs = 256
	MaxHeartbeatJails = 256
	maxPolicySeconds  = 10 * 365 * 24 * 3600
)

// Validate checks a heartbeat's fields.
func (h *Heartbeat) Validate() error {
	if !subject.ValidName(h.Host) {
		return fmt.Errorf("%w: heartbeat host %q invalid", ErrMalformed, h.Host)
	}
	if len(h.Addrs) > MaxHeartbeatAddrs {
		return fmt.Errorf("%w: heartbeat of %s: %d addresses, at most %d", ErrMalformed, h.Host, len(h.Addrs), MaxHeartbeatAddrs)
	}
	for _, a := range h.Addrs {
		if !a.IsValid() || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			return fmt.Errorf("%w: heartbeat of %s: address %v is not a host address", ErrMalformed, h.Host, a)
		}
	}
	if len(h.Jails) > MaxHeartbeatJails {
		return fmt.Errorf("%w: heartbeat of %s: %d jails, at most %d", ErrMalformed, h.Host, len(h.Jails), MaxHeartbeatJails)
	}
	for name, p := range h.Jails {
		switch {
		case !subject.ValidName(name):
			return fmt.Errorf("%w: heartbeat of %s: jail %q invalid", ErrMalformed, h.Host, name)
		case p.MaxRetry < 0 || p.MaxRetry > 1000:
			return fmt.Errorf("%w: heartbeat of %s: jail %s: maxretry %d out of range", ErrMalformed, h.Host, name, p.MaxRetry)
		case p.FindTime < 0 || p.FindTime > maxPolicySeconds || p.BanTime > maxPolicySeconds:
			return fmt.Errorf("%w: heartbeat of %s: jail %s: findtime or bantime out of range", ErrMalformed, h.Host, name)
		case len(p.Ports) > 1024:
			return fmt.Errorf("%w: heartbeat of %s: jail %s: too many ports", ErrMalformed, h.Host, name)
		case len(p.IgnoreIP) > MaxJailIgnore:
			return fmt.Errorf("%w: heartbeat of %s: jail %s: more than %d ignoreip entries", ErrMalformed, h.Host, name, MaxJailIgnore)
		}
		for _, ip := range p.IgnoreIP {
			if !ip.IsValid() || ip.Addr().Zone() != "" {
				return fmt.Errorf("%w: heartbeat of %s: jail %s: ignoreip %v invalid", ErrMalformed, h.Host, name, ip)
			}
		}
	}
	return nil
}

// Validate checks a firewall state's fields.
func (f *FirewallState) Validate() error {
	if !subject.ValidName(f.Host) {
		return fmt.Errorf("%w: firewall state host %q invalid", ErrMalformed, f.Host)
	}
	return nil
}

type validator interface{ Validate() error }

// Decode strictly decodes data into msg (a pointer to one of this package's
// messages) and validates it.
func Decode(data []byte, msg validator) error {
	limit := MaxMessage
	switch msg.(type) {
	case *Exempt, *Policy, *CoordStats:
		limit = MaxExemptMessage
	}
	if len(data) > limit {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(data), limit)
	}
	if o, ok := msg.(*Offence); ok {
		hasVersion, err := decodeOffence(data, o)
		if err == nil && !hasVersion {
			err = errNoVersion
		}
		if err == nil && o.V != Version {
			return fmt.Errorf("%w: %d", ErrVersion, o.V)
		}
		if err != nil {
			if v, ok := probeVersion(data); ok && v != Version {
				return fmt.Errorf("%w: %d", ErrVersion, v)
			}
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return o.Validate()
	}
	return decodeJSON(data, msg)
}

var errNoVersion = errors.New("no version field")

// decodeJSON is Decode with encoding/json, for every message but Offence.
func decodeJSON(data []byte, msg validator) error {
	// One strict pass; only a message that fails it is probed again, to
	// tell a version this build does not speak from a malformed one.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(msg); err != nil {
		if v, ok := probeVersion(data); ok && v != Version {
			return fmt.Errorf("%w: %d", ErrVersion, v)
		}
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if v := versionField(msg); v == nil || *v != Version {
		pv, ok := probeVersion(data)
		switch {
		case !ok:
			return fmt.Errorf("%w: no version field", ErrMalformed)
		case pv != Version:
			return fmt.Errorf("%w: %d", ErrVersion, pv)
		}
	}
	return msg.Validate()
}

// versionField returns the version field of one of this package's
// messages (nil for another type): one list of the messages for Encode and
// Decode.
func versionField(msg any) *int {
	switch m := msg.(type) {
	case *Offence:
		return &m.V
	case *Ban:
		return &m.V
	case *Heartbeat:
		return &m.V
	case *FirewallState:
		return &m.V
	case *Exempt:
		return &m.V
	case *Health:
		return &m.V
	case *Policy:
		return &m.V
	case *CoordStats:
		return &m.V
	}
	return nil
}

// probeVersion reads the "v" field of a message.
func probeVersion(data []byte) (int, bool) {
	var probe struct {
		V *int `json:"v"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.V == nil {
		return 0, false
	}
	return *probe.V, true
}

// Encode sets the version and marshals msg.
func Encode(msg any) ([]byte, error) {
	if v := versionField(msg); v != nil {
		*v = Version
	}
	return json.Marshal(msg)
}

// CutUser is CutLine for a user name: at most MaxUser bytes.
func CutUser(user string) string { return cut(strings.ToValidUTF8(user, "\uFFFD"), MaxUser) }

// CutLine returns line as valid UTF-8 (invalid bytes become U+FFFD, as
// JSON would make them) cut to MaxLine bytes without splitting a sequence,
// so that the offence still validates after encoding.
func CutLine(line []byte) string { return cut(strings.ToValidUTF8(string(line), "\uFFFD"), MaxLine) }

// cut cuts s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
