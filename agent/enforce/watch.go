package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/shared/subject"
)

const (
	// loadChunk is how many bans of the initial values go into the firewall
	// in one transaction: the load streams into the kernel as it arrives.
	loadChunk = 10000
	// repairChunk is how many elements one repair transaction adds or
	// removes.
	repairChunk = 20000
	// checkFactor: the kernel is walked at most every checkFactor times
	// the last walk's duration, so checking costs a bounded share of time.
	checkFactor = 5
)

// Run watches kv until ctx ends, re-establishing the watch if it fails, and
// at once when it fell behind or Options.Resync asks.
func (e *Enforcer) Run(ctx context.Context, kv jetstream.KeyValue) error {
	if err := e.declare(); err != nil {
		return err
	}
	// The checker compares the kernel with the desired state beside the
	// watch: a walk of a million elements takes minutes (the kernel's dump
	// restarts its walk of the set for every message), and the watch must
	// not wait for it.
	cctx, stopChecker := context.WithCancel(ctx)
	checked := make(chan struct{})
	go func() { defer close(checked); e.runChecker(cctx) }()
	defer func() { stopChecker(); <-checked }()
	for ctx.Err() == nil {
		err := e.watch(ctx, kv)
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, errResync):
			e.resyncs.WithLabelValues("requested").Inc()
			e.o.Logger.Info("bans watch restarted: resync requested")
		case errors.Is(err, errBehind):
			e.resyncs.WithLabelValues("behind").Inc()
			e.o.Logger.Warn("bans watch restarted: it fell behind the bucket", "applied", e.applied.Load(), "last", e.last.Load())
		case errors.Is(err, errGap):
			e.resyncs.WithLabelValues("gap").Inc()
			e.o.Logger.Warn("bans watch restarted: it lost updates", "err", err)
		default:
			e.resyncs.WithLabelValues("failed").Inc()
			e.o.Logger.Warn("bans watch failed, retrying", "err", err)
			e.liftControl()
			select {
			case <-ctx.Done():
			case <-e.o.Resync:
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// lastSeq asks the bucket's stream for its last sequence.
func lastSeq(ctx context.Context, kv jetstream.KeyValue) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := kv.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("bucket status: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok || bs.StreamInfo() == nil {
		return 0, errors.New("bucket status: no stream info")
	}
	return bs.StreamInfo().State.LastSeq, nil
}

// noteLast raises the known last sequence of the bucket to seq.
func (e *Enforcer) noteLast(seq uint64) { raise(&e.last, seq) }

// noteApplied raises the applied revision to seq.
func (e *Enforcer) noteApplied(seq uint64) { raise(&e.applied, seq) }

// raise sets v to seq unless it holds more already.
func raise(v *atomic.Uint64, seq uint64) {
	for {
		cur := v.Load()
		if seq <= cur || v.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Lag says how far this host is behind the bucket: behind is how many
// bucket revisions (stream sequences) exist that the firewall has not
// taken yet; kernel and desired are, as of the last check of the kernel,
// how many elements the firewall held and how many it should have held
// (equal when the host is complete).
func (e *Enforcer) Lag() (behind uint64, kernel, desired int) {
	last, applied := e.last.Load(), e.applied.Load()
	if last > applied {
		behind = last - applied
	}
	return behind, int(e.kernelN.Load()), int(e.wantN.Load())
}

// Synced reports whether a watch has loaded the whole bucket and the
// firewall has taken every revision known since: each write acknowledged by
// the kernel. Lag's kernel count confirms it at the next check.
func (e *Enforcer) Synced() bool {
	behind, _, _ := e.Lag()
	return e.loaded.Load() && behind == 0
}

// Revisions returns the bucket revision (stream sequence) the firewall
// reflects and the bucket's last known one.
func (e *Enforcer) Revisions() (applied, last uint64) {
	return e.applied.Load(), e.last.Load()
}

func (e *Enforcer) watch(ctx context.Context, kv jetstream.KeyValue) error {
	// Everything up to start is in the initial values the watch delivers.
	start, err := lastSeq(ctx, kv)
	if err != nil {
		return err
	}
	e.noteLast(start)
	var w updates
	if e.o.JetStream != nil {
		w, err = streamWatch(ctx, e.o.JetStream, e.lose)
	} else {
		w, err = kv.WatchAll(ctx)
	}
	if err != nil {
		return fmt.Errorf("watch bans: %w", err)
	}
	defer func() { _ = w.Stop() }()
	updates := w.Updates()

	// The initial values, up to the nil marker, go into the firewall in
	// chunks as they arrive; then the bans the bucket no longer holds are
	// dropped. The kernel is walked meanwhile (what it held before the
	// load is checked; what the load writes, the kernel acknowledges):
	// the reconcile that walks it repairs once the load is over.
	e.mu.Lock()
	e.loadGen++
	load := e.loadGen
	loading := make(chan struct{})
	e.loading, e.loadOK = loading, false
	e.mu.Unlock()
	e.recheck("start")
	// One goroutine decodes, another writes the kernel: two chunks take
	// turns.
	apply, free := make(chan []change, 1), make(chan []change, 2)
	free <- make([]change, 0, loadChunk)
	free <- make([]change, 0, loadChunk)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for b := range apply {
			e.applyChanges(b, true)
			free <- b[:0]
		}
	}()
	loaded := false
	endLoad := func() {
		e.mu.Lock()
		e.loading, e.loadOK = nil, loaded
		e.mu.Unlock()
		close(loading)
	}
	defer func() {
		if !loaded {
			close(apply)
			<-written
			endLoad()
		}
	}()
	batch := <-free
	var maxRev uint64
	for synced := false; !synced; {
		select {
		case <-ctx.Done():
			return nil
		case <-e.o.Resync:
			return errResync
		case ent, ok := <-updates:
			if !ok {
				return errors.New("watch closed before initial values")
			}
			if ent == nil {
				synced = true
				break
			}
			maxRev = max(maxRev, ent.Revision())
			e.noteLast(ent.Revision() + ent.Delta())
			if batch = batch[:len(batch)+1]; !e.decode(ent, &batch[len(batch)-1]) {
				batch = batch[:len(batch)-1]
			}
			if len(batch) >= loadChunk {
				apply <- batch
				batch = <-free
			}
		}
	}
	apply <- batch
	close(apply)
	<-written
	dropped := e.sweep(load)
	loaded = true
	endLoad()
	e.noteApplied(max(start, maxRev))
	e.loaded.Store(true)
	e.o.Logger.Info("bans loaded", "bans", e.Desired(), "dropped", dropped, "revision", e.applied.Load())

	tick := time.NewTicker(e.o.Check)
	defer tick.Stop()
	prevApplied, prevLast := e.applied.Load(), e.last.Load()
	// Every revision after the load's comes through this watch, in order,
	// unless the bucket dropped it first (a newer value of its key, its
	// TTL, a purge): the revisions skipped are checked at each check.
	gaps := gapTracker{next: prevApplied + 1}
	caughtUp := false // the last update said nothing else was pending
	batch = make([]change, 0, e.o.MaxBatch)
	// (the load's chunks are garbage now)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.o.Resync:
			return errResync
		case <-tick.C:
			if last, err := lastSeq(ctx, kv); err == nil {
				e.noteLast(last)
			}
			applied, last := e.applied.Load(), e.last.Load()
			// A revision the bucket had a whole check ago is still not
			// here, nothing waits, and nothing arrived since or the
			// watch says it has delivered everything: the watch lost
			// updates (an ordered consumer that fell behind and whose
			// reset failed, a consumer gone with its server).
			if applied < prevLast && len(updates) == 0 && (applied == prevApplied || caughtUp) {
				return errBehind
			}
			prevApplied, prevLast = applied, last
			if err := e.checkGaps(ctx, &gaps); err != nil {
				return err
			}
		case ent, ok := <-updates:
			if !ok {
				return errors.New("watch closed")
			}
			batch = batch[:0]
			var rev uint64
			take := func(ent jetstream.KeyValueEntry) {
				if ent == nil {
					return
				}
				rev = max(rev, ent.Revision())
				e.noteLast(ent.Revision() + ent.Delta())
				gaps.see(ent.Revision())
				caughtUp = ent.Delta() == 0
				if batch = batch[:len(batch)+1]; !e.decode(ent, &batch[len(batch)-1]) {
					batch = batch[:len(batch)-1]
				}
			}
			take(ent)
			// Take what else is already waiting into the same transaction.
		drain:
			for len(batch) < e.o.MaxBatch {
				select {
				case ent, ok := <-updates:
					if !ok {
						break drain
					}
					take(ent)
				default:
					break drain
				}
			}
			e.applyChanges(batch, false)
			e.noteApplied(rev)
		}
	}
}

