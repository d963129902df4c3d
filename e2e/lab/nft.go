package lab

// The test side reads and writes nftables sets with google/nftables over a
// netlink socket opened inside the lab namespace: no nft process, and no
// dependence on the agent's own firewall code.

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

// SetEntry is one element of an nftables set of addresses.
type SetEntry struct {
	Addr    netip.Addr
	Timeout time.Duration // the element's own timeout; 0 when it has none
	Expires time.Duration // time left before the kernel removes it; 0 when it has no timeout
}

// SetElements returns the addresses in set of the inet table in the
// namespace of node ns, read from the kernel. It wraps ErrNoTable or
// ErrNoSet when they do not exist. Interval end markers are skipped.
func (l *Lab) SetElements(ns, table, set string) ([]netip.Addr, error) {
	entries, err := l.SetEntries(ns, table, set)
	if err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, 0, len(entries))
	for _, e := range entries {
		addrs = append(addrs, e.Addr)
	}
	return addrs, nil
}

// SetEntries is SetElements with each element's timeout and time left.
func (l *Lab) SetEntries(ns, table, set string) ([]SetEntry, error) {
	var entries []SetEntry
	err := l.withNftables(ns, func(c *nftables.Conn) error {
		s, err := findSet(c, table, set)
		if err != nil {
			return err
		}
		elems, err := c.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("list set %s in table inet %s: %w", set, table, err)
		}
		for _, e := range elems {
			if e.IntervalEnd {
				continue
			}
			addr, ok := netip.AddrFromSlice(e.Key)
			if !ok {
				continue // not an address set
			}
			entries = append(entries, SetEntry{Addr: addr, Timeout: e.Timeout, Expires: e.Expires})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ns, err)
	}
	return entries, nil
}

// AddElement adds addr to set of the inet table in the namespace of node
// ns, with an element timeout when timeout > 0 (the set must then have the
// timeout flag). Tests use it to plant a stale ban behind the agent's back.
func (l *Lab) AddElement(ns, table, set string, addr netip.Addr, timeout time.Duration) error {
	err := l.withNftables(ns, func(c *nftables.Conn) error {
		s, err := findSet(c, table, set)
		if err != nil {
			return err
		}
		if timeout > 0 && !s.HasTimeout {
			return fmt.Errorf("set %s in table inet %s has no timeout flag: cannot add %s with a timeout", set, table, addr)
		}
		elem := nftables.SetElement{Key: addr.Unmap().AsSlice(), Timeout: timeout}
		if err := c.SetAddElements(s, []nftables.SetElement{elem}); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("add %s to set %s in table inet %s: %w", addr, set, table, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", ns, err)
	}
	return nil
}

// withNftables gives fn a connection whose netlink sockets are opened in
// the namespace of node ns.
func (l *Lab) withNftables(ns string, fn func(*nftables.Conn) error) error {
	full, err := l.resolveNS(ns)
	if err != nil {
		return err
	}
	h, err := netns.GetFromPath(nsPath(full))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", full, err)
	}
	defer h.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", full, err)
	}
	return fn(c)
}

// findSet looks up the inet table and its set by name, so that a missing
// one is reported as ErrNoTable or ErrNoSet rather than a bare ENOENT.
func findSet(c *nftables.Conn, table, set string) (*nftables.Set, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list inet tables: %w", err)
	}
	var t *nftables.Table
	for _, x := range tables {
		if x.Name == table {
			t = x
			break
		}
	}
	if t == nil {
		return nil, fmt.Errorf("table inet %s: %w", table, ErrNoTable)
	}
	sets, err := c.GetSets(t)
	if err != nil {
		return nil, fmt.Errorf("list sets of table inet %s: %w", table, err)
	}
	for _, s := range sets {
		if s.Name == set {
			return s, nil
		}
	}
	return nil, fmt.Errorf("set %s in table inet %s: %w", set, table, ErrNoSet)
}

// SetReader reads one set again and again over a lasting netlink
// connection in a node's namespace: cheap enough to poll every few
// hundred microseconds (benchmarks). Close it when done.
type SetReader struct {
	c   *nftables.Conn
	h   netns.NsHandle
	set *nftables.Set
}

// NewSetReader opens a reader of set in the inet table of node ns; the set
// must exist.
func (l *Lab) NewSetReader(ns, table, set string) (*SetReader, error) {
	full, err := l.resolveNS(ns)
	if err != nil {
		return nil, err
	}
	h, err := netns.GetFromPath(nsPath(full))
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", full, err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(h)), nftables.AsLasting())
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("nftables in %s: %w", full, err)
	}
	s, err := findSet(c, table, set)
	if err != nil {
		_ = c.CloseLasting()
		h.Close()
		return nil, err
	}
	return &SetReader{c: c, h: h, set: s}, nil
}

// Has reports whether addr is in the set now.
func (r *SetReader) Has(addr netip.Addr) (bool, error) {
	elems, err := r.c.GetSetElements(r.set)
	if err != nil {
		return false, fmt.Errorf("list set %s: %w", r.set.Name, err)
	}
	want := addr.AsSlice()
	for _, e := range elems {
		if !e.IntervalEnd && string(e.Key) == string(want) {
			return true, nil
		}
	}
	return false, nil
}

// Close releases the connection.
func (r *SetReader) Close() error {
	err := r.c.CloseLasting()
	r.h.Close()
	return err
}
