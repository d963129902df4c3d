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

// banSet is the desired state: IPv4 bans in one addrTable per jail and
// kind (fleet or own), 12 bytes a slot (a Go map of uint64 keys takes 36
// MiB for a million bans, these about 18), IPv6 bans in a map by bkey.
// Slots of deleted bans stay allocated until their shard grows again or
// empties.
type banSet struct {
	v4 []*addrTable // by jail id*2 + own
	n4 int
	v6 map[bkey]bval
}

func newBanSet() banSet { return banSet{v6: map[bkey]bval{}} }

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

// table4 returns the table of k's jail and kind (nil if none and !make).
func (s *banSet) table4(k bkey, create bool) *addrTable {
	i := int(k.jail)*2 + b2i(k.own)
	if i >= len(s.v4) {
		if !create {
			return nil
		}
		s.v4 = append(s.v4, make([]*addrTable, i+1-len(s.v4))...)
	}
	if s.v4[i] == nil && create {
		s.v4[i] = &addrTable{}
	}
	return s.v4[i]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func addr4(k bkey) uint32 {
	return uint32(k.addr[12])<<24 | uint32(k.addr[13])<<16 | uint32(k.addr[14])<<8 | uint32(k.addr[15])
}

// packed reports whether k goes to an addrTable (any other key, IPv6 or
// one of the two addresses the tables reserve, goes to the map).
func packed(k bkey) bool { return k.v4 && addr4(k) > slotGone }

func (s *banSet) get(k bkey) (bval, bool) {
	if packed(k) {
		if t := s.table4(k, false); t != nil {
			return t.get(addr4(k))
		}
		return bval{}, false
	}
	v, ok := s.v6[k]
	return v, ok
}

func (s *banSet) set(k bkey, v bval) {
	if packed(k) {
		if s.table4(k, true).set(addr4(k), v) {
			s.n4++
		}
		return
	}
	s.v6[k] = v
}

func (s *banSet) del(k bkey) {
	if packed(k) {
		if t := s.table4(k, false); t != nil && t.del(addr4(k)) {
			s.n4--
		}
		return
	}
	delete(s.v6, k)
}

func (s *banSet) len() int { return s.n4 + len(s.v6) }

// all yields every ban; fn may delete the ban it is given (and no other).
func (s *banSet) all(fn func(bkey, bval) bool) {
	for i, t := range s.v4 {
		if t == nil {
			continue
		}
		jail, own := uint16(i/2), i%2 == 1
		stop := false
		t.all(func(a uint32, v bval) bool {
			k := bkey{addr: netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).As16(), jail: jail, v4: true, own: own}
			if !fn(k, v) {
				stop = true
			}
			return !stop
		})
		if stop {
			return
		}
	}
	for k, v := range s.v6 {
		if !fn(k, v) {
			return
		}
	}
}

// addrTable is a set of IPv4 addresses with a bval each: open addressing
// with linear probing in addrShards shards that grow one at a time (by
// about 1.6 times, so that slots stay 62-80% used and growing never holds
// two copies of the whole table), 12 bytes a slot. Address 0 marks an
// empty slot and 1 a deleted one (banSet keeps those two addresses, which
// are no single host anyway, in its map).
type addrTable struct {
	shards [addrShards]addrShard
}

const (
	addrShards = 64
	slotEmpty  = 0
	slotGone   = 1
)

type addrShard struct {
	addrs      []uint32
	vals       []bval
	used, gone int // live slots, deleted ones
}

// hash4 spreads an address: the top 6 bits pick the shard, the next 32 the
// first slot.
func hash4(a uint32) uint64 { return uint64(a) * 0x9E3779B97F4A7C15 }

func (t *addrTable) shard(h uint64) *addrShard { return &t.shards[h>>(64-6)] }

// find returns the slot of a in s, or -1.
func (s *addrShard) find(a uint32, h uint64) int {
	n := len(s.addrs)
	if n == 0 {
		return -1
	}
	i := int((h << 6 >> 32) * uint64(n) >> 32)
	for {
		switch s.addrs[i] {
		case a:
			return i
		case slotEmpty:
			return -1
		}
		if i++; i == n {
			i = 0
		}
	}
}

func (t *addrTable) get(a uint32) (bval, bool) {
	h := hash4(a)
	s := t.shard(h)
	if i := s.find(a, h); i >= 0 {
		return s.vals[i], true
	}
	return bval{}, false
}

// set stores v for a; it reports whether a is new.
func (t *addrTable) set(a uint32, v bval) bool {
	h := hash4(a)
	s := t.shard(h)
	if i := s.find(a, h); i >= 0 {
		s.vals[i] = v
		return false
	}
	if (s.used+s.gone+1)*5 > len(s.addrs)*4 {
		s.resize(max(8, (s.used+1)*8/5))
	}
	n := len(s.addrs)
	i := int((h << 6 >> 32) * uint64(n) >> 32)
	for s.addrs[i] > slotGone {
		if i++; i == n {
			i = 0
		}
	}
	if s.addrs[i] == slotGone {
		s.gone--
	}
	s.addrs[i], s.vals[i] = a, v
	s.used++
	return true
}

// del removes a; it reports whether it was there.
func (t *addrTable) del(a uint32) bool {
	h := hash4(a)
	s := t.shard(h)
	i := s.find(a, h)
	if i < 0 {
		return false
	}
	s.addrs[i], s.vals[i] = slotGone, bval{}
	s.used--
	s.gone++
	if s.used == 0 {
		// Nothing left: the slots go (not while the shard is walked:
		// all's loop reads the slices it started with).
		*s = addrShard{}
	}
	return true
}

// resize rehashes s into n slots.
func (s *addrShard) resize(n int) {
	old, oldVals := s.addrs, s.vals
	s.addrs, s.vals, s.gone = make([]uint32, n), make([]bval, n), 0
	for j, a := range old {
		if a <= slotGone {
			continue
		}
		i := int((hash4(a) << 6 >> 32) * uint64(n) >> 32)
		for s.addrs[i] != slotEmpty {
			if i++; i == n {
				i = 0
			}
		}
		s.addrs[i], s.vals[i] = a, oldVals[j]
	}
}

// all yields every address; fn may delete the one it is given.
func (t *addrTable) all(fn func(uint32, bval) bool) {
	for si := range t.shards {
		addrs, vals := t.shards[si].addrs, t.shards[si].vals
		for i, a := range addrs {
			if a > slotGone && !fn(a, vals[i]) {
				return
			}
		}
	}
}
