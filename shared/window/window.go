// Package window is the sliding-window policy shared by the coordinator
// (fleet-wide counting) and an agent deciding alone while NATS is away:
// maxretry offences within findtime make a ban.
//
// It is pure: every call takes the current time, so tests need no sleeping.
// A tracked key keeps only its newest maxretry offence times (uint32 Unix
// seconds) and the ids of the hosts that reported them, so a tracked address
// costs tens of bytes.
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

// window holds up to MaxRetry newest offences, oldest first.
type window struct {
	times []uint32
	hosts []uint16
}

// Result is the state of a key after an offence was added.
type Result struct {
	Count int  // offences within findtime, the new one included
	Stale bool // the offence was older than findtime and was not counted
}

// Tracker holds windows for many keys. It is not safe for concurrent use.
type Tracker struct {
	windows map[Key]*window
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{windows: make(map[Key]*window)} }

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
	w := tr.windows[k]
	if w == nil {
		max := p.MaxRetry
		if max < 1 {
			max = 1
		}
		w = &window{times: make([]uint32, 0, max), hosts: make([]uint16, 0, max)}
		tr.windows[k] = w
	}
	// Insert in time order (logs from several hosts arrive slightly out of order).
	i := len(w.times)
	for i > 0 && w.times[i-1] > ts {
		i--
	}
	if len(w.times) == cap(w.times) {
		if i == 0 { // older than everything we keep: it cannot change the count of the newest maxretry
			return Result{Count: tr.count(k, cut)}
		}
		copy(w.times, w.times[1:i])
		copy(w.hosts, w.hosts[1:i])
		i--
		w.times[i], w.hosts[i] = ts, host
	} else {
		w.times = append(w.times, 0)
		w.hosts = append(w.hosts, 0)
		copy(w.times[i+1:], w.times[i:])
		copy(w.hosts[i+1:], w.hosts[i:])
		w.times[i], w.hosts[i] = ts, host
	}
	return Result{Count: tr.count(k, cut)}
}

func (tr *Tracker) count(k Key, cut uint32) int {
	w := tr.windows[k]
	if w == nil {
		return 0
	}
	n := 0
	for _, t := range w.times {
		if t > cut {
			n++
		}
	}
	return n
}

// Hosts appends the distinct hosts of k's offences within findtime as of now
// to dst.
func (tr *Tracker) Hosts(dst []uint16, k Key, now time.Time, p Policy) []uint16 {
	w := tr.windows[k]
	if w == nil {
		return dst
	}
	cut := unix(now.Add(-p.FindTime))
next:
	for i, t := range w.times {
		if t <= cut {
			continue
		}
		for _, h := range dst {
			if h == w.hosts[i] {
				continue next
			}
		}
		dst = append(dst, w.hosts[i])
	}
	return dst
}

// Forget drops k's window, as after a ban.
func (tr *Tracker) Forget(k Key) { delete(tr.windows, k) }

// Len is the number of tracked keys.
func (tr *Tracker) Len() int { return len(tr.windows) }

// Sweep drops windows whose newest offence is older than their jail's
// findtime, and returns how many it dropped.
func (tr *Tracker) Sweep(now time.Time, findTime func(jail uint16) time.Duration) int {
	n := 0
	for k, w := range tr.windows {
		if len(w.times) == 0 || w.times[len(w.times)-1] <= unix(now.Add(-findTime(k.Jail))) {
			delete(tr.windows, k)
			n++
		}
	}
	return n
}

// HostCount is the number of host's offences in k's window within findtime
// as of now.
func (tr *Tracker) HostCount(k Key, host uint16, now time.Time, p Policy) int {
	w := tr.windows[k]
	if w == nil {
		return 0
	}
	cut := unix(now.Add(-p.FindTime))
	n := 0
	for i, t := range w.times {
		if t > cut && w.hosts[i] == host {
			n++
		}
	}
	return n
}

// ForgetHost drops host's offences from k's window (after a ban on that
// host alone: the other hosts' evidence still counts).
func (tr *Tracker) ForgetHost(k Key, host uint16) {
	w := tr.windows[k]
	if w == nil {
		return
	}
	j := 0
	for i := range w.times {
		if w.hosts[i] != host {
			w.times[j], w.hosts[j] = w.times[i], w.hosts[i]
			j++
		}
	}
	w.times, w.hosts = w.times[:j], w.hosts[:j]
	if j == 0 {
		delete(tr.windows, k)
	}
}
