package authlog

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
)

// Addresses come only from documentation ranges: 192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24 (RFC 5737) and 2001:db8::/32 (RFC 3849).
var (
	// ServerAddr4 and ServerAddr6 are the logging host's own addresses
	// (the firewall lines' DST).
	ServerAddr4 = netip.MustParseAddr("192.0.2.1")
	ServerAddr6 = netip.MustParseAddr("2001:db8::1")

	// Legitimate clients: 198.51.100.0/25 and 2001:db8:1::/48. They log in
	// and are never the source of a failure.
	legit = []netip.Addr{
		netip.MustParseAddr("198.51.100.7"),
		netip.MustParseAddr("198.51.100.23"),
		netip.MustParseAddr("198.51.100.42"),
		netip.MustParseAddr("198.51.100.77"),
		netip.MustParseAddr("2001:db8:1::7"),
		netip.MustParseAddr("2001:db8:1:4::1f"),
	}

	// Victims are the addresses attackers write into their user names and
	// identification strings: an address that never attacks (192.0.2.66)
	// and legitimate clients, the administrator's first. A filter that
	// bans one of them has been steered by the attacker.
	Victims = []netip.Addr{
		netip.MustParseAddr("192.0.2.66"),
		netip.MustParseAddr("198.51.100.7"),
		netip.MustParseAddr("2001:db8:1::7"),
	}
)

// attackers draws the source of each attacking connection: a handful of
// heavy hitters take 40 % of the connections (Zipf-weighted, so the first
// repeats a lot), the rest of the IPv4 documentation space (639 addresses)
// takes 35 %, and 25 % come from addresses seen about once: random IPv6
// addresses in 2001:db8:8000::/33, or IPv4 from the pool.
type attackers struct {
	heavy    []netip.Addr
	heavyCum []float64
	pool4    []netip.Addr
}

func newAttackers(r *rand.Rand) *attackers {
	a := &attackers{}
	for _, p := range []string{"192.0.2.", "203.0.113.", "198.51.100."} {
		lo := 1
		if p == "198.51.100." {
			lo = 128 // the lower half belongs to legitimate clients
		}
		for i := lo; i < 255; i++ {
			ip := netip.MustParseAddr(p + strconv.Itoa(i))
			if ip == ServerAddr4 || isVictim(ip) {
				continue
			}
			a.pool4 = append(a.pool4, ip)
		}
	}
	// Heavy hitters: eight IPv4 from the pool and three IPv6.
	perm := r.Perm(len(a.pool4))
	for _, i := range perm[:8] {
		a.heavy = append(a.heavy, a.pool4[i])
	}
	a.heavy = append(a.heavy,
		netip.MustParseAddr("2001:db8:bad:1::5"),
		netip.MustParseAddr("2001:db8:c0de::22"),
		netip.MustParseAddr("2001:db8:4f3a:9::1"),
	)
	r.Shuffle(len(a.heavy), func(i, j int) { a.heavy[i], a.heavy[j] = a.heavy[j], a.heavy[i] })
	sum := 0.0
	for i := range a.heavy {
		sum += 1 / math.Pow(float64(i+1), 1.1)
		a.heavyCum = append(a.heavyCum, sum)
	}
	for i := range a.heavyCum {
		a.heavyCum[i] /= sum
	}
	return a
}

func (a *attackers) next(r *rand.Rand) netip.Addr {
	switch x := r.Float64(); {
	case x < 0.40:
		u := r.Float64()
		for i, c := range a.heavyCum {
			if u < c {
				return a.heavy[i]
			}
		}
		return a.heavy[len(a.heavy)-1]
	case x < 0.75:
		return a.pool4[r.IntN(len(a.pool4))]
	case x < 0.95:
		return randomIPv6(r)
	default:
		return a.pool4[r.IntN(len(a.pool4))]
	}
}

// randomIPv6 returns an address in 2001:db8:8000::/33 shaped like real
// client addresses: SLAAC-like random interface ids, or short ones ("::1f").
func randomIPv6(r *rand.Rand) netip.Addr {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[4] = 0x80 | byte(r.IntN(128))
	b[5] = byte(r.IntN(256))
	if r.IntN(3) > 0 {
		b[6], b[7] = byte(r.IntN(256)), byte(r.IntN(256))
	}
	if r.IntN(2) == 0 {
		for i := 8; i < 16; i++ {
			b[i] = byte(r.IntN(256))
		}
	} else {
		b[14], b[15] = byte(r.IntN(2)), byte(1+r.IntN(255))
	}
	return netip.AddrFrom16(b)
}

func isVictim(ip netip.Addr) bool {
	for _, v := range Victims {
		if v == ip {
			return true
		}
	}
	return false
}
