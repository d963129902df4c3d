// Package publish sends an agent's offences to JetStream. Each offence is
// published with a Msg-Id built from the host and the offence's id, so a
// retry (after a timeout, a reconnect or an agent restart that re-reads the
// same lines) is stored once: the stream de-duplicates it.
//
// Offences are pipelined: up to maxInFlight are sent ahead of their acks,
// and the acks are handled in order, so an offence is marked done (the
// source's saved position may pass it) only when it and all before it are
// stored. While the connection holds they are stored in the order queued;
// when one is lost with a connection, the ones sent after it may be stored
// before it is sent again (at most maxInFlight later; the coordinator
// orders a window's offences by time).
package publish

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// Publisher queues offences and publishes them in order, pipelined.
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

	// failingSince is when the oldest offence in flight, still not
	// stored, first failed (Unix nanoseconds; 0: the last ack was a
	// success).
	failingSince atomic.Int64
	// unstored counts offences queued and not stored yet (those in
	// flight included).
	unstored atomic.Int64

	published, duplicates, dropped, errors prometheus.Counter
}

// FailingSince is when the oldest offence in flight first failed to be
// stored, or zero when the last ack was a success.
func (p *Publisher) FailingSince() time.Time {
	if s := p.failingSince.Load(); s != 0 {
		return time.Unix(0, s)
	}
	return time.Time{}
}

// Queued is how many offences wait to be stored: those queued and those
// in flight.
func (p *Publisher) Queued() int { return int(p.unstored.Load()) }

