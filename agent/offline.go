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

// Fail2Ban's defaults, for jails that set no threshold of their own.
const (
	defaultMaxRetry = 5
	defaultFindTime = 10 * time.Minute
	defaultBanTime  = 10 * time.Minute
	// permanentLocal is how long a local ban of a permanent jail lasts: the
	// fleet makes it permanent once it sees the offences.
	permanentLocal = 24 * time.Hour
)

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
}

func newOffline(cfg *config.Agent, started time.Time) *offline {
	o := &offline{after: cfg.Offline.After, jails: map[string]localJail{}, tr: window.NewTracker(), swept: started}
	o.unreachableSince.Store(started.UnixNano()) // not connected yet
	for i, name := range cfg.JailNames() {
		j := cfg.Jails[name]
		lj := localJail{id: uint16(i), ports: j.Ports,
			policy:  window.Policy{MaxRetry: j.MaxRetry, FindTime: j.FindTime},
			banTime: j.BanTime}
		if lj.policy.MaxRetry <= 0 {
			lj.policy.MaxRetry = defaultMaxRetry
		}
		if lj.policy.FindTime <= 0 {
			lj.policy.FindTime = defaultFindTime
		}
		switch {
		case lj.banTime == 0:
			lj.banTime = defaultBanTime
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

// offence counts one offence; when the jail's maxretry is reached and ban
// says the agent is on its own, it returns the ban to make (and forgets the
// address's window).
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
		o.swept = now
	}
	r := o.tr.Add(k, 0, at, now, lj.policy)
	if r.Stale || r.Count < lj.policy.MaxRetry || !ban() {
		return wire.Ban{}, false
	}
	o.tr.Forget(k)
	return wire.Ban{V: wire.Version, Addr: addr, Jail: jail, Ports: lj.ports,
		Reason:  wire.Reason{Count: r.Count, Hosts: []string{host}},
		Created: now, Expires: now.Add(lj.banTime), By: "agent:" + host + " (NATS unreachable)"}, true
}

func (o *offline) findTime(id uint16) time.Duration { return o.findTimes[id] }

// tracked is how many addresses are counted.
func (o *offline) tracked() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tr.Len()
}
