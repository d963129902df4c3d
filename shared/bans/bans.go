// Package bans is the fleet's ban list: the JetStream KV bucket every agent
// mirrors into its firewall and every coordinator and admin writes to.
//
// A ban is a key "<jail>.<addr>" whose value is a wire.Ban and whose
// per-key TTL is the ban time, so NATS expires bans by itself. The bucket is
// the single source of truth.
package bans

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// ErrExists is returned by Create when the address is already banned in that jail.
var ErrExists = errors.New("already banned")

// ErrNotFound is returned when no such ban exists.
var ErrNotFound = errors.New("no such ban")

// Store reads and writes the bans bucket.
type Store struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
}

// Open binds to the bans bucket; with create it makes the bucket if missing
// (coordinators do, agents and the CLI do not).
func Open(ctx context.Context, js jetstream.JetStream, create bool, replicas int) (*Store, error) {
	var kv jetstream.KeyValue
	var err error
	if create {
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         subject.BansBucket,
			Description:    "banfleet bans; key TTL = ban time",
			History:        1,
			Storage:        jetstream.FileStorage,
			Replicas:       max(replicas, 1),
			LimitMarkerTTL: time.Minute,
		})
	} else {
		kv, err = js.KeyValue(ctx, subject.BansBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", subject.BansBucket, err)
	}
	return &Store{js: js, kv: kv}, nil
}

// KV exposes the bucket (for watchers).
func (s *Store) KV() jetstream.KeyValue { return s.kv }

func ttlOf(b *wire.Ban, now time.Time) time.Duration {
	if b.Expires.IsZero() {
		return 0
	}
	// JetStream TTLs have second granularity; round up so a ban never ends early.
	ttl := b.Expires.Sub(now)
	return max(((ttl+time.Second-1)/time.Second)*time.Second, time.Second)
}

// Create stores a new ban unless one exists for the same jail and address
// (then ErrExists): a coordinator never shortens or duplicates a live ban.
func (s *Store) Create(ctx context.Context, b *wire.Ban, now time.Time) error {
	data, err := wire.Encode(b)
	if err != nil {
		return fmt.Errorf("encode ban %s: %w", b.Addr, err)
	}
	var opts []jetstream.KVCreateOpt
	if ttl := ttlOf(b, now); ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(ttl))
	}
	_, err = s.kv.Create(ctx, Key(b), data, opts...)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("create ban %s in %s: %w", b.Addr, b.Jail, err)
	}
	return nil
}

// Put stores a ban, replacing any ban of the same jail and address and
// setting its TTL anew (manual bans).
func (s *Store) Put(ctx context.Context, b *wire.Ban, now time.Time) error {
	data, err := wire.Encode(b)
	if err != nil {
		return fmt.Errorf("encode ban %s: %w", b.Addr, err)
	}
	subj, opts := PutMsg(b, now)
	if _, err := s.js.Publish(ctx, subj, data, opts...); err != nil {
		return fmt.Errorf("put ban %s in %s: %w", b.Addr, b.Jail, err)
	}
	return nil
}

// Key is the bucket key of b: one per jail and address, and one per host
// for a ban only that host enforces.
func Key(b *wire.Ban) string {
	if b.Only != "" {
		return subject.HostBanKey(b.Jail, b.Addr, b.Only)
	}
	return subject.BanKey(b.Jail, b.Addr)
}

// PutMsg is where and how a ban is written so that its key lasts the ban
// time: KV Put cannot set a TTL, so the ban is published to its key's
// subject with the TTL as the message's.
func PutMsg(b *wire.Ban, now time.Time) (string, []jetstream.PublishOpt) {
	var opts []jetstream.PublishOpt
	if ttl := ttlOf(b, now); ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	return "$KV." + subject.BansBucket + "." + Key(b), opts
}

// Delete removes the ban of addr in jail; ErrNotFound if there is none.
func (s *Store) Delete(ctx context.Context, jail string, addr netip.Addr) error {
	return s.DeleteKey(ctx, subject.BanKey(jail, addr))
}

// DeleteKey removes the ban stored under key; ErrNotFound if there is none.
func (s *Store) DeleteKey(ctx context.Context, key string) error {
	jail, addr, _ := subject.ParseBanKey(key)
	if _, err := s.kv.Get(ctx, key); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("get ban %s in %s: %w", addr, jail, err)
	}
	if err := s.kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("delete ban %s in %s: %w", addr, jail, err)
	}
	return nil
}

// Lift writes a purge marker for addr in jail whether or not the bucket
// holds a ban: every agent ends its own ban of it (one it made alone while
// NATS was away) on seeing the marker.
func (s *Store) Lift(ctx context.Context, jail string, addr netip.Addr) error {
	if err := s.kv.Purge(ctx, subject.BanKey(jail, addr)); err != nil {
		return fmt.Errorf("lift ban %s in %s: %w", addr, jail, err)
	}
	return nil
}

// Get returns the ban of addr in jail.
func (s *Store) Get(ctx context.Context, jail string, addr netip.Addr) (*wire.Ban, error) {
	e, err := s.kv.Get(ctx, subject.BanKey(jail, addr))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get ban %s in %s: %w", addr, jail, err)
	}
	var b wire.Ban
	if err := wire.Decode(e.Value(), &b); err != nil {
		return nil, fmt.Errorf("ban key %s: %w", e.Key(), err)
	}
	return &b, nil
}

// List returns every live ban. Values that do not decode are reported in
// bad (by key) and skipped.
func (s *Store) List(ctx context.Context) (list []wire.Ban, bad []string, err error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, nil, fmt.Errorf("list bans: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("list bans: %w", ctx.Err())
		case e := <-w.Updates():
			if e == nil {
				return list, bad, nil
			}
			b, err := Decode(e)
			if err != nil {
				bad = append(bad, e.Key())
				continue
			}
			list = append(list, *b)
		}
	}
}

// Decode turns a bucket entry into a ban and checks that its key matches.
func Decode(e jetstream.KeyValueEntry) (*wire.Ban, error) {
	var b wire.Ban
	if err := wire.Decode(e.Value(), &b); err != nil {
		return nil, fmt.Errorf("ban key %s: %w", e.Key(), err)
	}
	if Key(&b) != e.Key() {
		return nil, fmt.Errorf("ban key %s: %w: value names %s in %s", e.Key(), wire.ErrMalformed, b.Addr, b.Jail)
	}
	return &b, nil
}
