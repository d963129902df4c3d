// Package publish sends an agent's offences to JetStream. Each offence is
// published with a Msg-Id built from the host and the offence's id, so a
// retry (after a timeout, a reconnect or an agent restart that re-reads the
// same lines) is stored once: the stream de-duplicates it.
package publish

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// Publisher queues offences and publishes them in order.
type Publisher struct {
	js     jetstream.JetStream
	host   string
	log    *slog.Logger
	queue  chan queued
	shards int
	// wake cuts a retry's wait short (capacity 1): NATS is back.
	wake chan struct{}
	// minBackoff and maxBackoff bound the waits between attempts (tests
	// change them).
	minBackoff, maxBackoff time.Duration

	// failingSince is when the publish that is still failing first failed
	// (Unix nanoseconds; 0: the last attempt succeeded).
	failingSince atomic.Int64
	// unstored counts offences queued and not stored yet (the one being
	// sent included).
	unstored atomic.Int64

	published, duplicates, dropped, errors prometheus.Counter
}

// FailingSince is when the offence being published first failed to be
// stored, or zero when the last attempt succeeded.
func (p *Publisher) FailingSince() time.Time {
	if s := p.failingSince.Load(); s != 0 {
		return time.Unix(0, s)
	}
	return time.Time{}
}

// Queued is how many offences wait to be stored: those queued and the one
// being sent.
func (p *Publisher) Queued() int { return int(p.unstored.Load()) }

// Options configures a Publisher.
type Options struct {
	Host     string
	Queue    int // offences held while NATS is slow or away; default 10000
	Shards   int // default subject.DefaultShards
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// New returns a publisher for js. js may be nil when the connection is
// made later (offences are queued meanwhile); Attach it before Run.
func New(js jetstream.JetStream, o Options) *Publisher {
	if o.Queue <= 0 {
		o.Queue = 10000
	}
	if o.Shards <= 0 {
		o.Shards = subject.DefaultShards
	}
	p := &Publisher{
		js: js, host: o.Host, log: o.Logger, queue: make(chan queued, o.Queue), shards: o.Shards, wake: make(chan struct{}, 1),
		minBackoff: minBackoff, maxBackoff: maxBackoff,
		published:  prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_offences_published_total", Help: "Offences stored by JetStream."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_offences_duplicate_total", Help: "Offences JetStream already had (retries)."}),
		dropped:    prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_offences_unsent_total", Help: "Offences not stored when the agent stopped (read again at the next start)."}),
		errors:     prometheus.NewCounter(prometheus.CounterOpts{Name: "banfleet_agent_publish_errors_total", Help: "Failed publish attempts (each is retried)."}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(p.published, p.duplicates, p.dropped, p.errors)
	}
	return p
}

// Attach sets the JetStream a publisher made without one publishes to. It
// must be called before Run.
func (p *Publisher) Attach(js jetstream.JetStream) { p.js = js }

// Wake tells the publisher that NATS is reachable again (a reconnection):
// an offence waiting to be retried is sent at once, and the retry delay
// starts again from its shortest, so what queued during an outage is
// flushed without a backoff left over from it. It never blocks.
func (p *Publisher) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

type queued struct {
	o    *wire.Offence
	done func()
}

// Offer queues an offence. When the queue is full (NATS slow or away) it
// blocks, so the log is not read further: the log file itself is the
// spool. done, if not nil, is called once JetStream has stored the offence.
// Offer reports false when ctx ended first (or had ended).
func (p *Publisher) Offer(ctx context.Context, o *wire.Offence, done func()) bool {
	if ctx.Err() != nil {
		// Stopping: nothing more is queued, even with room (a later line
		// queued and stored after an earlier one was refused would let
		// the saved position pass the earlier one).
		return false
	}
	p.unstored.Add(1) // before Run can take it
	select {
	case p.queue <- queued{o: o, done: done}:
		return true
	case <-ctx.Done():
		p.unstored.Add(-1)
		return false
	}
}

// MsgID is the JetStream de-duplication id of an offence.
func MsgID(o *wire.Offence) string { return o.Host + "/" + o.ID }

// Run publishes queued offences until ctx ends, retrying each with the same
// Msg-Id until JetStream stores it. When ctx ends it still tries, for up to
// drainFor, to send what is queued.
func (p *Publisher) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			p.drain()
			return nil
		case q := <-p.queue:
			if err := p.publish(ctx, q.o); err != nil {
				p.unsent(1)
				p.drain()
				return nil // ctx ended
			}
			p.unstored.Add(-1)
			if q.done != nil {
				q.done()
			}
		}
	}
}

// drainFor bounds the send of the queue at shutdown.
const drainFor = 2 * time.Second

func (p *Publisher) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), drainFor)
	defer cancel()
	for {
		select {
		case q := <-p.queue:
			if p.publish(ctx, q.o) != nil {
				p.unsent(1 + len(p.queue))
				return
			}
			p.unstored.Add(-1)
			if q.done != nil {
				q.done()
			}
		default:
			return
		}
	}
}

func (p *Publisher) unsent(n int) {
	p.dropped.Add(float64(n))
	p.log.Warn("offences not sent before stopping; they are read again at the next start", "count", n)
}

func (p *Publisher) publish(ctx context.Context, o *wire.Offence) error {
	data, err := wire.Encode(o)
	if err != nil {
		p.log.Error("offence not encodable", "err", err)
		return nil
	}
	subj := subject.Offence(subject.Shard(netaddr.Canonical(o.Addr), p.shards), p.host)
	backoff := p.minBackoff
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ack, err := p.js.Publish(pctx, subj, data, jetstream.WithMsgID(MsgID(o)))
		cancel()
		if err == nil {
			p.failingSince.Store(0)
			if ack.Duplicate {
				p.duplicates.Inc()
			} else {
				p.published.Inc()
			}
			p.log.Debug("offence published", "jail", o.Jail, "addr", o.Addr, "id", o.ID, "duplicate", ack.Duplicate)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.errors.Inc()
		p.failingSince.CompareAndSwap(0, time.Now().UnixNano())
		if !errors.Is(err, context.DeadlineExceeded) {
			p.log.Warn("publish failed, retrying", "jail", o.Jail, "addr", o.Addr, "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-p.wake:
			t.Stop()
			backoff = p.minBackoff
			continue
		case <-t.C:
		}
		backoff = min(backoff*2, p.maxBackoff)
	}
}

// Retry delays of a publish that failed: doubling from minBackoff up to
// maxBackoff. A publish attempt itself waits up to 2 s for its ack, so an
// outage costs at most about 3 s of delay after NATS is back, and nothing
// once the reconnection is announced (Wake).
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)
