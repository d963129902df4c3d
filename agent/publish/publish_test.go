package publish

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func TestPublishDeduplicates(t *testing.T) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 30*time.Second)
	st, err := ns.JS.CreateStream(ctx, jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}})
	require.NoError(t, err)

	p := New(ns.JS, Options{Host: "h1", Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	o := &wire.Offence{ID: "12:0:abc", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"), Time: time.Now()}
	other := *o
	other.ID = "12:80:def"
	// The same offence offered three times (retries, a re-read after restart) is stored once.
	require.True(t, p.Offer(ctx, o, nil))
	require.True(t, p.Offer(ctx, o, nil))
	require.True(t, p.Offer(ctx, &other, nil))
	require.True(t, p.Offer(ctx, o, nil))
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(p.published) == 2 && testutil.ToFloat64(p.duplicates) == 2
	}, 10*time.Second, 10*time.Millisecond)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, info.State.Msgs)

	// The stored message is on the address's shard subject for this host.
	msg, err := st.GetLastMsgForSubject(ctx, subject.Offence(subject.Shard(o.Addr, subject.DefaultShards), "h1"))
	require.NoError(t, err)
	var got wire.Offence
	require.NoError(t, wire.Decode(msg.Data, &got))
	require.Equal(t, "h1", got.Host)
}

func TestPublishRetriesUntilStreamExists(t *testing.T) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 30*time.Second)
	p := New(ns.JS, Options{Host: "h1", Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	acked := make(chan struct{})
	require.True(t, p.Offer(ctx, &wire.Offence{ID: "1:0:x", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"), Time: time.Now()}, func() { close(acked) }))
	require.Eventually(t, func() bool { return testutil.ToFloat64(p.errors) >= 1 }, 10*time.Second, 10*time.Millisecond)
	_, err := ns.JS.CreateStream(ctx, jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return testutil.ToFloat64(p.published) == 1 }, 15*time.Second, 20*time.Millisecond)
	select {
	case <-acked:
	case <-time.After(5 * time.Second):
		t.Fatal("done was not called after the offence was stored")
	}
}

// A full queue makes Offer wait (the log is not read further) until the
// caller gives up.
func TestOfferBlocksWhenFull(t *testing.T) {
	ns := natstest.Start(t)
	p := New(ns.JS, Options{Host: "h1", Queue: 1, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	o := &wire.Offence{ID: "1:0:x", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"), Time: time.Now()}
	require.True(t, p.Offer(context.Background(), o, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.False(t, p.Offer(ctx, o, nil), "no Run: the queue stays full")
}

// Once the agent is stopping nothing more is queued, even with room: an
// earlier line refused and a later one stored would let the saved
// position pass the earlier one.
func TestOfferRefusesWhenStopping(t *testing.T) {
	p := New(nil, Options{Host: "h1", Queue: 10, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := &wire.Offence{ID: "1:0:x", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"), Time: time.Now()}
	for range 100 { // select would pick the free queue half the time
		require.False(t, p.Offer(ctx, o, nil))
	}
	require.Zero(t, len(p.queue))
}

// Queued counts the offences in flight too: with no stream, both are
// taken from the queue, sent and retried for ever.
func TestQueuedCountsInFlight(t *testing.T) {
	ns := natstest.Start(t)
	p := New(ns.JS, Options{Host: "h1", Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	o := &wire.Offence{ID: "1:0:x", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"), Time: time.Now()}
	require.True(t, p.Offer(ctx, o, nil))
	require.True(t, p.Offer(ctx, o, nil))
	require.Eventually(t, func() bool { return len(p.queue) == 0 && testutil.ToFloat64(p.errors) >= 1 }, 10*time.Second, 10*time.Millisecond, "Run took both")
	require.Equal(t, 2, p.Queued())
}

// After an outage the queued offence is sent as soon as the reconnection
// is announced (Wake), whatever the retry delay had grown to.
func TestWakeRetriesAtOnce(t *testing.T) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 30*time.Second)
	p := New(ns.JS, Options{Host: "h1", Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	p.minBackoff, p.maxBackoff = time.Hour, time.Hour // only Wake can cut the wait short
	p.Wake()                                          // a wake before any failure is spent on the first retry
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	require.True(t, p.Offer(ctx, &wire.Offence{ID: "1:0:w", Host: "h1", Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"), Time: time.Now()}, nil))
	require.Eventually(t, func() bool { return testutil.ToFloat64(p.errors) >= 2 }, 10*time.Second, 10*time.Millisecond)
	require.False(t, p.FailingSince().IsZero())
	_, err := ns.JS.CreateStream(ctx, jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}})
	require.NoError(t, err)
	p.Wake()
	require.Eventually(t, func() bool { return testutil.ToFloat64(p.published) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.True(t, p.FailingSince().IsZero())
	require.Zero(t, p.Queued())
}
