// Package decide turns offences from every host into bans: it counts, per
// jail and address, the offences within findtime across the fleet (or per
// host, where a jail's scope says so) and bans at maxretry. Addresses in
// ignoreip and the fleet's own addresses are never banned, and offences
// already punished by an earlier ban are not counted again.
//
// An Engine is pure logic: the caller passes the time, stores the bans and
// feeds the fleet's addresses in.
package decide

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/window"
	"github.com/banfleet/banfleet/shared/wire"
)

// Outcome is what an offence led to.
type Outcome int

const (
	Counted    Outcome = iota // counted, below maxretry (or below the jail's quorum)
	Banned                    // reached maxretry: a ban is returned
	Ignored                   // address in ignoreip (the coordinator's, the jail's, or the reporting host's own)
	Fleet                     // address of one of the fleet's own hosts
	Stale                     // older than findtime
	Punished                  // at or before the address's last ban in this jail
	Refused                   // a new jail beyond MaxJails
	Never                     // an address never banned (loopback, multicast, ...: netaddr.Never)
	Control                   // an address of the control plane (coordinators, NATS servers)
	Capped                    // over limits.offence_rate for this host and address
	BannedHost                // the reporting host's own evidence bans it there alone: a ban with Only is returned
)

// MaxJails bounds the jails an engine tracks: jail names come from messages.
const MaxJails = 1024

var outcomeNames = [...]string{"counted", "banned", "ignored", "fleet", "stale", "punished", "refused", "never", "control", "capped", "banned_host"}

func (o Outcome) String() string { return outcomeNames[o] }

// Engine decides bans. It is safe for concurrent use.
type Engine struct {
	cfg     *config.Coord
	by      string
	ignore  *netaddr.Set
	fleet   *netaddr.Set
	control *netaddr.Set

	mu         sync.Mutex
	reported   map[string]config.JailPolicy
	hostIgnore map[string]map[string]*netaddr.Set // host -> jail -> its own ignoreip
	// reportedIgnore is, per jail, the ignoreip most hosts list: it holds
	// whatever the jail's policy comes from.
	reportedIgnore map[string]*netaddr.Set
	// hostReports is what each host reports of its jails: the policy of a
	// ban on that host alone in a jail the fleet does not know.
	hostReports map[string]map[string]wire.JailPolicy
	// unknownJails counts, per host, the jails the fleet does not know that
	// the host named: each host has a budget (maxUnknownJails), so one
	// host cannot use up the jail table.
	unknownJails map[uint16]int
	tracker      *window.Tracker
	jails        map[string]uint16
	hosts        map[string]uint16
	hostName     []string
	punished     map[window.Key]uint32
	rate         map[rateKey]uint32 // offences this second
	rateSec      uint32
}

type rateKey struct {
	addr [16]byte
	host uint16
}

// New returns an engine for cfg; by names the deciding coordinator in bans.
func New(cfg *config.Coord, by string) *Engine {
	return (&Engine{
		cfg:      cfg,
		by:       by,
		ignore:   cfg.Ignore,
		fleet:    &netaddr.Set{},
		control:  &netaddr.Set{},
		tracker:  window.NewTracker(),
		jails:    map[string]uint16{},
		hosts:    map[string]uint16{},
		hostName: []string{""},
		punished: map[window.Key]uint32{},
		rate:     map[rateKey]uint32{},

		unknownJails: map[uint16]int{},
	}).internConfigured()
}

// internConfigured gives the coordinator's own jails their ids first.
func (e *Engine) internConfigured() *Engine {
	for name := range e.cfg.Jails {
		e.jailID(name)
	}
	return e
}

// Fleet is the set of the fleet's own addresses; the caller keeps it current.
func (e *Engine) Fleet() *netaddr.Set { return e.fleet }

// Control is the set of the control plane's addresses (coordinators, NATS
// servers); the caller keeps it current. They are never banned, not even
// by an admin with --force.
func (e *Engine) Control() *netaddr.Set { return e.control }

// jailID interns a jail name; 0 when MaxJails are tracked already.
func (e *Engine) jailID(j string) uint16 {
	id, ok := e.jails[j]
	if !ok {
		if len(e.jails) >= MaxJails {
			return 0
		}
		id = uint16(len(e.jails) + 1)
		e.jails[j] = id
	}
	return id
}

