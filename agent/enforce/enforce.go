// Package enforce mirrors the fleet's bans bucket into the host's firewall.
//
// At start (after every lost watch, and when asked to resync) it streams the
// whole bucket into the firewall in chunks (one goroutine decodes, another
// writes the kernel), walking the kernel meanwhile, and then reconciles the
// firewall with it; then it applies each change as it arrives, batching
// what arrives together into one transaction. It knows which bucket
// revision it has applied and the bucket's last one: a watch that stops
// short of the bucket, or that skipped a revision the bucket still holds,
// is replaced at once. It checks the kernel against the desired state every
// few seconds (walking the kernel's sets as a stream; no more often than
// the walk's cost allows) and repairs at once what is missing or stale.
// Bans of the host's own addresses are refused.
//
// The desired state is kept compactly (jail id, address, expiry: about 17
// bytes an IPv4 ban), so that a million bans fit in under 20 MB; values are
// decoded without building more than the enforcer uses.
//
// Besides the bucket's bans it enforces the agent's local bans: those it
// made alone while NATS was away (BanLocally). They last their own ban time,
// survive reconciles and agent restarts (LocalFile), and end early when the
// fleet lifts a ban of the same jail and address.
package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/agent/internal/atomicfile"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// Options configures an Enforcer.
type Options struct {
	Backend firewall.Backend
	Jails   []firewall.JailSpec // the host's jails (ports); other jails come from the bans
	Own     *netaddr.Set        // the host's own addresses: never banned
	// Control are the NATS servers this agent uses: never banned (a ban
	// would cut the host off from the fleet), whatever the bucket says.
	Control *netaddr.Set
	// JailIgnore is each jail's ignoreip on this host: never banned in it.
	JailIgnore map[string]*netaddr.Set
	// Host is this host's name: bans for one host alone (wire.Ban.Only)
	// are enforced only by that host.
	Host      string
	Reconcile time.Duration // longest time between two full checks of the kernel; default 60s
	// Check is how often the watch's progress is compared with the bucket's
	// last revision and the kernel with the desired state (the latter no
	// more often than 5 times a walk of the kernel takes); default 5s.
	Check time.Duration
	// Resync, when a value arrives, drops the current watch and starts a
	// new one at once: a full resync from the bucket (e.g. on a NATS
	// reconnect, when the old watch's consumer may be gone with its server).
	Resync <-chan struct{}
	// JetStream, if set, is used to read the bucket's stream through a pull
	// ordered consumer instead of a KV watch: the client then buffers at
	// most 8192 messages (about 4 MB) instead of up to 64 MB, and never
	// drops any. The agent's NATS user needs
	// "$JS.API.CONSUMER.MSG.NEXT.KV_bans.>" for it.
	JetStream jetstream.JetStream
	LocalFile string // where local bans are kept across restarts; "" = memory only
	MaxBatch  int    // most changes in one transaction; default 2000
	Logger    *slog.Logger
	Registry  prometheus.Registerer
	Now       func() time.Time
}

