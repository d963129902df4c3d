// Package window is the sliding-window policy shared by the coordinator
// (fleet-wide counting) and an agent deciding alone while NATS is away:
// maxretry offences within findtime make a ban.
//
// It is pure: every call takes the current time, so tests need no sleeping.
// A tracked key keeps only its newest maxretry offence times (uint32 Unix
// seconds) and the ids of the hosts that reported them, in its map slot
// when maxretry is at most 5, so a tracked address costs tens of bytes and
// no allocation of its own.
package window

import (
	"net/netip"
	"time"
)

// Policy is when offences make a ban.
type Policy struct {
	MaxRetry int
	FindTime time.Duration
}

// Key identifies one counter: a jail, an address and, when offences are
// counted per host (Fail2Ban's behaviour), the host. Host is 0 for fleet-wide
// counting.
type Key struct {
	Addr [16]byte
	Jail uint16
	Host uint16
}

// MakeKey builds a key.
func MakeKey(jail uint16, addr netip.Addr, host uint16) Key {
	return Key{Addr: addr.As16(), Jail: jail, Host: host}
}

// inline is how many offences a window holds in its map slot: Fail2Ban's
// default maxretry. A window of a jail with a larger maxretry lives apart.
const inline = 5

// small is a window of at most inline offences, oldest first, stored in
// the map itself: no allocation of its own and no pointer for the
// collector to follow.
type small struct {
	times [inline]uint32
	hosts [inline]uint16
	n     uint8
}

// large is a window of more than inline offences, oldest first.
type large struct {
	times []uint32
	hosts []uint16
}

// Result is the state of a key after an offence was added.
type Result struct {
	Count int  // offences within findtime, the new one included
	Stale bool // the offence was older than findtime and was not counted
}

// Tracker holds windows for many keys: each keeps the newest maxretry
// offences. It is not safe for concurrent use.
type Tracker struct {
	// Small windows of IPv4 addresses (most of them) have a key of 8
	// bytes, not 20.
	small4 map[key4]small
	small  map[Key]small
	large  map[Key]*large
}

// key4 is a Key of an IPv4 address.
type key4 struct {
	addr       [4]byte
	jail, host uint16
}

// v4 returns k as a key4 when its address is IPv4.
func (k Key) v4() (key4, bool) {
	a := k.Addr
	if [12]byte(a[:12]) != [12]byte{10: 0xff, 11: 0xff} {
		return key4{}, false
	}
	return key4{addr: [4]byte(a[12:]), jail: k.Jail, host: k.Host}, true
}

func (tr *Tracker) getSmall(k Key) (small, bool) {
	if k4, ok := k.v4(); ok {
		w, ok := tr.small4[k4]
		return w, ok
	}
	w, ok := tr.small[k]
	return w, ok
}

func (tr *Tracker) putSmall(k Key, w small) {
	if k4, ok := k.v4(); ok {
		tr.small4[k4] = w
	} else {
		tr.small[k] = w
	}
}

func (tr *Tracker) deleteSmall(k Key) {
	if k4, ok := k.v4(); ok {
		delete(tr.small4, k4)
	} else {
		delete(tr.small, k)
	}
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{small4: make(map[key4]small), small: make(map[Key]small), large: make(map[Key]*large)}
}

func unix(t time.Time) uint32 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint32(s)
}

// Add records an offence seen at `at` by host and returns the count within
// findtime as of now. Times in the future are taken as now, so a host with a
// fast clock cannot stretch a window.
func (tr *Tracker) Add(k Key, host uint16, at, now time.Time, p Policy) Result {
	if at.After(now) {
		at = now
	}
	cut := unix(now.Add(-p.FindTime))
	ts := unix(at)
	if ts <= cut {
		return Result{Stale: true, Count: tr.count(k, cut)}
	}
	limit := max(p.MaxRetry, 1)
	if l, ok := tr.large[k]; ok {
		l.times, l.hosts = insert(l.times, l.hosts, limit, ts, host)
		return Result{Count: count(l.times, cut)}
	}
	w, ok := tr.getSmall(k)
	if limit > inline && (!ok || int(w.n) == inline) {
		// More than a map slot holds (a new key, or maxretry grew).
		l := &large{times: make([]uint32, w.n, limit), hosts: make([]uint16, w.n, limit)}
		copy(l.times, w.times[:w.n])
		copy(l.hosts, w.hosts[:w.n])
		tr.deleteSmall(k)
		tr.large[k] = l
		l.times, l.hosts = insert(l.times, l.hosts, limit, ts, host)
		return Result{Count: count(l.times, cut)}
	}
	times, hosts := insert(w.times[:w.n:inline], w.hosts[:w.n:inline], min(limit, inline), ts, host)
	copy(w.times[:], times)
	copy(w.hosts[:], hosts)
	w.n = uint8(len(times))
	tr.putSmall(k, w)
	return Result{Count: count(w.times[:w.n], cut)}
}