func (e *Engine) hostID(h string) uint16 {
	id, ok := e.hosts[h]
	if !ok {
		if len(e.hostName) == 1<<16-1 {
			return 0 // beyond 65534 hosts, extra hosts share id 0
		}
		id = uint16(len(e.hostName))
		e.hosts[h] = id
		e.hostName = append(e.hostName, h)
	}
	return id
}

// NeverBan says why addr may never be banned in jail ("" if it may be),
// and whether an admin may ban it anyway with --force (a fleet host's
// address, ignoreip; never the control plane or netaddr.Never's).
func (e *Engine) NeverBan(jail string, addr netip.Addr) (reason string, forceable bool) {
	return e.neverBan(jail, addr, true)
}

// NeverBanTrusted is NeverBan without what only the hosts' reports say (a
// jail's ignoreip most hosts list): what may lift a ban already made.
// Hosts' word may keep an address from being banned, never unban it.
func (e *Engine) NeverBanTrusted(jail string, addr netip.Addr) (reason string, forceable bool) {
	return e.neverBan(jail, addr, false)
}

func (e *Engine) neverBan(jail string, addr netip.Addr, reports bool) (reason string, forceable bool) {
	addr = netaddr.Canonical(addr)
	if r := netaddr.Never(addr); r != "" {
		return r, false
	}
	if e.control.Contains(addr) {
		return "an address of the control plane (a coordinator or NATS server)", false
	}
	if e.ignore.Contains(addr) {
		return "in the coordinator's ignoreip", true
	}
	e.mu.Lock()
	pol, _ := e.policy(jail)
	reported := e.reportedIgnore[jail]
	e.mu.Unlock()
	if pol.Ignore.Contains(addr) || reports && reported.Contains(addr) {
		return "in jail " + jail + "'s ignoreip", true
	}
	if e.fleet.Contains(addr) {
		return "an address of a fleet host", true
	}
	return "", false
}