// Enforcer keeps the firewall equal to the bans bucket.
type Enforcer struct {
	o        Options
	declared map[string]bool       // jails of this host's configuration
	extra    map[string]*extraJail // jails known only from bans (e.g. manual)

	declareMu     sync.Mutex
	jailsDeclared bool // the host's jails are declared in the firewall

	// fwMu orders firewall writes: each takes its snapshot of the wanted
	// state under mu and writes it to the backend before another writer
	// takes its own (a reconcile must not undo a local ban made meanwhile).
	// Lock order: fwMu, then mu.
	fwMu sync.Mutex

	dec  banDecoder            // the watch's
	lose func(rev uint64) bool // tests: updates the pull watch loses

	mu        sync.Mutex
	desired   banSet            // the bucket's bans this host enforces
	jailIDs   map[string]uint16 // jail name → bkey.jail
	jailNames []string          // bkey.jail → jail name
	walkGen   uint16            // generation of the last check's walk (bval.walk)
	loadGen   uint16            // generation of the last load (bval.load)
	// walkDelta is how many elements the kernel acknowledged since the
	// current walk began that it had not counted (bans written whose walk
	// is not walkGen yet), less those it counted and that were removed
	// since.
	walkDelta int
	// dropped are the elements of bans that ended without their removal
	// being written (a load's removals, its sweep), that the current walk
	// met or that were written since it began: the reconcile removes them
	// unless they are wanted again.
	dropped []firewall.Entry
	// loading, while a watch loads the bucket, is closed when the load
	// ends; loadOK then says whether it loaded everything.
	loading chan struct{}
	loadOK  bool
	local   map[string]wire.Ban // bans this agent made alone, by bucket key
	dirty   chan struct{}       // local changed since the last save (capacity 1)

	// applied is the bucket revision (stream sequence) the firewall
	// reflects, last the bucket's last known one; kernelN and wantN are the
	// kernel's element count and the desired one at the last check, walkNs
	// how long that check's walk took.
	applied, last  atomic.Uint64
	loaded         atomic.Bool // a watch loaded the whole bucket
	checkNow       chan string // asks the checker for a reconcile (capacity 1)
	walkMu         sync.Mutex  // one reconcile at a time
	kernelN, wantN atomic.Int64
	walkNs         atomic.Int64

	// lastReconcile (Unix ns) and fwErr (string) are the firewall's state
	// for health answers.
	lastReconcile atomic.Int64
	fwErr         atomic.Value
	// refusedControl is the last ban refused on a NATS server's address
	// (a string), for health answers.
	refusedControl atomic.Value

	elements, firewallElements prometheus.Gauge
	changes, reconciles        prometheus.Counter
	refused, badValues         prometheus.Counter
	fwErrors, repaired         prometheus.Counter
	resyncs                    *prometheus.CounterVec
}

// New returns an enforcer.
func New(o Options) *Enforcer {
	if o.Reconcile <= 0 {
		o.Reconcile = time.Minute
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 2000
	}
	if o.Check <= 0 {
		o.Check = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &Enforcer{
		o:                o,
		declared:         map[string]bool{},
		extra:            map[string]*extraJail{},
		desired:          newBanSet(),
		jailIDs:          map[string]uint16{},
		local:            map[string]wire.Ban{},
		dirty:            make(chan struct{}, 1),
		checkNow:         make(chan string, 1),
		elements:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "banfleet_agent_bans_desired", Help: "Bans in the bucket this host enforces."}),
		firewallElements: prometheus.NewGauge(prometheus.GaugeOpts{Name: "banfleet_agent_firewall_elements", Help: "Elements in the firewall's sets at the last check."}),
		repaired:         prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_firewall_repaired_total", Help: "Elements a check of the kernel found missing or stale, and repaired."}),
		resyncs:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "banfleet_agent_bans_resyncs_total", Help: "Bans watches replaced by a new one, by reason: requested, behind (the watch stopped short of the bucket), gap (it skipped a revision the bucket holds), failed."}, []string{"reason"}),
		changes:          prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_firewall_changes_total", Help: "Elements added or removed by incremental transactions."}),
		reconciles:       prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_firewall_reconciles_total", Help: "Full reconciliations of the firewall with the bucket."}),
		refused:          prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_bans_refused_total", Help: "Bans refused: this host's own address, a NATS server it uses, the jail's ignoreip here, or no single host."}),
		badValues:        prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_bans_malformed_total", Help: "Bucket values that did not decode."}),
		fwErrors:         prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_firewall_errors_total", Help: "Failed firewall transactions."}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(e.elements, e.changes, e.reconciles, e.refused, e.badValues, e.fwErrors, e.firewallElements, e.repaired, e.resyncs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banfleet_agent_bans_behind", Help: "Bucket revisions not yet in the firewall."}, func() float64 {
				b, _, _ := e.Lag()
				return float64(b)
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "banfleet_agent_bans_revision", Help: "The bucket revision (stream sequence) the firewall reflects."}, func() float64 {
				return float64(e.applied.Load())
			}))
	}
	for _, j := range o.Jails {
		e.declared[j.Name] = true
	}
	return e
}

