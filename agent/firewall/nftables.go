package firewall

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

const (
	defaultTable  = "banfleet"
	chainName     = "input"
	chainPriority = -10

	// sockBufSize is the netlink socket buffer size we ask for. The kernel
	// doubles it, and one batch must fit in the send buffer as a whole:
	// 100k IPv6 elements take about 4 MiB.
	sockBufSize = 8 << 20

	// maxAttempts bounds the retries of a transaction that failed with
	// ENOENT (an element to delete expired meanwhile, or someone deleted a
	// set or the table behind our back).
	maxAttempts = 4
)

// Elements per SetAddElements/SetDeleteElements call: as many as one
// netlink message carries. All elements of a call go into one netlink
// attribute, whose length (its 4-byte header included) is 16 bits; the
// library silently truncates longer ones. With its timeout an element
// takes 28 bytes (IPv4) or 40 bytes (IPv6).
const (
	chunkV4 = (1<<16 - 1 - 4) / 28 // 2340: 65 520 bytes
	chunkV6 = (1<<16 - 1 - 4) / 40 // 1638: 65 520 bytes
)

func chunkSize(f family) int {
	if f == v4 {
		return chunkV4
	}
	return chunkV6
}

// NftOptions configures NewNftables.
type NftOptions struct {
	Table  string       // default "banfleet" (family inet)
	NetNS  int          // optional netns fd; 0 = the calling process's namespace (what the daemon uses)
	Logger *slog.Logger // default: discard
}

// Nftables is the Backend that programs the kernel's nftables through
// netlink. See the package documentation for the kernel layout.
type Nftables struct {
	mu     sync.Mutex
	log    *slog.Logger
	netns  int
	conn   *nftables.Conn // nil after a failed redial; see connection
	table  *nftables.Table
	chain  *nftables.Chain
	specs  map[string]JailSpec // declared jails, normalized
	sets   map[setKey]*kernelSet
	stale  bool   // sets must be re-read before the next transaction
	lastID uint32 // set IDs handed out, unique within a batch
	closed bool
	// elems writes transactions that only change elements (the common
	// case) when direct is set (by NewNftables: a kernel is there).
	elems  elementWriter
	direct bool

	flushes int // transactions sent, for tests
}

// kernelSet is what the kernel has for one of our sets, as last read.
type kernelSet struct {
	rules []*nftables.Rule // rules of our chain that look the set up
}

// NewNftables connects to nftables and creates the table and its input chain
// if they are missing. It is idempotent and never flushes or deletes
// anything, in its table or elsewhere.
func NewNftables(opts NftOptions) (*Nftables, error) {
	if opts.Table == "" {
		opts.Table = defaultTable
	}
	if len(opts.Table) > 255 || strings.ContainsRune(opts.Table, 0) {
		return nil, fmt.Errorf("%w: table name %q", ErrInvalidOptions, opts.Table)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	table := &nftables.Table{Name: opts.Table, Family: nftables.TableFamilyINet}
	accept := nftables.ChainPolicyAccept
	n := &Nftables{
		log:   opts.Logger.With("table", "inet "+opts.Table),
		netns: opts.NetNS,
		table: table,
		chain: &nftables.Chain{
			Name:     chainName,
			Table:    table,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookInput,
			Priority: nftables.ChainPriorityRef(chainPriority),
			Policy:   &accept,
		},
		specs:  make(map[string]JailSpec),
		stale:  true,
		direct: true,
	}
	conn, err := n.dial()
	if err != nil {
		return nil, err
	}
	n.conn = conn
	if err := n.ensureBase(); err != nil {
		_ = conn.CloseLasting()
		return nil, err
	}
	if err := n.load(); err != nil {
		_ = conn.CloseLasting()
		return nil, err
	}
	n.log.Info("nftables backend ready", "sets", len(n.sets))
	return n, nil
}

func (n *Nftables) dial() (*nftables.Conn, error) {
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(tuneSocket)}
	if n.netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(n.netns))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink connection: %w", err)
	}
	return c, nil
}