// Offer counts one offence (already validated) and returns the outcome and,
// when it is Banned or BannedHost, the ban to store.
//
// Nothing one host says bans beyond what its evidence justifies: a fleet
// ban needs a jail the fleet knows (the coordinator's configuration, or most
// hosts report it) and offences from at least the jail's quorum of distinct
// hosts; otherwise a host whose own offences reach maxretry gets a ban for
// itself alone (Only), as Fail2Ban there would. One host's offences for one
// address count at most limits.offence_rate per second.
func (e *Engine) Offer(o *wire.Offence, now time.Time) (Outcome, *wire.Ban) {
	addr := netaddr.Canonical(o.Addr)
	if netaddr.Never(addr) != "" {
		return Never, nil
	}
	if e.control.Contains(addr) {
		return Control, nil
	}
	if e.ignore.Contains(addr) {
		return Ignored, nil
	}
	if e.fleet.Contains(addr) {
		return Fleet, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	pol, src := e.policy(o.Jail)
	if pol.Ignore.Contains(addr) || e.reportedIgnore[o.Jail].Contains(addr) || e.hostIgnore[o.Host][o.Jail].Contains(addr) {
		return Ignored, nil
	}
	host := e.hostID(o.Host)
	jail, known := e.jails[o.Jail]
	if !known {
		// A jail the fleet does not know yet: each host may bring a few.
		if src == "" && e.unknownJails[host] >= maxUnknownJails {
			return Refused, nil
		}
		if jail = e.jailID(o.Jail); jail == 0 {
			return Refused, nil
		}
		if src == "" {
			e.unknownJails[host]++
		}
	}
	if src == "" {
		// A jail the fleet does not know: its bans are this host's alone,
		// with the thresholds this host reports for it (within limits).
		if r, ok := e.hostReports[o.Host][o.Jail]; ok {
			pol = e.ownPolicy(r)
		}
	}
	wp := window.Policy{MaxRetry: pol.MaxRetry, FindTime: pol.FindTime}
	at := o.Time
	if at.After(now) {
		at = now
	}
	// The cap holds for live offences; a replay or a catch-up after an
	// outage brings old ones at once, and they are not a flood.
	if now.Sub(at) < 2*time.Second && e.capped(addr, host, now) {
		return Capped, nil
	}
	pk := window.MakeKey(jail, addr, 0)
	if last, ok := e.punished[pk]; ok && at.Unix() <= int64(last) {
		return Punished, nil
	}
	if last, ok := e.punished[window.MakeKey(jail, addr, host)]; ok && at.Unix() <= int64(last) {
		return Punished, nil // punished on this host alone
	}
	hk := window.MakeKey(jail, addr, host)
	k := pk
	if pol.Scope == "host" {
		k = hk
	}
	quorum := max(pol.Quorum, 1)
	// Where a host's own evidence may ban it alone (a jail the fleet does
	// not know, a quorum above one), the host's offences also have a
	// window of their own: the shared one keeps only the newest maxretry
	// of all hosts.
	own := k != hk && (src == "" || quorum > 1)
	var r window.Result
	if src != "" {
		if r = e.tracker.Add(k, host, at, now, wp); r.Stale {
			return Stale, nil
		}
	}
	if own {
		hr := e.tracker.Add(hk, host, at, now, wp)
		if hr.Stale {
			return Stale, nil
		}
		if src == "" || r.Count < pol.MaxRetry || len(e.tracker.Hosts(nil, k, now, wp)) < quorum {
			// Not the fleet's to ban (yet): this host's own evidence may
			// ban here alone, once its own offences reach maxretry.
			if hr.Count < pol.MaxRetry {
				return Counted, nil
			}
			e.tracker.Forget(hk)
			e.tracker.ForgetHost(k, host)
			e.punished[hk] = uint32(now.Unix())
			ban := e.ban(o.Jail, addr, pol, hr.Count, []string{o.Host}, now)
			ban.Only = o.Host
			return BannedHost, ban
		}
	}
	if r.Count < pol.MaxRetry {
		return Counted, nil
	}
	ids := e.tracker.Hosts(nil, k, now, wp)
	if len(ids) < quorum {
		return Counted, nil
	}
	var hosts []string
	for _, id := range ids {
		hosts = append(hosts, e.hostName[id])
	}
	e.tracker.Forget(k)
	for _, id := range ids {
		e.tracker.Forget(window.MakeKey(jail, addr, id))
	}
	e.punished[pk] = uint32(now.Unix())
	return Banned, e.ban(o.Jail, addr, pol, r.Count, hosts, now)
}

// maxUnknownJails is how many jails the fleet does not know one host may
// name (each takes a place in the jail table, which is bounded).
const maxUnknownJails = 32

// ownPolicy is the policy of a ban on one host alone in a jail the fleet
// does not know: what that host reports for it, over the defaults, within
// the coordinator's limits.
func (e *Engine) ownPolicy(r wire.JailPolicy) config.JailPolicy {
	p := e.cfg.Defaults
	if r.MaxRetry > 0 {
		p.MaxRetry = r.MaxRetry
	}
	if r.FindTime > 0 {
		p.FindTime = time.Duration(r.FindTime * float64(time.Second))
	}
	switch {
	case r.BanTime < 0:
		p.BanTime = -1
	case r.BanTime > 0:
		p.BanTime = time.Duration(r.BanTime * float64(time.Second))
	}
	if len(r.Ports) > 0 {
		p.Ports = r.Ports
	}
	bound(&p, e.cfg.Limits, e.cfg.NATS.Retention)
	return p
}

func (e *Engine) ban(jail string, addr netip.Addr, pol config.JailPolicy, count int, hosts []string, now time.Time) *wire.Ban {
	ban := &wire.Ban{
		Addr:    addr,
		Jail:    jail,
		Ports:   pol.Ports,
		Reason:  wire.Reason{Count: count, Hosts: hosts},
		Created: now,
		By:      e.by,
	}
	if pol.BanTime > 0 { // a negative bantime (Fail2Ban's -1) is permanent
		ban.Expires = now.Add(pol.BanTime)
	}
	return ban
}

// capped counts one offence of host for addr in the current second and
// reports whether it is over limits.offence_rate.
func (e *Engine) capped(addr netip.Addr, host uint16, now time.Time) bool {
	limit := e.cfg.Limits.OffenceRate
	if limit <= 0 {
		return false
	}
	sec := uint32(now.Unix())
	if sec > e.rateSec {
		if len(e.rate) > 1024 {
			e.rate = map[rateKey]uint32{} // a burst's room is not kept
		} else {
			clear(e.rate)
		}
		e.rateSec = sec
	}
	k := rateKey{addr: addr.As16(), host: host}
	n := e.rate[k] + 1
	e.rate[k] = n
	return n > uint32(limit)
}

// SetReports sets what each live host reports of its jails (Fail2Ban
// thresholds and ignoreip, from heartbeats), by host name. Nothing one host
// reports is obeyed alone: see Consensus. A host's own ignoreip still drops
// that host's offences for those addresses (its evidence only).
func (e *Engine) SetReports(reports map[string]map[string]wire.JailPolicy) {
	cons := Consensus(e.cfg.Defaults, e.cfg.Limits, e.cfg.NATS.Retention, reports)
	own := make(map[string]map[string]*netaddr.Set, len(reports))
	for host, jails := range reports {
		for jail, r := range jails {
			if len(r.IgnoreIP) == 0 {
				continue
			}
			if own[host] == nil {
				own[host] = map[string]*netaddr.Set{}
			}
			s := &netaddr.Set{}
			s.Replace(slices.Clone(r.IgnoreIP))
			own[host][jail] = s
		}
	}
	ign := make(map[string]*netaddr.Set, len(cons))
	for name, p := range cons {
		ign[name] = p.Ignore
		// The policy's own ignoreip is the defaults' (the coordinator's
		// word); what the hosts list is kept apart (reportedIgnore).
		p.Ignore, p.IgnoreIP = e.cfg.Defaults.Ignore, e.cfg.Defaults.IgnoreIP
		cons[name] = p
	}
	e.mu.Lock()
	e.reported = cons
	e.reportedIgnore = ign
	e.hostIgnore = own
	e.hostReports = reports
	// The fleet's jails get their ids first, whatever hosts send.
	for name := range cons {
		e.jailID(name)
	}
	e.mu.Unlock()
}

// Consensus turns what the live hosts report of their jails into policy,
// trusting no single host: a jail the coordinator's configuration does not
// name is known to the fleet only when more than half of the live hosts
// report it; its thresholds are the median of the reports, bounded by
// limits (maxretry at least MinMaxRetry, bantime at most MaxBanTime — a
// permanent report included — findtime at most the stream's retention);
// its ports are those more than half of its reporters agree on (else the
// defaults'); its ignoreip holds the prefixes more than half of the live
// hosts list for it. Jails fewer hosts report stay unknown: their bans are
// made for the reporting host alone.
func Consensus(defaults config.JailPolicy, limits config.Limits, retention time.Duration, reports map[string]map[string]wire.JailPolicy) map[string]config.JailPolicy {
	live := len(reports)
	byJail := map[string][]wire.JailPolicy{}
	for _, jails := range reports {
		for name, r := range jails {
			byJail[name] = append(byJail[name], r)
		}
	}
	out := map[string]config.JailPolicy{}
	for name, rs := range byJail {
		if 2*len(rs) <= live {
			continue
		}
		p := config.JailPolicy{Scope: defaults.Scope, Quorum: defaults.Quorum, Ignore: &netaddr.Set{}}
		// The median; where the reports split evenly, the milder side
		// (more retries, a shorter window, a shorter ban).
		p.MaxRetry = int(median(rs, func(r wire.JailPolicy) float64 { return float64(r.MaxRetry) }, float64(defaults.MaxRetry), true))
		p.FindTime = time.Duration(median(rs, func(r wire.JailPolicy) float64 { return r.FindTime }, defaults.FindTime.Seconds(), false) * float64(time.Second))
		bt := median(rs, func(r wire.JailPolicy) float64 {
			if r.BanTime < 0 {
				return math.Inf(1)
			}
			return r.BanTime
		}, defaults.BanTime.Seconds(), false)
		p.BanTime = time.Duration(min(bt, 1e9) * float64(time.Second))
		bound(&p, limits, retention)
		// Ports: the list most reporters agree on, if more than half do.
		p.Ports = defaults.Ports
		votes := map[string]int{}
		for _, r := range rs {
			votes[fmt.Sprint(r.Ports)]++
		}
		for _, r := range rs {
			if 2*votes[fmt.Sprint(r.Ports)] > len(rs) {
				p.Ports = slices.Sorted(slices.Values(r.Ports))
				break
			}
		}
		// ignoreip: the prefixes more than half of the live hosts list.
		count := map[netip.Prefix]int{}
		for _, r := range rs {
			for _, ip := range netaddr.SortPrefixes(slices.Clone(r.IgnoreIP)) {
				count[ip.Masked()]++
			}
		}
		var ign []netip.Prefix
		for ip, n := range count {
			if 2*n > live && !tooWide(ip) {
				ign = append(ign, ip)
			}
		}
		ign = netaddr.SortPrefixes(ign)
		p.Ignore.Replace(ign)
		out[name] = p
	}
	return out
}

// median returns the median of the reports' values, a zero value (not set)
// counting as def; of an even number, the upper middle value if upper,
// else the lower.
func median(rs []wire.JailPolicy, f func(wire.JailPolicy) float64, def float64, upper bool) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		if v[i] = f(r); v[i] == 0 {
			v[i] = def
		}
	}
	slices.Sort(v)
	if upper {
		return v[len(v)/2]
	}
	return v[(len(v)-1)/2]
}

