// Package netaddr holds address helpers both sides need: parsing the
// addresses an offence may name and matching address lists such as ignoreip.
package netaddr

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Canonical returns addr without an IPv4-in-IPv6 mapping, so that
// ::ffff:192.0.2.1 and 192.0.2.1 are the same ban.
func Canonical(addr netip.Addr) netip.Addr { return addr.Unmap().WithZone("") }

// ParsePrefix parses an address or a CIDR ("192.0.2.1", "10.0.0.0/8", "::1").
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		bits := p.Bits()
		if p.Addr().Is4In6() {
			if bits -= 96; bits < 0 {
				return netip.Prefix{}, fmt.Errorf("prefix %s: mapped IPv4 prefix shorter than /96", s)
			}
		}
		return netip.PrefixFrom(Canonical(p.Addr()), bits).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = Canonical(a)
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Set is a list of prefixes, safe for concurrent use; its contents can be
// replaced while it is read (the fleet's own addresses change as agents come
// and go).
type Set struct {
	mu       sync.RWMutex
	prefixes []netip.Prefix
}

// ParseSet parses a list of addresses and CIDRs; an error names the bad entry.
func ParseSet(list []string) (*Set, error) {
	s := &Set{}
	for i, e := range list {
		p, err := ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("entry %d %q: %w", i, e, err)
		}
		s.prefixes = append(s.prefixes, p)
	}
	return s, nil
}

// Contains reports whether addr is in the set.
func (s *Set) Contains(addr netip.Addr) bool {
	if s == nil {
		return false
	}
	addr = Canonical(addr)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Replace swaps the set's contents.
func (s *Set) Replace(prefixes []netip.Prefix) {
	s.mu.Lock()
	s.prefixes = prefixes
	s.mu.Unlock()
}

// Prefixes returns a copy of the set's contents.
func (s *Set) Prefixes() []netip.Prefix {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]netip.Prefix(nil), s.prefixes...)
}

// Never says why addr can never be banned, whatever a log, a host or an
// admin asks: it is no single remote host (unspecified, "this network",
// loopback, link-local, multicast, limited broadcast). It returns "" for an
// address that may be banned.
func Never(addr netip.Addr) string {
	addr = Canonical(addr)
	switch {
	case !addr.IsValid():
		return "not an address"
	case addr.IsUnspecified():
		return "unspecified address"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "multicast"
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	case addr.Is4() && addr.As4()[0] == 0:
		return `"this network" (0.0.0.0/8)`
	}
	return ""
}

// SortPrefixes sorts ps by address, then prefix length, and drops
// duplicates; it reuses ps.
func SortPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(ps)
}

// HostAddrs returns this machine's interface addresses that can identify
// it to others: not loopback, not link-local.
func HostAddrs() ([]netip.Addr, error) {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("interface addresses: %w", err)
	}
	var out []netip.Addr
	for _, ifa := range ifas {
		p, err := netip.ParsePrefix(ifa.String())
		if err != nil {
			continue
		}
		if ip := Canonical(p.Addr()); !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			out = append(out, ip)
		}
	}
	return out, nil
}

// URLHosts returns the host of each URL of a comma-separated list (as
// nats.url holds), skipping what does not parse.
func URLHosts(urls string) []string {
	var out []string
	for _, u := range strings.Split(urls, ",") {
		if pu, err := url.Parse(strings.TrimSpace(u)); err == nil && pu.Hostname() != "" {
			out = append(out, pu.Hostname())
		}
	}
	return out
}

// Resolve returns the addresses of hosts: a literal address as it is, a
// name looked up for at most timeout. A name that does not resolve is
// reported to unresolved and skipped.
func Resolve(ctx context.Context, hosts []string, timeout time.Duration, unresolved func(host string, err error)) []netip.Addr {
	var out []netip.Addr
	for _, h := range hosts {
		if ip, err := netip.ParseAddr(h); err == nil {
			out = append(out, Canonical(ip))
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", h)
		cancel()
		if err != nil {
			unresolved(h, err)
			continue
		}
		for _, ip := range ips {
			out = append(out, Canonical(ip))
		}
	}
	return out
}
