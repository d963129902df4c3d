package firewall

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// None is the Backend that touches no firewall: it logs what it would do and
// keeps the entries in memory, expiring them like the kernel would, so that
// List works. It is meant for dry runs and for hosts without nftables.
type None struct {
	mu      sync.Mutex
	log     *slog.Logger
	now     func() time.Time // replaced in tests
	specs   map[string]JailSpec
	entries map[entryKey]time.Time // expiry; zero time = no timeout
	closed  bool
}

// NewNone returns a None backend logging to logger (nil: discard).
func NewNone(logger *slog.Logger) *None {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &None{
		log:     logger.With("backend", "none"),
		now:     time.Now,
		specs:   make(map[string]JailSpec),
		entries: make(map[entryKey]time.Time),
	}
}

// Declare implements Backend.
func (b *None) Declare(specs ...JailSpec) error {
	var errs []error
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	for _, s := range specs {
		ns, err := normalizeSpec(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.specs[ns.Name] = ns
		b.log.Info("would declare jail", "jail", ns.Name, "match", ns.matchString())
	}
	return errors.Join(errs...)
}

// expire drops entries whose timeout has passed.
func (b *None) expire(now time.Time) {
	for k, exp := range b.entries {
		if !exp.IsZero() && !now.Before(exp) {
			delete(b.entries, k)
		}
	}
}

func (b *None) put(e Entry, now time.Time) {
	var exp time.Time
	if e.Timeout > 0 {
		exp = now.Add(kernelTimeout(e.Timeout))
	}
	b.entries[e.key()] = exp
}

// Apply implements Backend.
func (b *None) Apply(add, del []Entry) error {
	add, del, err := applyEntries(add, del)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	now := b.now()
	b.expire(now)
	for _, e := range del {
		delete(b.entries, e.key())
		b.log.Info("would unban", "jail", e.Jail, "addr", e.Addr)
	}
	for _, e := range add {
		b.put(e, now)
		b.log.Info("would ban", "jail", e.Jail, "addr", e.Addr, "timeout", e.Timeout)
	}
	return nil
}

// Reconcile implements Backend.
func (b *None) Reconcile(want []Entry) (added, removed int, err error) {
	want, err = normalizeEntries(want)
	if err != nil {
		return 0, 0, fmt.Errorf("reconcile: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, 0, ErrClosed
	}
	now := b.now()
	b.expire(now)
	stale, missing := diff(want, b.list(now))
	for _, e := range stale {
		delete(b.entries, e.key())
	}
	for _, e := range want {
		b.put(e, now)
	}
	b.log.Info("would reconcile", "want", len(want), "added", missing, "removed", len(stale))
	return missing, len(stale), nil
}

func (b *None) list(now time.Time) []Entry {
	out := make([]Entry, 0, len(b.entries))
	for k, exp := range b.entries {
		var t time.Duration
		if !exp.IsZero() {
			t = exp.Sub(now)
		}
		out = append(out, Entry{Jail: k.jail, Addr: k.addr, Timeout: t})
	}
	sortEntries(out)
	return out
}

// List implements Backend.
func (b *None) List() ([]Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	now := b.now()
	b.expire(now)
	return b.list(now), nil
}

// Walk implements Backend.
func (b *None) Walk(fn func(Entry)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	now := b.now()
	b.expire(now)
	for k, exp := range b.entries {
		var t time.Duration
		if !exp.IsZero() {
			t = exp.Sub(now)
		}
		fn(Entry{Jail: k.jail, Addr: k.addr, Timeout: t})
	}
	return nil
}

// Close implements Backend.
func (b *None) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}
