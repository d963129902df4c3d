package enforce

import (
	"net/netip"
	"time"

	"github.com/banfleet/banfleet/agent/firewall"
)

// bkey is a ban this host enforces, in 20 bytes: a fleet ban (bucket key
// "<jail>.<addr>") or one for this host alone ("<jail>.<addr>=<host>").
// The desired state (banSet) holds these, not wire.Ban: at a million bans
// the enforcer's memory is the maps', about 38 bytes an IPv4 ban.
type bkey struct {
	addr [16]byte // As16 of the canonical address
	jail uint16   // index in Enforcer.jailNames
	v4   bool
	own  bool // this host's own ban (wire.Ban.Only == Options.Host)
}

// bval is what enforcement needs of a ban besides its key.
type bval struct {
	exp  uint32 // expiry, Unix seconds rounded up; 0: never
	walk uint16 // the last walk of the kernel (generation) that found the ban's element, or during which it was written
	load uint16 // the last load of the bucket (generation) that saw the ban
}

// expUnix turns an expiry into bval.exp; a ban never ends early.
func expUnix(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return uint32(min(max(s, 1), 1<<32-1))
}

// jailID returns the id of jail, interning it; e.mu held.
func (e *Enforcer) jailID(jail string) uint16 {
	if id, ok := e.jailIDs[jail]; ok {
		return id
	}
	id := uint16(len(e.jailNames))
	e.jailIDs[jail] = id
	e.jailNames = append(e.jailNames, jail)
	return id
}

// keyOf returns the key of a ban of addr (canonical) in jail, interning the
// jail; e.mu held.
func (e *Enforcer) keyOf(jail string, addr netip.Addr, own bool) bkey {
	return bkey{addr: addr.As16(), jail: e.jailID(jail), v4: addr.Is4(), own: own}
}

// lookupKey is keyOf for a jail that may be unknown (then ok is false);
// e.mu held.
func (e *Enforcer) lookupKey(jail string, addr netip.Addr, own bool) (bkey, bool) {
	id, ok := e.jailIDs[jail]
	if !ok {
		return bkey{}, false
	}
	return bkey{addr: addr.As16(), jail: id, v4: addr.Is4(), own: own}, true
}

// addrOf returns k's address.
func (k bkey) addrOf() netip.Addr {
	a := netip.AddrFrom16(k.addr)
	if k.v4 {
		return a.Unmap()
	}
	return a
}

// firewallEntry returns the element of the ban (k, v) at now; false when the
// ban ends within a second (the bucket will say so); e.mu held.
func (e *Enforcer) firewallEntry(k bkey, v bval, now time.Time) (firewall.Entry, bool) {
	var timeout time.Duration
	if v.exp != 0 {
		timeout = time.Unix(int64(v.exp), 0).Sub(now)
		if timeout < time.Second {
			return firewall.Entry{}, false
		}
	}
	return firewall.Entry{Jail: e.jailNames[k.jail], Addr: k.addrOf(), Timeout: timeout}, true
}

// banSet is the desired state: IPv4 bans packed into a uint64 key (a Go
// map of 16-byte slots: 36 MiB for a million bans, against 63 MiB with
// bkey keys), IPv6 bans by bkey.
type banSet struct {
	v4 map[uint64]bval
	v6 map[bkey]bval
}

func newBanSet() banSet { return banSet{v4: map[uint64]bval{}, v6: map[bkey]bval{}} }

// pack4 is the key of an IPv4 ban: address, jail id, own.
func pack4(k bkey) uint64 {
	a := uint64(k.addr[12])<<24 | uint64(k.addr[13])<<16 | uint64(k.addr[14])<<8 | uint64(k.addr[15])
	u := a<<32 | uint64(k.jail)<<1
	if k.own {
		u |= 1
	}
	return u
}

func unpack4(u uint64) bkey {
	a := netip.AddrFrom4([4]byte{byte(u >> 56), byte(u >> 48), byte(u >> 40), byte(u >> 32)})
	return bkey{addr: a.As16(), jail: uint16(u >> 1), v4: true, own: u&1 == 1}
}

func (s banSet) get(k bkey) (bval, bool) {
	if k.v4 {
		v, ok := s.v4[pack4(k)]
		return v, ok
	}
	v, ok := s.v6[k]
	return v, ok
}

func (s banSet) set(k bkey, v bval) {
	if k.v4 {
		s.v4[pack4(k)] = v
		return
	}
	s.v6[k] = v
}

func (s banSet) del(k bkey) {
	if k.v4 {
		delete(s.v4, pack4(k))
		return
	}
	delete(s.v6, k)
}

func (s banSet) len() int { return len(s.v4) + len(s.v6) }

// all yields every ban; fn may delete the ban it is given.
func (s banSet) all(fn func(bkey, bval) bool) {
	for u, v := range s.v4 {
		if !fn(unpack4(u), v) {
			return
		}
	}
	for k, v := range s.v6 {
		if !fn(k, v) {
			return
		}
	}
}