// Floors of thresholds taken from hosts' reports: a report cannot make a
// window or a ban too short to mean anything.
const (
	minReportedFindTime = time.Minute
	minReportedBanTime  = time.Minute
)

// bound keeps thresholds taken from hosts' reports within the coordinator's
// limits.
func bound(p *config.JailPolicy, limits config.Limits, retention time.Duration) {
	if limits.MinMaxRetry > 0 {
		p.MaxRetry = max(p.MaxRetry, limits.MinMaxRetry)
	}
	p.MaxRetry = min(p.MaxRetry, 1000)
	p.FindTime = max(p.FindTime, minReportedFindTime)
	if retention > 0 {
		p.FindTime = min(p.FindTime, retention)
	}
	if p.BanTime < 0 {
		p.BanTime = limits.MaxBanTime
	}
	p.BanTime = max(p.BanTime, minReportedBanTime)
	if limits.MaxBanTime > 0 {
		p.BanTime = min(p.BanTime, limits.MaxBanTime)
	}
}

// tooWide reports whether an ignoreip prefix from hosts' reports is too wide
// to take on their word (shorter than /8 for IPv4, /32 for IPv6).
func tooWide(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() < 8
	}
	return p.Bits() < 32
}

// Policy returns the policy in force for jail, and where it comes from:
// "config" (the coordinator's jails), "hosts" (most live hosts report the
// jail: Consensus) or "" (the defaults: a jail the fleet does not know,
// banned on the reporting host alone).
func (e *Engine) Policy(jail string) (config.JailPolicy, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.policy(jail)
}