// checkEvery is how often the kernel is compared with the desired state:
// Options.Check, but no more often than checkFactor times the last walk
// took, and at least every Options.Reconcile.
func (e *Enforcer) checkEvery() time.Duration {
	d := max(e.o.Check, checkFactor*time.Duration(e.walkNs.Load()))
	return min(d, e.o.Reconcile)
}

// sweep drops the bans the load generation did not see (the bucket no
// longer holds them); the reconcile walking meanwhile, or the next one,
// removes their elements. It returns how many it dropped.
func (e *Enforcer) sweep(load uint16) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	e.desired.all(func(k bkey, v bval) bool {
		if v.load != load {
			if v.walk == e.walkGen {
				e.dropped = append(e.dropped, firewall.Entry{Jail: e.jailNames[k.jail], Addr: k.addrOf()})
			}
			e.desired.del(k)
			n++
		}
		return true
	})
	e.elements.Set(float64(e.desired.len()))
	return n
}

// recheck asks the checker for a reconcile now.
func (e *Enforcer) recheck(why string) {
	select {
	case e.checkNow <- why:
	default:
	}
}

// runChecker reconciles when asked (recheck) and every checkEvery, until
// ctx ends.
func (e *Enforcer) runChecker(ctx context.Context) {
	t := time.NewTimer(e.checkEvery())
	defer t.Stop()
	for {
		why := "check"
		select {
		case <-ctx.Done():
			return
		case why = <-e.checkNow:
		case <-t.C:
			if !e.loaded.Load() {
				t.Reset(e.o.Check)
				continue // no watch has loaded the bucket: nothing to compare with
			}
		}
		e.reconcile(ctx, why)
		t.Reset(e.checkEvery())
	}
}

