package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/banfleet/banfleet/agent/internal/atomicfile"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// fleetExempt is the coordinator's list of addresses no agent may ban on
// its own (its ignoreip and every host's own addresses), as last read from
// the fleet bucket. It is kept in a file so that an agent restarted while
// NATS is away still knows it.
type fleetExempt struct {
	set  netaddr.Set
	file string
	log  *slog.Logger
	n    atomic.Int64 // prefixes held, for the metric

	mu      sync.Mutex // orders takes
	updated time.Time  // of the list held
}

// Contains reports whether addr is exempt (false for a nil list).
func (f *fleetExempt) Contains(addr netip.Addr) bool { return f != nil && f.set.Contains(addr) }

// load reads the saved list. A missing file is an empty list; an unreadable
// one is set aside (and the list stays empty until the coordinator is
// read).
func (f *fleetExempt) load() error {
	data, err := os.ReadFile(f.file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fleet exemptions %s: %w", f.file, err)
	}
	var e wire.Exempt
	if err := wire.Decode(data, &e); err != nil {
		bad, serr := atomicfile.SetAside(f.file)
		if serr != nil {
			return fmt.Errorf("fleet exemptions: %w", serr)
		}
		f.log.Error("saved fleet exemptions unreadable, set aside", "file", f.file, "moved_to", bad, "err", err)
		return nil
	}
	f.updated = e.Updated
	f.replace(e.Prefixes)
	f.log.Info("fleet exemptions loaded", "file", f.file, "prefixes", len(e.Prefixes), "updated", e.Updated)
	return nil
}

func (f *fleetExempt) replace(ps []netip.Prefix) {
	f.set.Replace(ps)
	f.n.Store(int64(len(ps)))
}

// exemptPoll is how often the exemption list is read again from the
// bucket (updates are announced on subject.ExemptUpdates in between).
const exemptPoll = 5 * time.Minute

// run takes the exemption lists the coordinator announces, and reads the
// fleet bucket's key at start, after each reconnect and every exemptPoll,
// until ctx ends. (Agents may subscribe to the announcements and get that
// one key, nothing more: no consumers, whose deliver subject would be
// theirs to choose.)
func (f *fleetExempt) run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, reconnected <-chan struct{}) error {
	sub, err := nc.Subscribe(subject.ExemptUpdates, func(m *nats.Msg) { f.take(m.Data, false) })
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", subject.ExemptUpdates, err)
	}
	defer sub.Unsubscribe()
	kv, err := waitBucket(ctx, f.log, func(ctx context.Context) (jetstream.KeyValue, error) {
		return js.KeyValue(ctx, subject.FleetBucket)
	})
	if err != nil || kv == nil {
		return err
	}
	for {
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ent, err := kv.Get(gctx, subject.ExemptKey)
		cancel()
		switch {
		case err == nil:
			f.take(ent.Value(), true)
		case !errors.Is(err, jetstream.ErrKeyNotFound) && ctx.Err() == nil:
			f.log.Warn("fleet exemptions not read", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-reconnected:
		case <-time.After(exemptPoll):
		}
	}
}

// take applies one exemption list, read from the bucket (stored: it is
// the current one) or announced; a bad one, or an announcement older than
// the list held (delivered late), is ignored.
func (f *fleetExempt) take(data []byte, stored bool) {
	var e wire.Exempt
	if err := wire.Decode(data, &e); err != nil {
		f.log.Warn("bad fleet exemption list ignored", "err", err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !stored && !e.Updated.After(f.updated) {
		return
	}
	f.updated = e.Updated
	f.replace(e.Prefixes)
	if err := atomicfile.Write(f.file, data); err != nil {
		f.log.Warn("fleet exemptions not saved", "file", f.file, "err", err)
	}
	f.log.Debug("fleet exemptions updated", "prefixes", len(e.Prefixes), "by", e.By)
}