// tuneSocket makes error acks carry only the failed message's header (not
// the whole, up to 64 KiB, message), enlarges the socket buffers so that a
// batch of 100k elements fits in one send, and primes the dump size (see
// primeDumpSize). It forces the buffer sizes past net.core.[rw]mem_max,
// which needs CAP_NET_ADMIN (which nftables needs anyway), and falls back to
// the capped sizes. On error it closes c, which the nftables package would
// leak.
func tuneSocket(c *netlink.Conn) (err error) {
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	if err := c.SetOption(netlink.CapAcknowledge, true); err != nil {
		return fmt.Errorf("set NETLINK_CAP_ACK: %w", err)
	}
	if err := setSockBuf(c, unix.SO_SNDBUFFORCE, c.SetWriteBuffer); err != nil {
		return fmt.Errorf("set netlink send buffer: %w", err)
	}
	if err := setSockBuf(c, unix.SO_RCVBUFFORCE, c.SetReadBuffer); err != nil {
		return fmt.Errorf("set netlink receive buffer: %w", err)
	}
	if err := primeDumpSize(c); err != nil {
		return fmt.Errorf("prime netlink dump size: %w", err)
	}
	return nil
}

// primeDumpSize makes the kernel fill dump messages up to 32 KiB instead of
// one page. The kernel sizes a dump's messages by the largest buffer the
// socket has received into, and the netlink package receives into one page.
// Dumping a set element walks the set from the start for every message, so
// bigger messages make listing 100k elements several times faster. One
// reply received into a 32 KiB buffer is enough.
func primeDumpSize(c *netlink.Conn) error {
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
			Flags: netlink.Request,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	}
	if _, err := c.Send(req); err != nil {
		return err
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		_, _, _, _, rerr = unix.Recvmsg(int(fd), buf, nil, unix.MSG_DONTWAIT)
		return rerr != unix.EAGAIN
	}); err != nil {
		return err
	}
	return rerr
}

func setSockBuf(c *netlink.Conn, forceOpt int, fallback func(int) error) error {
	if rc, err := c.SyscallConn(); err == nil {
		var serr error
		cerr := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, forceOpt, sockBufSize)
		})
		if cerr == nil && serr == nil {
			return nil
		}
	}
	return fallback(sockBufSize)
}

// connection returns the netlink connection, redialling after a reset.
func (n *Nftables) connection() (*nftables.Conn, error) {
	if n.closed {
		return nil, ErrClosed
	}
	if n.conn == nil {
		c, err := n.dial()
		if err != nil {
			return nil, err
		}
		n.conn = c
	}
	return n.conn, nil
}

// reset drops the connection after an error that may have left unread acks
// in the socket or a sticky encoding error in the library's Conn.
func (n *Nftables) reset() {
	n.stale = true
	if n.conn != nil {
		_ = n.conn.CloseLasting()
		n.conn = nil
	}
}

// ensureBase creates the table and chain if they are missing, in its own
// transaction.
func (n *Nftables) ensureBase() error {
	c, err := n.connection()
	if err != nil {
		return err
	}
	c.AddTable(n.table)
	c.AddChain(n.chain)
	n.flushes++
	if err := c.Flush(); err != nil {
		n.reset()
		return fmt.Errorf("create table inet %s and chain %s: %w", n.table.Name, n.chain.Name, err)
	}
	return nil
}

