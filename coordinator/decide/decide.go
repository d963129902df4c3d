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
	Counted  Outcome = iota // counted, below maxretry
	Banned                  // reached maxretry: a ban is returned
	Ignored                 // address in ignoreip
	Fleet                   // address of one of the fleet's own hosts
	Stale                   // older than findtime
	Punished                // at or before the address's last ban in this jail
	Refused                 // a new jail beyond MaxJails
)

// MaxJails bounds the jails an engine tracks: jail names come from messages.
const MaxJails = 1024

var outcomeNames = [...]string{"counted", "banned", "ignored", "fleet", "stale", "punished", "refused"}

func (o Outcome) String() string { return outcomeNames[o] }

// Engine decides bans. It is safe for concurrent use.
type Engine struct {
	cfg    *config.Coord
	by     string
	ignore *netaddr.Set
	fleet  *netaddr.Set

	mu       sync.Mutex
	reported map[string]config.JailPolicy
	tracker  *window.Tracker
	jails    map[string]uint16
	hosts    map[string]uint16
	hostName []string
	punished map[window.Key]uint32
}

// New returns an engine for cfg; by names the deciding coordinator in bans.
func New(cfg *config.Coord, by string) *Engine {
	return &Engine{
		cfg:      cfg,
		by:       by,
		ignore:   cfg.Ignore,
		fleet:    &netaddr.Set{},
		tracker:  window.NewTracker(),
		jails:    map[string]uint16{},
		hosts:    map[string]uint16{},
		hostName: []string{""},
		punished: map[window.Key]uint32{},
	}
}

// Fleet is the set of the fleet's own addresses; the caller keeps it current.
func (e *Engine) Fleet() *netaddr.Set { return e.fleet }

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

// Offer counts one offence (already validated) and returns the outcome and,
// when it is Banned, the ban to store.
func (e *Engine) Offer(o *wire.Offence, now time.Time) (Outcome, *wire.Ban) {
	addr := netaddr.Canonical(o.Addr)
	if e.ignore.Contains(addr) {
		return Ignored, nil
	}
	if e.fleet.Contains(addr) {
		return Fleet, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	pol := e.policy(o.Jail)
	wp := window.Policy{MaxRetry: pol.MaxRetry, FindTime: pol.FindTime}
	jail := e.jailID(o.Jail)
	if jail == 0 {
		return Refused, nil
	}
	host := e.hostID(o.Host)
	pk := window.MakeKey(jail, addr, 0)
	at := o.Time
	if at.After(now) {
		at = now
	}
	if last, ok := e.punished[pk]; ok && at.Unix() <= int64(last) {
		return Punished, nil
	}
	k := pk
	if pol.Scope == "host" {
		k = window.MakeKey(jail, addr, host)
	}
	r := e.tracker.Add(k, host, at, now, wp)
	if r.Stale {
		return Stale, nil
	}
	if r.Count < pol.MaxRetry {
		return Counted, nil
	}
	var hosts []string
	for _, id := range e.tracker.Hosts(nil, k, now, wp) {
		hosts = append(hosts, e.hostName[id])
	}
	e.tracker.Forget(k)
	e.punished[pk] = uint32(now.Unix())
	ban := &wire.Ban{
		Addr:    addr,
		Jail:    o.Jail,
		Ports:   pol.Ports,
		Reason:  wire.Reason{Count: r.Count, Hosts: hosts},
		Created: now,
		By:      e.by,
	}
	if pol.BanTime > 0 { // a negative bantime (Fail2Ban's -1) is permanent
		ban.Expires = now.Add(pol.BanTime)
	}
	return Banned, ban
}

// SetReported sets the jail policies the fleet's hosts report (Fail2Ban
// thresholds of their jails): they apply to jails the coordinator's own
// configuration does not name, over its defaults.
func (e *Engine) SetReported(p map[string]config.JailPolicy) {
	e.mu.Lock()
	e.reported = p
	e.mu.Unlock()
}

// MergeReported combines what several hosts report for the same jails into
// one policy per jail, over defaults: the strictest thresholds win (lowest
// maxretry, longest findtime and bantime, permanent over any), ports add up.
func MergeReported(defaults config.JailPolicy, reports []map[string]wire.JailPolicy) map[string]config.JailPolicy {
	out := map[string]config.JailPolicy{}
	for _, rep := range reports {
		for jail, r := range rep {
			p, seen := out[jail]
			if !seen {
				p = config.JailPolicy{Scope: defaults.Scope}
			}
			if r.MaxRetry > 0 && (p.MaxRetry == 0 || r.MaxRetry < p.MaxRetry) {
				p.MaxRetry = r.MaxRetry
			}
			if ft := time.Duration(r.FindTime * float64(time.Second)); ft > p.FindTime {
				p.FindTime = ft
			}
			switch bt := time.Duration(r.BanTime * float64(time.Second)); {
			case r.BanTime < 0 || p.BanTime < 0:
				p.BanTime = -1
			case bt > p.BanTime:
				p.BanTime = bt
			}
			for _, port := range r.Ports {
				if !slices.Contains(p.Ports, port) {
					p.Ports = append(p.Ports, port)
				}
			}
			out[jail] = p
		}
	}
	for jail, p := range out {
		if p.MaxRetry == 0 {
			p.MaxRetry = defaults.MaxRetry
		}
		if p.FindTime == 0 {
			p.FindTime = defaults.FindTime
		}
		if p.BanTime == 0 {
			p.BanTime = defaults.BanTime
		}
		slices.Sort(p.Ports)
		out[jail] = p
	}
	return out
}

// Policy returns the policy in force for jail.
func (e *Engine) Policy(jail string) config.JailPolicy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.policy(jail)
}

func (e *Engine) policy(jail string) config.JailPolicy {
	if p, ok := e.cfg.Jails[jail]; ok {
		return p
	}
	if p, ok := e.reported[jail]; ok {
		return p
	}
	return e.cfg.Defaults
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
	find := func(j uint16) time.Duration { return e.policy(names[j]).FindTime }
	e.tracker.Sweep(now, find)
	for k, t := range e.punished {
		if int64(t) < now.Add(-find(k.Jail)).Unix() {
			delete(e.punished, k)
		}
	}
	return e.tracker.Len()
}