// Desired returns how many bans this host enforces now.
func (e *Enforcer) Desired() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.desired.len()
}

// declare declares the host's jails in the firewall, until it succeeds.
func (e *Enforcer) declare() error {
	e.declareMu.Lock()
	defer e.declareMu.Unlock()
	if e.jailsDeclared {
		return nil
	}
	if len(e.o.Jails) > 0 {
		if err := e.o.Backend.Declare(e.o.Jails...); err != nil {
			return fmt.Errorf("declare jails: %w", err)
		}
	}
	e.jailsDeclared = true
	return nil
}

type change struct {
	key string
	put bool      // false: removed
	ban wire.Ban  // of a put
	at  time.Time // of a removal: when the bucket recorded it
}

// decode turns a bucket entry into a change at *c (reused: its ban is
// overwritten in place); ok is false for a value that must be ignored.
// Only the watch calls it (e.dec is not safe for concurrent use).
func (e *Enforcer) decode(ent jetstream.KeyValueEntry, c *change) bool {
	if ent.Operation() != jetstream.KeyValuePut {
		if h := subject.BanKeyHost(ent.Key()); h != "" && h != e.o.Host {
			return false // another host's own ban lifted: not ours
		}
		c.key, c.put, c.at = ent.Key(), false, ent.Created()
		return true
	}
	b := &c.ban
	if err := e.dec.decode(ent.Key(), ent.Value(), b); err != nil {
		e.badValues.Inc()
		e.o.Logger.Warn("ban value rejected", "key", ent.Key(), "err", err)
		return false
	}
	b.Addr = netaddr.Canonical(b.Addr)
	if b.Only != "" && b.Only != e.o.Host {
		return false // another host's own ban
	}
	if why := e.refuse(b); why != "" {
		e.refused.Inc()
		e.o.Logger.Warn("ban refused", "jail", b.Jail, "addr", b.Addr, "why", why, "by", b.By)
		return false
	}
	c.key, c.put = ent.Key(), true
	return true
}

// refuse says why this host never enforces b ("" if it does): the host's
// own addresses, the NATS servers it uses, the jail's ignoreip here, and
// what is no single remote host (netaddr.Never).
func (e *Enforcer) refuse(b *wire.Ban) string {
	switch {
	case netaddr.Never(b.Addr) != "":
		return netaddr.Never(b.Addr)
	case e.o.Own.Contains(b.Addr):
		return "an address of this host"
	case e.o.Control.Contains(b.Addr):
		e.refusedControl.Store(refusal{at: e.o.Now(), what: fmt.Sprintf("a ban of NATS server %s (jail %s, by %s) refused", b.Addr, b.Jail, b.By)})
		return "a NATS server this agent uses"
	case e.o.JailIgnore[b.Jail].Contains(b.Addr):
		return "in the jail's ignoreip on this host"
	}
	return ""
}

// wantedLocked reports whether a fleet ban or this host's own ban of addr in
// jail is still wanted; e.mu held.
func (e *Enforcer) wantedLocked(jail string, addr netip.Addr) bool {
	return e.hasLocked(jail, addr, false) || e.hasLocked(jail, addr, true)
}

// hasLocked reports whether the desired state holds the fleet ban (own:
// this host's own ban) of addr in jail; e.mu held.
func (e *Enforcer) hasLocked(jail string, addr netip.Addr, own bool) bool {
	k, ok := e.lookupKey(jail, addr, own)
	if !ok {
		return false
	}
	_, ok = e.desired.get(k)
	return ok
}

// localKey is the key of a local ban of addr in jail.
func localKey(jail string, addr netip.Addr) string { return subject.BanKey(jail, addr) }

// RefusedControl is the last ban refused on a NATS server's address, in
// words ("" if none).
// It is kept for 10 minutes (the coordinator lifts such a ban).
func (e *Enforcer) RefusedControl() string {
	r, _ := e.refusedControl.Load().(refusal)
	if r.at.IsZero() || e.o.Now().Sub(r.at) > 10*time.Minute {
		return ""
	}
	return r.what
}

