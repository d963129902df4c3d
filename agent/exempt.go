package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

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
		return fmt.Errorf("fleet exemptions: %w", err)
	}
	var e wire.Exempt
	if err := wire.Decode(data, &e); err != nil {
		bad := f.file + ".bad"
		f.log.Error("saved fleet exemptions unreadable, set aside", "file", f.file, "moved_to", bad, "err", err)
		if err := os.Rename(f.file, bad); err != nil {
			return fmt.Errorf("fleet exemptions: %w", err)
		}
		return nil
	}
	f.replace(e.Prefixes)
	f.log.Info("fleet exemptions loaded", "file", f.file, "prefixes", len(e.Prefixes), "updated", e.Updated)
	return nil
}

func (f *fleetExempt) replace(ps []netip.Prefix) {
	f.set.Replace(ps)
	f.n.Store(int64(len(ps)))
}

// run follows the fleet bucket's exemption key until ctx ends, keeping the
// list and its file current.
func (f *fleetExempt) run(ctx context.Context, js jetstream.JetStream) error {
	kv, err := waitBucket(ctx, f.log, func(ctx context.Context) (jetstream.KeyValue, error) {
		return js.KeyValue(ctx, subject.FleetBucket)
	})
	if err != nil || kv == nil {
		return err
	}
	for ctx.Err() == nil {
		if err := f.watch(ctx, kv); err != nil && ctx.Err() == nil {
			f.log.Warn("fleet exemptions watch failed, retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func (f *fleetExempt) watch(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.Watch(ctx, subject.ExemptKey, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch %s.%s: %w", subject.FleetBucket, subject.ExemptKey, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ent, ok := <-w.Updates():
			if !ok {
				return errors.New("watch closed")
			}
			if ent != nil {
				f.take(ent.Value())
			}
		}
	}
}

// take applies one value of the exemption key; a bad one is logged and
// ignored (the previous list stays).
func (f *fleetExempt) take(data []byte) {
	var e wire.Exempt
	if err := wire.Decode(data, &e); err != nil {
		f.log.Warn("bad fleet exemption list ignored", "err", err)
		return
	}
	f.replace(e.Prefixes)
	if err := atomicfile.Write(f.file, data); err != nil {
		f.log.Warn("fleet exemptions not saved", "err", err)
	}
	f.log.Debug("fleet exemptions updated", "prefixes", len(e.Prefixes), "by", e.By)
}