// reconcile makes the kernel equal to the desired state: it walks the
// kernel's elements (streamed, never listed whole) without holding up
// firewall writes, marking each wanted one it finds; then, with fwMu held,
// it removes those still not wanted and adds the wanted ones it did not
// find, in transactions of repairChunk elements. A change applied during
// the walk is at worst written again.
func (e *Enforcer) reconcile(ctx context.Context, why string) {
	e.walkMu.Lock()
	defer e.walkMu.Unlock()
	began := time.Now()
	now := e.o.Now()
	e.mu.Lock()
	e.walkGen++
	g := e.walkGen
	e.walkDelta, e.dropped = 0, nil
	expired := false
	for k, b := range e.local {
		if _, ok := e.entry(&b, now); !ok {
			delete(e.local, k)
			expired = true
		}
	}
	e.mu.Unlock()
	if expired {
		e.localChanged()
	}

	found := 0 // distinct wanted elements found (a dump may repeat some)
	seenLocal := map[string]bool{}
	// Elements not wanted when met (at a restart, while the load runs,
	// that is most of the kernel): IPv4 ones packed in 8 bytes (pack4's
	// key without own), the rest as entries.
	var stale4 []uint64
	var stale []firewall.Entry
	err := e.o.Backend.Walk(func(en firewall.Entry) {
		e.mu.Lock()
		defer e.mu.Unlock()
		hit, newly := false, false
		for _, own := range []bool{false, true} {
			if k, ok := e.lookupKey(en.Jail, en.Addr, own); ok {
				if v, ok := e.desired.get(k); ok {
					if _, live := e.firewallEntry(k, v, now); live {
						hit = true
						if v.walk != g {
							v.walk = g
							e.desired.set(k, v)
							newly = true
						}
					}
				}
			}
		}
		if newly {
			found++
		}
		if !hit && len(e.local) > 0 { // no key built per element when there are no local bans
			key := localKey(en.Jail, en.Addr)
			if _, ok := e.local[key]; ok {
				hit = true
				if !seenLocal[key] {
					seenLocal[key] = true
					found++
				}
			}
		}
		if !hit {
			if en.Addr.Is4() {
				stale4 = append(stale4, pack4(e.keyOf(en.Jail, en.Addr, false)))
			} else {
				stale = append(stale, firewall.Entry{Jail: en.Jail, Addr: en.Addr})
			}
		}
	})
	if err != nil {
		e.failed(err)
		e.o.Logger.Error("firewall reconcile failed: kernel not read", "why", why, "err", err)
		return
	}
	e.walkNs.Store(int64(time.Since(began)))

	// A load under way: what it has not written yet looks missing or
	// stale. Repair once it is over.
	e.mu.Lock()
	loading := e.loading
	e.mu.Unlock()
	if loading != nil {
		select {
		case <-loading:
		case <-ctx.Done():
			return
		}
		e.mu.Lock()
		ok := e.loadOK
		e.mu.Unlock()
		if !ok {
			e.o.Logger.Info("firewall reconcile abandoned: the load it waited for was interrupted", "why", why)
			return
		}
	}

	e.fwMu.Lock()
	defer e.fwMu.Unlock()
	// What is wanted and was not found; what was stale and still is. The
	// kernel holds what the walk found, what it acknowledged since the walk
	// began and the stale elements.
	now = e.o.Now()
	e.mu.Lock()
	notStale := func(en firewall.Entry) bool {
		_, local := e.local[localKey(en.Jail, en.Addr)]
		return local || e.wantedLocked(en.Jail, en.Addr)
	}
	stale = slices.DeleteFunc(stale, notStale)
	for _, u := range stale4 {
		k := unpack4(u)
		if en := (firewall.Entry{Jail: e.jailNames[k.jail], Addr: k.addrOf()}); !notStale(en) {
			stale = append(stale, en)
		}
	}
	stale4 = nil
	kernel := found + e.walkDelta + len(stale)
	// Bans that ended while the walk ran, whose elements it met (or that
	// were written since it began): counted, now stale.
	for _, d := range e.dropped {
		if !notStale(d) {
			stale = append(stale, d)
		}
	}
	e.dropped = nil
	var missing []bkey
	want := 0
	e.desired.all(func(k bkey, v bval) bool {
		if _, live := e.firewallEntry(k, v, now); live {
			want++
			if v.walk != g {
				missing = append(missing, k)
			}
		}
		return true
	})
	var add []firewall.Entry
	for key, b := range e.local {
		if en, ok := e.entry(&b, now); ok {
			want++
			if !seenLocal[key] {
				add = append(add, en)
			}
		}
	}
	e.mu.Unlock()

	added, removed := 0, 0
	for len(missing) > 0 || len(add) > 0 {
		e.mu.Lock()
		for len(add) < repairChunk && len(missing) > 0 {
			k := missing[len(missing)-1]
			missing = missing[:len(missing)-1]
			if v, ok := e.desired.get(k); ok {
				if en, ok := e.firewallEntry(k, v, now); ok {
					if !e.declared[en.Jail] && e.extra[en.Jail] == nil {
						e.declareExtraJail(en.Jail, nil)
					}
					add = append(add, en)
				}
			}
		}
		e.mu.Unlock()
		if err := e.o.Backend.Apply(add, nil); err != nil {
			e.failed(err)
			e.o.Logger.Error("firewall reconcile failed", "why", why, "add", len(add), "err", err)
			return
		}
		added += len(add)
		add = add[:0]
	}
	for len(stale) > 0 {
		n := min(len(stale), repairChunk)
		if err := e.o.Backend.Apply(nil, stale[:n]); err != nil {
			e.failed(err)
			e.o.Logger.Error("firewall reconcile failed", "why", why, "del", n, "err", err)
			return
		}
		removed += n
		stale = stale[n:]
	}
	e.kernelN.Store(int64(kernel + added - removed))
	e.wantN.Store(int64(want))
	e.firewallElements.Set(float64(kernel + added - removed))
	e.lastReconcile.Store(now.UnixNano())
	e.fwErr.Store("")
	e.reconciles.Inc()
	lvl := slog.LevelDebug
	if added+removed > 0 && why != "start" {
		lvl = slog.LevelWarn // drift: something outside the watch changed the kernel, or a write was lost
		e.repaired.Add(float64(added + removed))
	} else if why != "check" {
		lvl = slog.LevelInfo
	}
	e.o.Logger.Log(context.Background(), lvl, "firewall reconciled", "why", why, "bans", want, "kernel", kernel, "added", added, "removed", removed,
		"walk", time.Duration(e.walkNs.Load()).Round(time.Millisecond), "took", time.Since(began).Round(time.Millisecond))
}