type refusal struct {
	at   time.Time
	what string
}

// liftControl removes from the firewall every element on a NATS server's
// address, whatever put it there: an agent that cannot reach NATS must not
// stay locked out by its own firewall.
func (e *Enforcer) LiftControl() { e.liftControl() }

func (e *Enforcer) liftControl() {
	if e.o.Control == nil {
		return
	}
	e.fwMu.Lock()
	defer e.fwMu.Unlock()
	// A walk, not List: no copy of the whole kernel for a few addresses.
	// (A walk may meet an element twice: a duplicate delete would fail
	// the transaction.)
	var del []firewall.Entry
	if err := e.o.Backend.Walk(func(en firewall.Entry) {
		x := firewall.Entry{Jail: en.Jail, Addr: en.Addr}
		if e.o.Control.Contains(en.Addr) && !slices.Contains(del, x) {
			del = append(del, x)
		}
	}); err != nil {
		return
	}
	if len(del) == 0 {
		return
	}
	if err := e.o.Backend.Apply(nil, del); err != nil {
		e.failed(err)
		e.o.Logger.Error("ban of a NATS server not lifted", "entries", len(del), "err", err)
		return
	}
	for _, d := range del {
		e.o.Logger.Warn("ban of a NATS server lifted: it cut this host off from the fleet", "jail", d.Jail, "addr", d.Addr)
	}
}

func (e *Enforcer) entry(b *wire.Ban, now time.Time) (firewall.Entry, bool) {
	var timeout time.Duration
	if !b.Expires.IsZero() {
		timeout = b.Expires.Sub(now)
		if timeout < time.Second {
			return firewall.Entry{}, false // expiring; the bucket will say so
		}
	}
	if !e.declared[b.Jail] {
		e.declareExtraJail(b.Jail, b.Ports)
	}
	return firewall.Entry{Jail: b.Jail, Addr: b.Addr, Timeout: timeout}, true
}

// extraJail is a jail this host knows only from its bans: its rule blocks
// the union of the ports its bans name, or every port once one names none.
type extraJail struct {
	all      bool
	ports    []uint16
	declared bool
}

// declareExtraJail makes the rule of a jail not in the configuration cover
// ports too (none: all); it only ever widens (a ban never blocks less than
// asked).
func (e *Enforcer) declareExtraJail(jail string, ports []uint16) {
	x := e.extra[jail]
	if x == nil {
		x = &extraJail{}
		e.extra[jail] = x
	}
	changed := !x.declared
	switch {
	case x.all:
	case len(ports) == 0:
		x.all, x.ports, changed = true, nil, true
	default:
		for _, p := range ports {
			if !slices.Contains(x.ports, p) {
				x.ports = append(x.ports, p)
				changed = true
			}
		}
	}
	if !changed {
		return
	}
	spec := firewall.JailSpec{Name: jail, Ports: slices.Clone(x.ports), Proto: "tcp"}
	if x.all {
		spec.Ports, spec.Proto = nil, "all"
	}
	if err := e.o.Backend.Declare(spec); err != nil {
		e.o.Logger.Warn("jail not declared", "jail", jail, "err", err)
		return
	}
	x.declared = true
}