// load re-reads our sets and the rules of our chain.
func (n *Nftables) load() error {
	c, err := n.connection()
	if err != nil {
		return err
	}
	sets, err := c.GetSets(n.table)
	if err != nil {
		// The library drops the errno here; the likely cause is that the
		// table was deleted behind our back. Recreate it and try again.
		if berr := n.ensureBase(); berr != nil {
			return fmt.Errorf("list sets: %v; %w", err, berr)
		}
		if c, err = n.connection(); err != nil {
			return err
		}
		if sets, err = c.GetSets(n.table); err != nil {
			return fmt.Errorf("list sets of table inet %s: %w", n.table.Name, err)
		}
	}
	rules, err := c.GetRules(n.table, n.chain)
	if err != nil {
		if berr := n.ensureBase(); berr != nil {
			return fmt.Errorf("list rules: %v; %w", err, berr)
		}
		if c, err = n.connection(); err != nil {
			return err
		}
		if rules, err = c.GetRules(n.table, n.chain); err != nil {
			return fmt.Errorf("list rules of chain %s: %w", n.chain.Name, err)
		}
	}
	m := make(map[setKey]*kernelSet, len(sets))
	for _, s := range sets {
		if s.Anonymous {
			continue
		}
		k, ok := parseSetName(s.Name)
		if !ok {
			n.log.Debug("ignoring set with a foreign name", "set", s.Name)
			continue
		}
		if err := checkSet(s, k); err != nil {
			return err
		}
		m[k] = &kernelSet{}
	}
	for _, r := range rules {
		k, ok := parseSetName(ruleSetName(r))
		if !ok {
			continue
		}
		if ks := m[k]; ks != nil {
			ks.rules = append(ks.rules, r)
		}
	}
	n.sets = m
	n.stale = false
	return nil
}

// checkSet reports ErrIncompatibleSet if s, named like our set k, cannot
// hold k's elements.
func checkSet(s *nftables.Set, k setKey) error {
	want := keyType(k.fam)
	if s.KeyType.Name != want.Name || s.KeyType.Bytes != want.Bytes || !s.HasTimeout || s.IsMap || s.Interval {
		return fmt.Errorf("%w: set %s has type %s (timeout flag %t, map %t, interval %t), want %s with timeout flag",
			ErrIncompatibleSet, s.Name, s.KeyType.Name, s.HasTimeout, s.IsMap, s.Interval, want.Name)
	}
	return nil
}

func keyType(f family) nftables.SetDatatype {
	if f == v4 {
		return nftables.TypeIPAddr
	}
	return nftables.TypeIP6Addr
}

func (n *Nftables) allocID() uint32 {
	n.lastID++
	if n.lastID == 0 {
		n.lastID++
	}
	return n.lastID
}

// setRef names our set k for element and rule messages.
func (n *Nftables) setRef(k setKey) *nftables.Set {
	return &nftables.Set{
		Table:        n.table,
		Name:         k.setName(),
		KeyType:      keyType(k.fam),
		KeyByteOrder: binaryutil.BigEndian,
		HasTimeout:   true,
	}
}