// ReadWith makes Run read the bucket's stream through js with a pull
// consumer (see Options.JetStream) instead of a KV watch; call it before
// Run.
func (e *Enforcer) ReadWith(js jetstream.JetStream) { e.o.JetStream = js }

// maxGapSeqs bounds the skipped revisions a watch keeps for checking; more
// than that between two checks and the watch is replaced.
const maxGapSeqs = 4096

// gapTracker notes the revisions a watch skipped.
type gapTracker struct {
	next     uint64   // the revision expected next
	seqs     []uint64 // skipped, not yet checked
	overflow bool     // more were skipped than seqs holds
}

// see notes that rev arrived.
func (g *gapTracker) see(rev uint64) {
	switch {
	case rev > g.next:
		for s := g.next; s < rev; s++ {
			if len(g.seqs) == maxGapSeqs {
				g.overflow = true
				break
			}
			g.seqs = append(g.seqs, s)
		}
		g.next = rev + 1
	case rev == g.next:
		g.next++
	default: // delivered again (an ordered consumer's reset): no longer missing
		g.seqs = slices.DeleteFunc(g.seqs, func(s uint64) bool { return s == rev })
	}
}

// checkGaps asks the bucket's stream whether it still holds a revision the
// watch skipped: if it does, the watch lost it (a client that dropped
// messages, a consumer that skipped them) and errGap says so. A revision
// the stream no longer holds was dropped by the bucket, rightly. Without
// Options.JetStream (a KV watch) skipped revisions are not checked.
func (e *Enforcer) checkGaps(ctx context.Context, g *gapTracker) error {
	if g.overflow {
		return fmt.Errorf("%w: more than %d revisions skipped between two checks", errGap, maxGapSeqs)
	}
	if len(g.seqs) == 0 || e.o.JetStream == nil {
		g.seqs = g.seqs[:0]
		return nil
	}
	// The watch waits meanwhile: a short deadline.
	ctx, cancel := context.WithTimeout(ctx, min(e.o.Check, 2*time.Second))
	defer cancel()
	seqs := g.seqs
	g.seqs = nil
	stream, err := e.o.JetStream.Stream(ctx, "KV_"+subject.BansBucket)
	for _, seq := range seqs {
		if err != nil {
			break
		}
		_, err = stream.GetMsg(ctx, seq)
		switch {
		case err == nil:
			return fmt.Errorf("%w: revision %d, still in the bucket, never arrived", errGap, seq)
		case errors.Is(err, jetstream.ErrMsgNotFound):
			err = nil
		}
	}
	if err != nil {
		e.o.Logger.Warn("revisions the bans watch skipped not checked", "revisions", len(seqs), "err", err)
	}
	return nil
}