// insert adds an offence at ts by host to a window of at most limit
// offences, oldest first, dropping the oldest when it is full (or more
// than full: maxretry shrank), in place when the capacity allows.
func insert(times []uint32, hosts []uint16, limit int, ts uint32, host uint16) ([]uint32, []uint16) {
	if n := len(times); n > limit {
		times, hosts = times[n-limit:], hosts[n-limit:]
	}
	// Insert in time order (logs from several hosts arrive slightly out of order).
	i := len(times)
	for i > 0 && times[i-1] > ts {
		i--
	}
	if len(times) == limit {
		if i == 0 { // older than everything we keep: it cannot change the count of the newest maxretry
			return times, hosts
		}
		copy(times, times[1:i])
		copy(hosts, hosts[1:i])
		i--
	} else {
		times = append(times, 0)
		hosts = append(hosts, 0)
		copy(times[i+1:], times[i:])
		copy(hosts[i+1:], hosts[i:])
	}
	times[i], hosts[i] = ts, host
	return times, hosts
}

func count(times []uint32, cut uint32) int {
	n := 0
	for _, t := range times {
		if t > cut {
			n++
		}
	}
	return n
}

func (tr *Tracker) count(k Key, cut uint32) int {
	if w, ok := tr.getSmall(k); ok {
		return count(w.times[:w.n], cut)
	}
	if l, ok := tr.large[k]; ok {
		return count(l.times, cut)
	}
	return 0
}

// Hosts appends the distinct hosts of k's offences within findtime as of now
// to dst.
func (tr *Tracker) Hosts(dst []uint16, k Key, now time.Time, p Policy) []uint16 {
	cut := unix(now.Add(-p.FindTime))
	if w, ok := tr.getSmall(k); ok {
		return hostsOf(dst, w.times[:w.n], w.hosts[:w.n], cut)
	}
	if l, ok := tr.large[k]; ok {
		return hostsOf(dst, l.times, l.hosts, cut)
	}
	return dst
}

func hostsOf(dst []uint16, times []uint32, hosts []uint16, cut uint32) []uint16 {
next:
	for i, t := range times {
		if t <= cut {
			continue
		}
		for _, h := range dst {
			if h == hosts[i] {
				continue next
			}
		}
		dst = append(dst, hosts[i])
	}
	return dst
}

// Forget drops k's window, as after a ban.
func (tr *Tracker) Forget(k Key) {
	tr.deleteSmall(k)
	delete(tr.large, k)
}

// Len is the number of tracked keys.
func (tr *Tracker) Len() int { return len(tr.small4) + len(tr.small) + len(tr.large) }

// Sweep drops windows whose newest offence is older than their jail's
// findtime, and returns how many it dropped.
func (tr *Tracker) Sweep(now time.Time, findTime func(jail uint16) time.Duration) int {
	n := 0
	for k, w := range tr.small4 {
		if w.n == 0 || w.times[w.n-1] <= unix(now.Add(-findTime(k.jail))) {
			delete(tr.small4, k)
			n++
		}
	}
	for k, w := range tr.small {
		if w.n == 0 || w.times[w.n-1] <= unix(now.Add(-findTime(k.Jail))) {
			delete(tr.small, k)
			n++
		}
	}
	for k, l := range tr.large {
		if len(l.times) == 0 || l.times[len(l.times)-1] <= unix(now.Add(-findTime(k.Jail))) {
			delete(tr.large, k)
			n++
		}
	}
	return n
}

// HostCount is the number of host's offences in k's window within findtime
// as of now.
func (tr *Tracker) HostCount(k Key, host uint16, now time.Time, p Policy) int {
	cut := unix(now.Add(-p.FindTime))
	if w, ok := tr.getSmall(k); ok {
		return hostCount(w.times[:w.n], w.hosts[:w.n], host, cut)
	}
	if l, ok := tr.large[k]; ok {
		return hostCount(l.times, l.hosts, host, cut)
	}
	return 0
}

func hostCount(times []uint32, hosts []uint16, host uint16, cut uint32) int {
	n := 0
	for i, t := range times {
		if t > cut && hosts[i] == host {
			n++
		}
	}
	return n
}

// ForgetHost drops host's offences from k's window (after a ban on that
// host alone: the other hosts' evidence still counts).
func (tr *Tracker) ForgetHost(k Key, host uint16) {
	if w, ok := tr.getSmall(k); ok {
		if w.n = uint8(dropHost(w.times[:w.n], w.hosts[:w.n], host)); w.n == 0 {
			tr.deleteSmall(k)
		} else {
			tr.putSmall(k, w)
		}
		return
	}
	if l, ok := tr.large[k]; ok {
		j := dropHost(l.times, l.hosts, host)
		if l.times, l.hosts = l.times[:j], l.hosts[:j]; j == 0 {
			delete(tr.large, k)
		}
	}
}

// dropHost removes host's offences in place and returns how many are left.
func dropHost(times []uint32, hosts []uint16, host uint16) int {
	j := 0
	for i := range times {
		if hosts[i] != host {
			times[j], hosts[j] = times[i], hosts[i]
			j++
		}
	}
	return j
}
