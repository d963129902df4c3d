package agent

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/shared/window"
	"github.com/banfleet/banfleet/shared/wire"
)

// permanentLocal is how long a local ban of a permanent jail lasts: the
// fleet makes it permanent once it sees the offences.
const permanentLocal = 24 * time.Hour

// localJail is one jail's policy for local decisions.
type localJail struct {
	id      uint16
	policy  window.Policy
	banTime time.Duration
	ports   []uint16
}

// offline counts every jail's offences on this host, as Fail2Ban would on
// this host alone, and tells when NATS has been unreachable long enough for
// the agent to ban on its own.
type offline struct {
	after     time.Duration
	jails     map[string]localJail
	findTimes []time.Duration // by jail id, for sweeps

	// unreachableSince is when the connection to NATS was lost (Unix
	// nanoseconds; 0: connected).
	unreachableSince atomic.Int64

	mu    sync.Mutex
	tr    *window.Tracker
	swept time.Time
	// ripe are the addresses whose offences reached their jail's maxretry
	// while the agent was not (yet) on its own: banned by due once it is,
	// if the window still holds maxretry offences then.
	ripe map[window.Key]ripeAddr
}

// ripeAddr is an address that reached maxretry in a jail.
type ripeAddr struct {
	jail string
	addr netip.Addr
}

func newOffline(cfg *config.Agent, started time.Time) *offline {
	o := &offline{after: cfg.Offline.After, jails: map[string]localJail{}, tr: window.NewTracker(), swept: started, ripe: map[window.Key]ripeAddr{}}
	o.unreachableSince.Store(started.UnixNano()) // not connected yet
	for i, name := range cfg.JailNames() {
		j := cfg.Jails[name]
		lj := localJail{id: uint16(i), ports: j.Ports,
			policy:  window.Policy{MaxRetry: j.MaxRetry, FindTime: j.FindTime},
			banTime: j.BanTime}
		if lj.policy.MaxRetry <= 0 {
			lj.policy.MaxRetry = config.DefaultMaxRetry
		}
		if lj.policy.FindTime <= 0 {
			lj.policy.FindTime = config.DefaultFindTime
		}
		switch {
		case lj.banTime == 0:
			lj.banTime = config.DefaultBanTime
		case lj.banTime < 0:
			lj.banTime = permanentLocal
		}
		o.jails[name] = lj
		o.findTimes = append(o.findTimes, lj.policy.FindTime)
	}
	return o
}

// connected and disconnected follow the NATS connection.
func (o *offline) connected()               { o.unreachableSince.Store(0) }
func (o *offline) disconnected(t time.Time) { o.unreachableSince.CompareAndSwap(0, t.UnixNano()) }

// away reports whether NATS has been unreachable for at least after at
// now: no connection, or (failingSince, from the publisher) no offence
// stored.
func (o *offline) away(now time.Time, failingSince time.Time) bool {
	if s := o.unreachableSince.Load(); s != 0 && now.Sub(time.Unix(0, s)) >= o.after {
		return true
	}
	return !failingSince.IsZero() && now.Sub(failingSince) >= o.after
}

// offence counts one offence, seen at `at` (the log's time), whether NATS
// is reachable or not: the count of an outage's first seconds is there
// when the agent finds itself on its own. When the jail's maxretry is
// reached and ban says the agent is on its own, it returns the ban to make
// (and forgets the address's window); when ban says it is not, the address
// is kept for due.
func (o *offline) offence(jail string, addr netip.Addr, at, now time.Time, host string, ban func() bool) (wire.Ban, bool) {
	lj, ok := o.jails[jail]
	if !ok {
		return wire.Ban{}, false
	}
	k := window.MakeKey(lj.id, addr, 0)
	o.mu.Lock()
	defer o.mu.Unlock()
	if now.Sub(o.swept) >= time.Minute {
		o.tr.Sweep(now, o.findTime)
		for k, r := range o.ripe {
			if o.tr.HostCount(k, 0, now, o.jails[r.jail].policy) == 0 {
				delete(o.ripe, k)
			}
		}
		o.swept = now
	}
	r := o.tr.Add(k, 0, at, now, lj.policy)
	if r.Stale || r.Count < lj.policy.MaxRetry {
		return wire.Ban{}, false
	}
	if !ban() {
		o.ripe[k] = ripeAddr{jail: jail, addr: addr}
		return wire.Ban{}, false
	}
	delete(o.ripe, k)
	o.tr.Forget(k)
	return lj.ban(jail, addr, r.Count, now, host), true
}

// due returns the bans of the addresses that reached their jail's maxretry
// before the agent found itself on its own and still have maxretry
// offences within findtime at now, and forgets their windows. The agent
// calls it while NATS is away. skip, when it reports true, drops an
// address (an exemption learnt since it was counted).
func (o *offline) due(now time.Time, host string, skip func(jail string, addr netip.Addr) bool) []wire.Ban {
	o.mu.Lock()
	defer o.mu.Unlock()
	var bans []wire.Ban
	for k, r := range o.ripe {
		delete(o.ripe, k)
		lj := o.jails[r.jail]
		n := o.tr.HostCount(k, 0, now, lj.policy)
		if n < lj.policy.MaxRetry || skip(r.jail, r.addr) {
			continue
		}
		o.tr.Forget(k)
		bans = append(bans, lj.ban(r.jail, r.addr, n, now, host))
	}
	return bans
}

// ban is the local ban of addr in the jail, made at now.
func (lj localJail) ban(jail string, addr netip.Addr, count int, now time.Time, host string) wire.Ban {
	return wire.Ban{V: wire.Version, Addr: addr, Jail: jail, Ports: lj.ports,
		Reason:  wire.Reason{Count: count, Hosts: []string{host}},
		Created: now, Expires: now.Add(lj.banTime), By: "agent:" + host + " (NATS unreachable)"}
}

func (o *offline) findTime(id uint16) time.Duration { return o.findTimes[id] }

// tracked is how many addresses are counted.
func (o *offline) tracked() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tr.Len()
}