// readElements dumps the elements of the given sets (those that exist).
func (n *Nftables) readElements(keys []setKey) ([]Entry, error) {
	var out []Entry
	for _, k := range keys {
		if n.sets[k] == nil {
			continue
		}
		es, err := n.readSet(k)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// readSet dumps one set. A dump is not atomic: the kernel walks the set's
// hash table again for every netlink message, skipping what it already sent,
// so when the table is resized meanwhile (it shrinks and grows by itself
// after many deletions or additions) the dump repeats some elements and
// misses others. readSet repeats a dump that contains duplicates, giving the
// resize time to finish.
func (n *Nftables) readSet(k setKey) ([]Entry, error) {
	c, err := n.connection()
	if err != nil {
		return nil, err
	}
	// How long to wait before each dump.
	waits := [...]time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond}
	var out []Entry
	for attempt, wait := range waits {
		time.Sleep(wait)
		elems, err := c.GetSetElements(n.setRef(k))
		if err != nil {
			n.stale = true
			return nil, fmt.Errorf("list elements of set %s: %w", k.setName(), err)
		}
		out = make([]Entry, 0, len(elems))
		seen := make(map[netip.Addr]struct{}, len(elems))
		dups := 0
		for _, el := range elems {
			e, ok := entryFromElement(k, el)
			if !ok {
				n.log.Warn("ignoring malformed set element", "set", k.setName(), "key", el.Key)
				continue
			}
			if _, dup := seen[e.Addr]; dup {
				dups++
				continue
			}
			seen[e.Addr] = struct{}{}
			out = append(out, e)
		}
		if dups == 0 {
			return out, nil
		}
		n.log.Debug("inconsistent set dump, repeating", "set", k.setName(), "duplicates", dups, "attempt", attempt+1)
	}
	n.log.Warn("set dump still inconsistent, using it anyway", "set", k.setName(), "attempts", len(waits))
	return out, nil
}

func entryFromElement(k setKey, el nftables.SetElement) (Entry, bool) {
	if el.IntervalEnd {
		return Entry{}, false
	}
	var addr netip.Addr
	switch {
	case k.fam == v4 && len(el.Key) == 4:
		addr = netip.AddrFrom4([4]byte(el.Key))
	case k.fam == v6 && len(el.Key) == 16:
		addr = netip.AddrFrom16([16]byte(el.Key))
	default:
		return Entry{}, false
	}
	t := el.Expires
	if el.Timeout > 0 && t <= 0 {
		// Less than a millisecond left; do not report it as permanent.
		t = time.Millisecond
	}
	return Entry{Jail: k.jail, Addr: addr, Timeout: t}, true
}

// kernelTimeout rounds d up to the kernel's millisecond resolution, so that a
// sub-millisecond ban does not become a permanent one.
func kernelTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d
}

func toElements(es []Entry, withTimeout bool) []nftables.SetElement {
	out := make([]nftables.SetElement, len(es))
	for i, e := range es {
		var key []byte
		if e.Addr.Is4() {
			a := e.Addr.As4()
			key = a[:]
		} else {
			a := e.Addr.As16()
			key = a[:]
		}
		out[i] = nftables.SetElement{Key: key}
		if withTimeout {
			out[i].Timeout = kernelTimeout(e.Timeout)
		}
	}
	return out
}

// plan is one transaction, computed from the kernel state as last read.
type plan struct {
	create []setKey // sets to create, each with its rule
	fix    []setKey // existing sets whose rules are replaced
	add    map[setKey][]Entry
	del    map[setKey][]Entry
}

func (p *plan) empty() bool {
	return len(p.create) == 0 && len(p.fix) == 0 && len(p.add) == 0 && len(p.del) == 0
}

func (p *plan) changesRules() bool { return len(p.create) > 0 || len(p.fix) > 0 }

// specFor returns the declared spec of jail, or the drop-everything spec.
func specFor(specs map[string]JailSpec, jail string) JailSpec {
	if s, ok := specs[jail]; ok {
		return s
	}
	return JailSpec{Name: jail, Proto: protoTCP}
}

// makePlan computes the transaction that adds add and deletes del (both
// normalized) given the kernel's sets. Deletions from sets that do not exist
// are dropped. Sets for add are created if missing, and the rules of every
// set that gets elements or belongs to a declared jail are replaced when they
// do not match the jail's spec.
func makePlan(sets map[setKey]*kernelSet, specs map[string]JailSpec, add, del []Entry) *plan {
	p := &plan{add: groupBySet(add), del: make(map[setKey][]Entry)}
	for k, es := range groupBySet(del) {
		if sets[k] != nil {
			p.del[k] = es
		}
	}
	check := make(map[setKey]bool)
	for k := range p.add {
		check[k] = true
	}
	for jail := range specs {
		for _, f := range []family{v4, v6} {
			if k := (setKey{jail, f}); sets[k] != nil {
				check[k] = true
			}
		}
	}
	for _, k := range sortedKeys(check) {
		ks := sets[k]
		if ks == nil {
			p.create = append(p.create, k)
			continue
		}
		want := ruleComment(k, specFor(specs, k.jail))
		if len(ks.rules) != 1 || ruleCommentOf(ks.rules[0]) != want {
			p.fix = append(p.fix, k)
		}
	}
	return p
}

