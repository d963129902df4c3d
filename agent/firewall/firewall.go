package firewall

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Entry is one banned address in one jail.
type Entry struct {
	Jail    string        // [A-Za-z0-9_-]{1,32}
	Addr    netip.Addr    // single IPv4 or IPv6 address (unmapped)
	Timeout time.Duration // remaining ban time; 0 = no timeout
}

// JailSpec says which traffic a jail's rule drops.
type JailSpec struct {
	Name  string
	Ports []uint16 // empty: all ports (and all protocols)
	Proto string   // "tcp" (default), "udp", or "all"
}

// Backend mirrors a ban list into a firewall.
//
// All methods are safe for concurrent use; they are serialised internally.
// Methods that talk to the kernel block for the duration of one netlink
// transaction (plus a dump of the sets for Reconcile and List).
type Backend interface {
	// Declare tells the backend a jail's ports before entries for it arrive. A jail seen
	// in Apply/Reconcile without a Declare gets a rule that drops all traffic from the address.
	// Valid specs are applied even when others are invalid; the invalid ones are
	// reported in the returned error (ErrInvalidSpec).
	Declare(specs ...JailSpec) error
	// Apply adds (or refreshes the timeout of) add and removes del, in one
	// transaction. Removing an element that is not there is not an error. An
	// entry that is in both add and del is added.
	Apply(add, del []Entry) error
	// Reconcile makes the kernel's sets hold exactly want: adds missing (and refreshes timeouts
	// of present ones), deletes stale, in one transaction. Returns how many were added and removed
	// (added counts elements that were not present before).
	Reconcile(want []Entry) (added, removed int, err error)
	// List returns what the kernel's sets hold now (Timeout = remaining time as
	// the kernel reports it), sorted by jail and address.
	List() ([]Entry, error)
	// Walk calls fn for each element the kernel's sets hold now (Timeout as
	// for List), set by set, in no particular order, without building the
	// whole list: it is how a large firewall is compared with the bucket.
	// While a set's hash table is resized under it, the kernel's dump may
	// repeat an element or miss one. fn runs with the backend locked: it
	// must not call the backend.
	Walk(fn func(Entry)) error
	// Close releases the netlink connection; it leaves the table in place (the kernel keeps expiring bans).
	Close() error
}

var (
	_ Backend = (*Nftables)(nil)
	_ Backend = (*None)(nil)
)

const (
	maxJailLen = 32

	protoTCP = "tcp"
	protoUDP = "udp"
	protoAll = "all"
)