// applyChanges applies batch in one transaction, marking the bans with the
// current load and walk generations (a ban written during a walk is not
// missing from the kernel, one written during a load is in the bucket). A
// load writes no removals:
// the reconcile that ends the load removes what is stale, and deleting an
// element the kernel does not hold would fail the whole transaction.
func (e *Enforcer) applyChanges(batch []change, load bool) {
	if len(batch) == 0 {
		return
	}
	e.fwMu.Lock()
	defer e.fwMu.Unlock()
	now := e.o.Now()
	var add, del []firewall.Entry
	localChanged := false
	e.mu.Lock()
	for i := range batch {
		c := &batch[i]
		if c.put {
			k := e.keyOf(c.ban.Jail, c.ban.Addr, c.ban.Only != "")
			if prev, ok := e.desired.get(k); !ok || prev.walk != e.walkGen {
				e.walkDelta++ // (an expiring ban is not written: at worst counted once too many until the next walk)
			}
			e.desired.set(k, bval{exp: expUnix(c.ban.Expires), walk: e.walkGen, load: e.loadGen})
			if en, ok := e.entry(&c.ban, now); ok {
				add = append(add, en)
			}
			continue
		}
		jail, addr, err := subject.ParseBanKey(c.key)
		if err != nil {
			continue
		}
		host := subject.BanKeyHost(c.key)
		if host != "" && host != e.o.Host {
			continue // another host's own ban
		}
		addr = netaddr.Canonical(addr)
		if k, ok := e.lookupKey(jail, addr, host != ""); ok {
			if v, ok := e.desired.get(k); ok && v.walk == e.walkGen {
				if load {
					e.dropped = append(e.dropped, firewall.Entry{Jail: jail, Addr: addr})
				} else {
					e.walkDelta--
				}
			}
			e.desired.del(k)
		}
		if e.wantedLocked(jail, addr) {
			continue // the same element is wanted by another key (a fleet ban and this host's own)
		}
		if _, local := e.local[subject.BanKey(jail, addr)]; local && host != "" {
			continue // this host's own ban lifted, a local ban of the same still holds
		}
		if lb, ok := e.local[c.key]; ok {
			if !c.at.After(lb.Created) {
				// An older removal (delivered late, after an outage): the
				// local ban made since stays, in the firewall too. (The
				// removal's time is the NATS server's clock, the ban's this
				// host's: hosts are expected to run NTP.)
				continue
			}
			// The fleet lifted it: the local ban ends with it.
			delete(e.local, c.key)
			localChanged = true
			if load {
				e.dropped = append(e.dropped, firewall.Entry{Jail: jail, Addr: addr})
			}
			e.o.Logger.Info("local ban ended: the fleet lifted it", "jail", lb.Jail, "addr", lb.Addr, "lifted", c.at)
		}
		if !load {
			del = append(del, firewall.Entry{Jail: jail, Addr: addr})
		}
	}
	e.elements.Set(float64(e.desired.len()))
	e.mu.Unlock()
	if localChanged {
		e.localChanged()
	}
	if len(add) == 0 && len(del) == 0 {
		return
	}
	if err := e.o.Backend.Apply(add, del); err != nil {
		e.failed(err)
		e.o.Logger.Error("firewall update failed; reconciling", "add", len(add), "del", len(del), "err", err)
		e.recheck("repair")
		return
	}
	e.changes.Add(float64(len(add) + len(del)))
	if len(add)+len(del) > 20 {
		e.o.Logger.Info("bans enforced", "added", len(add), "lifted", len(del))
		return
	}
	for _, a := range add {
		e.o.Logger.Info("ban enforced", "jail", a.Jail, "addr", a.Addr, "timeout", a.Timeout.Round(time.Second))
	}
	for _, d := range del {
		e.o.Logger.Info("ban lifted", "jail", d.Jail, "addr", d.Addr)
	}
}

// failed counts a failed firewall write and keeps it for Status.
func (e *Enforcer) failed(err error) {
	e.fwErrors.Inc()
	e.fwErr.Store(err.Error())
}

// Status is the firewall's state: when it was last made equal to the
// bucket (zero: not yet) and the last failure since then ("" if none).
func (e *Enforcer) Status() (lastReconcile time.Time, lastErr string) {
	if ns := e.lastReconcile.Load(); ns != 0 {
		lastReconcile = time.Unix(0, ns)
	}
	lastErr, _ = e.fwErr.Load().(string)
	return lastReconcile, lastErr
}