// encode queues p on c.
func (n *Nftables) encode(c *nftables.Conn, p *plan) error {
	c.AddTable(n.table)
	c.AddChain(n.chain)
	for _, k := range p.fix {
		for _, r := range n.sets[k].rules {
			if err := c.DelRule(&nftables.Rule{Table: n.table, Chain: n.chain, Handle: r.Handle}); err != nil {
				return fmt.Errorf("delete rule %d of set %s: %w", r.Handle, k.setName(), err)
			}
		}
	}
	refs := make(map[setKey]*nftables.Set)
	for _, k := range p.create {
		s := n.setRef(k)
		s.ID = n.allocID()
		if err := c.AddSet(s, nil); err != nil {
			return fmt.Errorf("add set %s: %w", k.setName(), err)
		}
		refs[k] = s
	}
	for _, k := range append(append([]setKey(nil), p.create...), p.fix...) {
		s := refs[k]
		if s == nil {
			s = n.setRef(k)
		}
		spec := specFor(n.specs, k.jail)
		rule, anons := ruleFor(n.table, n.chain, k, spec, s, n.allocID)
		for _, a := range anons {
			if err := c.AddSet(a.set, a.elems); err != nil {
				return fmt.Errorf("add port set for %s: %w", k.setName(), err)
			}
		}
		c.AddRule(rule)
	}
	for _, k := range sortedKeys(p.del) {
		s := n.setRef(k)
		for _, ch := range chunk(toElements(p.del[k], false), chunkSize(k.fam)) {
			if err := c.SetDeleteElements(s, ch); err != nil {
				return fmt.Errorf("delete elements from set %s: %w", k.setName(), err)
			}
		}
	}
	for _, k := range sortedKeys(p.add) {
		s := refs[k]
		if s == nil {
			s = n.setRef(k)
		}
		for _, ch := range chunk(toElements(p.add[k], true), chunkSize(k.fam)) {
			if err := c.SetAddElements(s, ch); err != nil {
				return fmt.Errorf("add elements to set %s: %w", k.setName(), err)
			}
		}
	}
	return nil
}

// commit sends p as one transaction. After ENOENT the connection is still
// in sync (the library reads every ack); after any other error it is
// replaced.
func (n *Nftables) commit(p *plan) error {
	if n.direct && !n.elems.unsupported && !p.changesRules() {
		err := n.commitElements(p)
		if !errors.Is(err, errDestroyUnsupported) {
			if err != nil {
				n.stale = true
				return fmt.Errorf("flush batch: %w", err)
			}
			return nil
		}
		n.log.Info("the kernel has no NFT_MSG_DESTROYSETELEM (Linux 6.3): deleting elements the older way")
	}
	c, err := n.connection()
	if err != nil {
		return err
	}
	if err := n.encode(c, p); err != nil {
		n.reset() // drop the half-queued batch
		return err
	}
	n.flushes++
	err = c.Flush()
	if err != nil || p.changesRules() {
		// New rules' handles are unknown, and a failure may mean our view
		// of the kernel is wrong.
		n.stale = true
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		n.reset()
	}
	if err != nil {
		return fmt.Errorf("flush batch: %w", err)
	}
	for _, k := range p.create {
		n.log.Info("created set and rule", "jail", k.jail, "set", k.setName(), "match", specFor(n.specs, k.jail).matchString())
	}
	for _, k := range p.fix {
		n.log.Info("replaced rule", "jail", k.jail, "set", k.setName(), "match", specFor(n.specs, k.jail).matchString())
	}
	return nil
}