// validJail reports whether name matches [A-Za-z0-9_-]{1,32}.
func validJail(name string) bool {
	if len(name) == 0 || len(name) > maxJailLen {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// family is an address family of a set.
type family uint8

const (
	v4 family = iota
	v6
)

func (f family) String() string {
	if f == v4 {
		return "v4"
	}
	return "v6"
}

func familyOf(a netip.Addr) family {
	if a.Is4() {
		return v4
	}
	return v6
}

// setKey names one kernel set: a jail and an address family.
type setKey struct {
	jail string
	fam  family
}

func (k setKey) setName() string { return k.jail + "_" + k.fam.String() }

func (k setKey) compare(o setKey) int {
	return cmp.Or(strings.Compare(k.jail, o.jail), cmp.Compare(k.fam, o.fam))
}

// parseSetName is the inverse of setKey.setName. It reports false for names
// banfleet does not use.
func parseSetName(name string) (setKey, bool) {
	jail, suffix, ok := cutLast(name, "_")
	if !ok || !validJail(jail) {
		return setKey{}, false
	}
	switch suffix {
	case "v4":
		return setKey{jail, v4}, true
	case "v6":
		return setKey{jail, v6}, true
	}
	return setKey{}, false
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// entryKey identifies an element regardless of its timeout.
type entryKey struct {
	jail string
	addr netip.Addr
}

func (e Entry) key() entryKey  { return entryKey{e.Jail, e.Addr} }
func (e Entry) setKey() setKey { return setKey{e.Jail, familyOf(e.Addr)} }
func compareEntries(a, b Entry) int {
	return cmp.Or(strings.Compare(a.Jail, b.Jail), a.Addr.Compare(b.Addr))
}

// normalizeEntry validates e and returns it in canonical form: the address
// unmapped and without zone.
func normalizeEntry(e Entry) (Entry, error) {
	if !validJail(e.Jail) {
		return Entry{}, fmt.Errorf("%w: jail %q: want 1-%d of [A-Za-z0-9_-]", ErrInvalidEntry, e.Jail, maxJailLen)
	}
	if !e.Addr.IsValid() {
		return Entry{}, fmt.Errorf("%w: jail %s: missing address", ErrInvalidEntry, e.Jail)
	}
	if e.Timeout < 0 {
		return Entry{}, fmt.Errorf("%w: jail %s addr %s: negative timeout %v", ErrInvalidEntry, e.Jail, e.Addr, e.Timeout)
	}
	e.Addr = e.Addr.Unmap().WithZone("")
	return e, nil
}

// longerBan reports whether timeout a bans for longer than b (0 is forever).
func longerBan(a, b time.Duration) bool {
	if a == 0 || b == 0 {
		return a == 0 && b != 0
	}
	return a > b
}

// normalizeEntries validates and canonicalises es and drops duplicates; of
// several entries for one jail and address the longest ban wins. The result
// is sorted.
func normalizeEntries(es []Entry) ([]Entry, error) {
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		n, err := normalizeEntry(e)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.SortFunc(out, compareEntries)
	// Compact keeping, per key, the entry with the longest ban.
	w := 0
	for i := range out {
		if w > 0 && out[w-1].key() == out[i].key() {
			if longerBan(out[i].Timeout, out[w-1].Timeout) {
				out[w-1] = out[i]
			}
			continue
		}
		out[w] = out[i]
		w++
	}
	return out[:w], nil
}

// applyEntries normalizes the arguments of Apply; an entry both added and
// deleted is added.
func applyEntries(add, del []Entry) ([]Entry, []Entry, error) {
	add, err := normalizeEntries(add)
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	del, err = normalizeEntries(del)
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	return add, subtract(del, add), nil
}

// subtract returns the entries of del whose key is not in add. Both must be
// normalized.
func subtract(del, add []Entry) []Entry {
	if len(add) == 0 || len(del) == 0 {
		return del
	}
	in := make(map[entryKey]struct{}, len(add))
	for _, e := range add {
		in[e.key()] = struct{}{}
	}
	out := make([]Entry, 0, len(del))
	for _, e := range del {
		if _, ok := in[e.key()]; !ok {
			out = append(out, e)
		}
	}
	return out
}

// diff compares the normalized want with have (what the kernel holds). It
// returns the stale entries of have (not in want) and how many entries of
// want are not in have.
func diff(want, have []Entry) (stale []Entry, missing int) {
	wantSet := make(map[entryKey]struct{}, len(want))
	for _, e := range want {
		wantSet[e.key()] = struct{}{}
	}
	haveSet := make(map[entryKey]struct{}, len(have))
	for _, e := range have {
		haveSet[e.key()] = struct{}{}
		if _, ok := wantSet[e.key()]; !ok {
			stale = append(stale, e)
		}
	}
	for _, e := range want {
		if _, ok := haveSet[e.key()]; !ok {
			missing++
		}
	}
	return stale, missing
}

// keepPresent returns the entries of del whose key is in have.
func keepPresent(del, have []Entry) []Entry {
	haveSet := make(map[entryKey]struct{}, len(have))
	for _, e := range have {
		haveSet[e.key()] = struct{}{}
	}
	out := make([]Entry, 0, len(del))
	for _, e := range del {
		if _, ok := haveSet[e.key()]; ok {
			out = append(out, e)
		}
	}
	return out
}

// groupBySet splits entries by kernel set, keeping their order.
func groupBySet(es []Entry) map[setKey][]Entry {
	m := make(map[setKey][]Entry)
	for _, e := range es {
		k := e.setKey()
		m[k] = append(m[k], e)
	}
	return m
}

// sortedKeys returns the keys of m in a stable order.
func sortedKeys[V any](m map[setKey]V) []setKey {
	keys := make([]setKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, setKey.compare)
	return keys
}

// chunk splits s into pieces of at most size elements.
func chunk[T any](s []T, size int) [][]T {
	if size <= 0 {
		panic("firewall: chunk size must be positive")
	}
	var out [][]T
	for len(s) > size {
		out = append(out, s[:size:size])
		s = s[size:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}

// normalizeSpec validates s and returns it in canonical form: proto set,
// ports sorted and unique.
func normalizeSpec(s JailSpec) (JailSpec, error) {
	if !validJail(s.Name) {
		return JailSpec{}, fmt.Errorf("%w: jail %q: want 1-%d of [A-Za-z0-9_-]", ErrInvalidSpec, s.Name, maxJailLen)
	}
	switch s.Proto {
	case "":
		s.Proto = protoTCP
	case protoTCP, protoUDP, protoAll:
	default:
		return JailSpec{}, fmt.Errorf("%w: jail %s: protocol %q: want tcp, udp or all", ErrInvalidSpec, s.Name, s.Proto)
	}
	ports := slices.Clone(s.Ports)
	slices.Sort(ports)
	ports = slices.Compact(ports)
	if len(ports) > 0 && ports[0] == 0 {
		return JailSpec{}, fmt.Errorf("%w: jail %s: port 0", ErrInvalidSpec, s.Name)
	}
	if len(ports) == 0 {
		ports = nil
	}
	s.Ports = ports
	return s, nil
}

// matchString describes what a spec's rule matches, for logs and rule comments.
func (s JailSpec) matchString() string {
	if len(s.Ports) == 0 {
		return "all"
	}
	ps := make([]string, len(s.Ports))
	for i, p := range s.Ports {
		ps[i] = strconv.Itoa(int(p))
	}
	return "proto=" + s.Proto + " ports=" + strings.Join(ps, ",")
}

func sortEntries(es []Entry) { slices.SortFunc(es, compareEntries) }