func (e *Engine) policy(jail string) (config.JailPolicy, string) {
	if p, ok := e.cfg.Jails[jail]; ok {
		return p, "config"
	}
	if p, ok := e.reported[jail]; ok {
		return p, "hosts"
	}
	return e.cfg.Defaults, ""
}

// Jails returns the jails the fleet knows (the coordinator's and those most
// hosts report) with their policy in force, and where it comes from.
func (e *Engine) Jails() map[string]wire.PolicyJail {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]wire.PolicyJail{}
	add := func(name string, p config.JailPolicy, src string) {
		pj := wire.PolicyJail{MaxRetry: p.MaxRetry, FindTime: p.FindTime.Seconds(), BanTime: p.BanTime.Seconds(), Quorum: p.Quorum, Ports: p.Ports, Source: src}
		if pj.BanTime < 0 {
			pj.BanTime = -1
		}
		pj.IgnoreIP = netaddr.SortPrefixes(append(p.Ignore.Prefixes(), e.reportedIgnore[name].Prefixes()...))
		out[name] = pj
	}
	for name, p := range e.reported {
		add(name, p, "hosts")
	}
	for name, p := range e.cfg.Jails {
		add(name, p, "config")
	}
	return out
}

// Remember records that addr was banned in jail at `at` (from the ban
// history at start, or a manual ban): offences up to then do not count.
func (e *Engine) Remember(jail string, addr netip.Addr, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pk := window.MakeKey(e.jailID(jail), netaddr.Canonical(addr), 0)
	if t := uint32(at.Unix()); t > e.punished[pk] {
		e.punished[pk] = t
	}
	// Counting starts afresh after a ban, per host too.
	for _, h := range e.hosts {
		e.tracker.Forget(window.MakeKey(pk.Jail, netaddr.Canonical(addr), h))
	}
	e.tracker.Forget(pk)
}

// Sweep drops windows and punishment records older than their jail's
// findtime; call it periodically. It returns the number of windows left.
func (e *Engine) Sweep(now time.Time) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make(map[uint16]string, len(e.jails))
	for n, id := range e.jails {
		names[id] = n
	}
	find := func(j uint16) time.Duration { p, _ := e.policy(names[j]); return p.FindTime }
	e.tracker.Sweep(now, find)
	for k, t := range e.punished {
		if int64(t) < now.Add(-find(k.Jail)).Unix() {
			delete(e.punished, k)
		}
	}
	return e.tracker.Len()
}