// Declare records the jails' specs. When a declared jail already has sets in
// the kernel whose rule does not match its spec, the rule is replaced right
// away.
func (n *Nftables) Declare(specs ...JailSpec) error {
	var errs []error
	valid := make([]JailSpec, 0, len(specs))
	for _, s := range specs {
		ns, err := normalizeSpec(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		valid = append(valid, ns)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	for _, s := range valid {
		n.specs[s.Name] = s
		n.log.Debug("jail declared", "jail", s.Name, "match", s.matchString())
	}
	if n.stale {
		if err := n.load(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("declare jails: %w", err))...)
		}
	}
	if p := makePlan(n.sets, n.specs, nil, nil); !p.empty() {
		if err := n.commit(p); err != nil {
			errs = append(errs, fmt.Errorf("declare jails: update rules: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Apply implements Backend.
func (n *Nftables) Apply(add, del []Entry) error {
	add, del, err := applyEntries(add, del)
	if err != nil {
		return err
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if len(add) == 0 && len(del) == 0 {
		return nil
	}
	for attempt := 1; ; attempt++ {
		if n.stale {
			if err := n.load(); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
		}
		if attempt > 1 && len(del) > 0 && (!n.direct || n.elems.unsupported) {
			// Some element to delete is gone (expired, most likely):
			// delete only those still there.
			if del, err = n.presentOnly(del); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
		}
		p := makePlan(n.sets, n.specs, add, del)
		err := n.commit(p)
		if err == nil {
			n.log.Debug("applied", "added", len(add), "deleted", len(del), "attempt", attempt)
			return nil
		}
		if !errors.Is(err, unix.ENOENT) || attempt == maxAttempts {
			return fmt.Errorf("apply %d additions and %d deletions (attempt %d): %w", len(add), len(del), attempt, err)
		}
		n.log.Debug("batch hit a missing object, retrying", "attempt", attempt, "err", err)
	}
}

// Reconcile implements Backend.
func (n *Nftables) Reconcile(want []Entry) (added, removed int, err error) {
	want, err = normalizeEntries(want)
	if err != nil {
		return 0, 0, fmt.Errorf("reconcile: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return 0, 0, ErrClosed
	}
	for attempt := 1; ; attempt++ {
		// Always re-read: Reconcile must also see sets created by others.
		if err := n.load(); err != nil {
			return 0, 0, fmt.Errorf("reconcile: %w", err)
		}
		have, err := n.readElements(sortedKeys(n.sets))
		if err != nil {
			return 0, 0, fmt.Errorf("reconcile: %w", err)
		}
		stale, missing := diff(want, have)
		p := makePlan(n.sets, n.specs, want, stale)
		err = n.commit(p)
		if err == nil {
			n.log.Debug("reconciled", "want", len(want), "added", missing, "removed", len(stale), "attempt", attempt)
			return missing, len(stale), nil
		}
		if !errors.Is(err, unix.ENOENT) || attempt == maxAttempts {
			return 0, 0, fmt.Errorf("reconcile %d entries (attempt %d): %w", len(want), attempt, err)
		}
		n.log.Debug("batch hit a missing object, retrying", "attempt", attempt, "err", err)
	}
}

// List implements Backend.
func (n *Nftables) List() ([]Entry, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrClosed
	}
	if err := n.load(); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	es, err := n.readElements(sortedKeys(n.sets))
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	sortEntries(es)
	return es, nil
}

// Close implements Backend. It is idempotent.
func (n *Nftables) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	n.elems.close()
	if n.conn == nil {
		return nil
	}
	err := n.conn.CloseLasting()
	n.conn = nil
	if err != nil {
		return fmt.Errorf("close nftables netlink connection: %w", err)
	}
	return nil
}

// Remove deletes the whole banfleet table (for uninstall/tests); the daemon
// never calls it. A missing table is not an error. Later calls on n create
// the table again.
func (n *Nftables) Remove() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, err := n.connection()
	if err != nil {
		return err
	}
	c.DelTable(n.table)
	n.flushes++
	err = c.Flush()
	n.stale = true
	if err != nil && !errors.Is(err, unix.ENOENT) {
		n.reset()
		return fmt.Errorf("delete table inet %s: %w", n.table.Name, err)
	}
	n.log.Info("table removed")
	return nil
}