// Options configures a Publisher.
type Options struct {
	Host     string
	Queue    int // offences held while NATS is slow or away, besides those in flight; default 10000
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
// spool. done, if not nil, is called once JetStream has stored the offence
// and every offence offered before it, in the order offered.
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

// Run publishes queued offences until ctx ends. Up to maxInFlight are sent
// ahead of their acks; the acks are handled in the order the offences were
// queued, and an offence is done (its done called) only once it and every
// offence before it are stored. When the oldest one in flight fails (an
// error, no ack within ackWait, a send refused), it and everything sent
// after it are sent again with the same Msg-Ids, after a backoff: what was
// stored already is not stored twice. When ctx ends it still tries, for up
// to drainFor, to send what is in flight and queued.
func (p *Publisher) Run(ctx context.Context) error {
	pj, err := p.asyncPublisher()
	if err != nil {
		return err
	}
	var w window
	if p.pump(ctx, pj, &w, false) == nil {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.Background(), drainFor)
	defer cancel()
	if p.pump(dctx, pj, &w, true) != nil {
		p.unsent(len(w) + len(p.queue))
	}
	return nil
}

// maxInFlight bounds the offences sent and not acknowledged yet. One
// offence per round trip caps a host at 1/RTT offences/s however fast the
// server is; 256 in flight (about 80 kB of messages) keep a LAN or WAN
// round trip covered at tens of thousands of offences/s, while bounding
// what a failure sends again and staying well under the pending acks
// allowed to the publishing context (maxPendingAcks).
const maxInFlight = 256

// maxPendingAcks bounds the acks the publishing context waits for: those
// in flight and those of sends given up on after a failure (each is
// dropped by the client after ackWait).
const maxPendingAcks = 4 * maxInFlight

// ackWait is how long a sent offence waits for its ack before it and
// what follows it are sent again.
const ackWait = 2 * time.Second

// asyncPublisher is a JetStream context on the attached connection for
// this publisher's sends alone: its acks time out after ackWait (an ack
// that never comes would otherwise hold its slot for ever).
func (p *Publisher) asyncPublisher() (jetstream.JetStream, error) {
	if p.js == nil {
		return nil, errors.New("publish offences: no JetStream attached")
	}
	pj, err := jetstream.New(p.js.Conn(), jetstream.WithPublishAsyncTimeout(ackWait), jetstream.WithPublishAsyncMaxPending(maxPendingAcks))
	if err != nil {
		return nil, fmt.Errorf("publish offences: %w", err)
	}
	return pj, nil
}

// flight is a queued offence taken by Run: encoded, and sent or not.
type flight struct {
	q    queued
	subj string
	data []byte // nil: not encodable (logged), done without a send
	fut  jetstream.PubAckFuture
	// err is why the last send was refused (fut is nil then); nil with
	// fut nil: not sent yet (a send before it was refused).
	err error
}

// window holds the offences taken from the queue and not stored yet, in
// order. Each one sent was sent after all before it; after a refused send
// nothing more is sent until the window is sent again.
type window []*flight

func (p *Publisher) take(q queued) *flight {
	f := &flight{q: q}
	data, err := wire.Encode(q.o)
	if err != nil {
		p.log.Error("offence not encodable", "jail", q.o.Jail, "id", q.o.ID, "err", err)
		return f
	}
	f.data = data
	f.subj = subject.Offence(subject.Shard(netaddr.Canonical(q.o.Addr), p.shards), p.host)
	return f
}

// send sends f; it reports false when the send was refused.
func (p *Publisher) send(pj jetstream.JetStream, f *flight) bool {
	f.fut, f.err = nil, nil
	if f.data == nil {
		return true
	}
	if !pj.Conn().IsConnected() {
		// Not into the client's reconnect buffer: what was lost with the
		// connection is sent again first, and what follows after it.
		f.err = nats.ErrDisconnected
		return false
	}
	fut, err := pj.PublishAsync(f.subj, f.data, jetstream.WithMsgID(MsgID(f.q.o)), jetstream.WithStallWait(ackWait))
	if err != nil {
		f.err = err
		return false
	}
	f.fut = fut
	return true
}

// pump sends and settles offences in order until ctx ends (it returns
// ctx's error) or, with untilEmpty, until nothing is queued or in flight
// (it returns nil).
func (p *Publisher) pump(ctx context.Context, pj jetstream.JetStream, w *window, untilEmpty bool) error {
	backoff := p.minBackoff
	// blocked: a send was refused; nothing after it is sent until the
	// window is sent again.
	blocked := false
	for {
		// Take what is queued: without waiting when something is in
		// flight (its ack is waited for below).
		for len(*w) < maxInFlight && !blocked {
			var q queued
			if len(*w) == 0 {
				if untilEmpty {
					select {
					case q = <-p.queue:
					default:
						return nil
					}
				} else {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case q = <-p.queue:
					}
				}
			} else {
				select {
				case q = <-p.queue:
				default:
				}
				if q.o == nil {
					break
				}
			}
			f := p.take(q)
			*w = append(*w, f)
			blocked = !p.send(pj, f)
		}
		head := (*w)[0]
		var err error
		switch {
		case head.data == nil: // not encodable: nothing to wait for
			p.settle(w, nil)
			continue
		case head.fut == nil:
			err = head.err
			if err == nil {
				err = errNotSent
			}
		default:
			var take <-chan queued
			if len(*w) < maxInFlight && !blocked {
				take = p.queue
			}
			select {
			case ack := <-head.fut.Ok():
				p.settle(w, ack)
				backoff = p.minBackoff
				continue
			case err = <-head.fut.Err():
			case q := <-take:
				f := p.take(q)
				*w = append(*w, f)
				blocked = !p.send(pj, f)
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// The oldest offence was not stored: wait, then send it and all
		// after it again.
		p.errors.Inc()
		p.failingSince.CompareAndSwap(0, time.Now().UnixNano())
		if !errors.Is(err, jetstream.ErrAsyncPublishTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			p.log.Warn("publish failed, retrying", "jail", head.q.o.Jail, "addr", head.q.o.Addr, "in_flight", len(*w), "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-p.wake:
			t.Stop()
			backoff = p.minBackoff
		case <-t.C:
			backoff = min(backoff*2, p.maxBackoff)
		}
		blocked = !p.resend(pj, *w)
	}
}

// resend sends w again in order, but not what is known stored already.
// It stops at a refused send and reports false then.
func (p *Publisher) resend(pj jetstream.JetStream, w window) bool {
	for i, f := range w {
		if f.fut != nil {
			select {
			case ack := <-f.fut.Ok():
				// Stored since: keep the ack for settle.
				f.fut = storedFuture{ack}
				continue
			default:
			}
		}
		if !p.send(pj, f) {
			for _, after := range w[i+1:] {
				if _, stored := after.fut.(storedFuture); !stored {
					after.fut, after.err = nil, nil // not sent since
				}
			}
			return false
		}
	}
	return true
}

// settle completes the oldest offence in w: JetStream has stored it
// (ack), or it is not encodable (ack nil).
func (p *Publisher) settle(w *window, ack *jetstream.PubAck) {
	f := (*w)[0]
	(*w)[0] = nil
	*w = (*w)[1:]
	if ack != nil {
		p.failingSince.Store(0)
		if ack.Duplicate {
			p.duplicates.Inc()
		} else {
			p.published.Inc()
		}
		p.log.Debug("offence published", "jail", f.q.o.Jail, "addr", f.q.o.Addr, "id", f.q.o.ID, "duplicate", ack.Duplicate)
	}
	p.unstored.Add(-1)
	if f.q.done != nil {
		f.q.done()
	}
}

// storedFuture is the future of a send whose ack came already.
type storedFuture struct{ ack *jetstream.PubAck }

func (s storedFuture) Ok() <-chan *jetstream.PubAck {
	c := make(chan *jetstream.PubAck, 1)
	c <- s.ack
	return c
}
func (storedFuture) Err() <-chan error { return nil }
func (storedFuture) Msg() *nats.Msg    { return nil }

var _ jetstream.PubAckFuture = storedFuture{}

// drainFor bounds the send of what is in flight and queued at shutdown.
const drainFor = 2 * time.Second

func (p *Publisher) unsent(n int) {
	p.dropped.Add(float64(n))
	p.log.Warn("offences not sent before stopping; they are read again at the next start", "count", n)
}

// Retry delays of a publish that failed: doubling from minBackoff up to
// maxBackoff. A publish attempt itself waits up to ackWait for its ack, so an
// outage costs at most about 3 s of delay after NATS is back, and nothing
// once the reconnection is announced (Wake).
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// OffenceID is the id of an offence: the first 128 bits of a SHA-256 of
// the jail, the line's place in its source (file and offset, or journal
// cursor) and the line, in unpadded base64url: 22 characters whatever the
// names and the line. It is as unique as those three together (two jails
// matching one line get two ids) and, with MsgID, is what the server keeps
// per offence for the stream's de-duplication window: small and fixed.
func OffenceID(jail, place string, line []byte) string {
	h := sha256.New()
	h.Write([]byte(jail))
	h.Write([]byte{0})
	h.Write([]byte(place))
	h.Write([]byte{0})
	h.Write(line)
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:16])
}