// BanLocally enforces a ban this agent decided alone (NATS away). It
// reports whether the ban was taken: false when it is refused (one of the
// host's own addresses) or already in force from the fleet. A ban taken
// whose firewall write failed comes with the error; the next reconcile
// (they run while the bucket is watched) writes it.
func (e *Enforcer) BanLocally(b wire.Ban) (bool, error) {
	b.Addr = netaddr.Canonical(b.Addr)
	if why := e.refuse(&b); why != "" {
		e.refused.Inc()
		e.o.Logger.Warn("local ban refused", "jail", b.Jail, "addr", b.Addr, "why", why)
		return false, nil
	}
	declErr := e.declare()
	key := subject.BanKey(b.Jail, b.Addr)
	e.fwMu.Lock()
	defer e.fwMu.Unlock()
	now := e.o.Now()
	e.mu.Lock()
	if e.hasLocked(b.Jail, b.Addr, false) {
		e.mu.Unlock()
		return false, nil
	}
	en, ok := e.entry(&b, now)
	if ok {
		e.local[key] = b
	}
	e.mu.Unlock()
	if !ok {
		return false, nil
	}
	e.localChanged()
	if declErr != nil {
		e.failed(declErr)
		return true, declErr
	}
	if err := e.o.Backend.Apply([]firewall.Entry{en}, nil); err != nil {
		e.failed(err)
		return true, fmt.Errorf("local ban %s/%s: %w", b.Jail, b.Addr, err)
	}
	e.changes.Inc()
	return true, nil
}

// LocalOnly reports whether the ban of addr in jail is one this agent made
// alone and the bucket does not hold.
func (e *Enforcer) LocalOnly(jail string, addr netip.Addr) bool {
	addr = netaddr.Canonical(addr)
	e.mu.Lock()
	defer e.mu.Unlock()
	_, local := e.local[localKey(jail, addr)]
	return local && !e.hasLocked(jail, addr, false)
}

// Local returns how many local bans are in force.
func (e *Enforcer) Local() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.local)
}

// LoadLocal reads the local bans kept by an earlier run and puts those
// still in force into the firewall. A file that does not decode is set
// aside (renamed to .bad) and logged: the agent starts without it.
func (e *Enforcer) LoadLocal() error {
	if e.o.LocalFile == "" {
		return nil
	}
	data, err := os.ReadFile(e.o.LocalFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local bans: %w", err)
	}
	var list []wire.Ban
	if err := json.Unmarshal(data, &list); err != nil {
		bad, serr := atomicfile.SetAside(e.o.LocalFile)
		if serr != nil {
			return fmt.Errorf("local bans: %w", serr)
		}
		e.o.Logger.Error("local bans unreadable, set aside", "file", e.o.LocalFile, "moved_to", bad, "err", err)
		return nil
	}
	for _, b := range list {
		if _, err := e.BanLocally(b); err != nil {
			e.o.Logger.Warn("local ban not restored to the firewall yet", "jail", b.Jail, "addr", b.Addr, "err", err)
		}
	}
	return nil
}

// localChanged notes that the local bans must be saved.
func (e *Enforcer) localChanged() {
	select {
	case e.dirty <- struct{}{}:
	default:
	}
}

// RunSaver keeps LocalFile up to date, writing at most once a second, until
// ctx ends; then it writes a last time.
func (e *Enforcer) RunSaver(ctx context.Context) error {
	if e.o.LocalFile == "" {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			select {
			case <-e.dirty:
				e.SaveLocal()
			default:
			}
			return nil
		case <-e.dirty:
			e.SaveLocal()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// SaveLocal writes the local bans to LocalFile (atomically, synced). A
// failure is logged: the bans stay in force, they would only not survive
// a restart.
func (e *Enforcer) SaveLocal() {
	if e.o.LocalFile == "" {
		return
	}
	e.mu.Lock()
	list := make([]wire.Ban, 0, len(e.local))
	for _, b := range e.local {
		list = append(list, b)
	}
	e.mu.Unlock()
	data, err := json.Marshal(list)
	if err == nil {
		err = atomicfile.Write(e.o.LocalFile, data)
	}
	if err != nil {
		e.o.Logger.Warn("local bans not saved", "file", e.o.LocalFile, "err", err)
	}
}
