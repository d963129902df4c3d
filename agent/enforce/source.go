package enforce

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/banfleet/banfleet/shared/subject"
)

// updates is what the enforcer reads the bucket through: a KV watch, or
// (Options.JetStream set) streamWatch.
type updates interface {
	Updates() <-chan jetstream.KeyValueEntry
	Stop() error
}

// pullBuffer is how many messages streamWatch lets the client buffer
// (about 4 MB): reading a million bans, NATS delivers them faster than
// with 4096 (by a tenth to a fifth with 16384, whose 8 MB the agent's
// memory budget does not allow at a million bans).
const pullBuffer = 8192

// streamWatch reads the bans bucket like a KV watch (the last value of
// each key, a nil entry once they are all delivered, then every change) but
// through a pull ordered consumer: the client buffers at most pullBuffer
// messages, where a KV watch's push consumer lets up to 64 MB pile up in
// the subscription while the firewall is slower than the bucket (and then
// drops messages and resets the consumer).
func streamWatch(ctx context.Context, js jetstream.JetStream, drop func(rev uint64) bool) (updates, error) {
	name := "KV_" + subject.BansBucket
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("bans stream: %w", err)
	}
	empty := stream.CachedInfo().State.Msgs == 0
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$KV." + subject.BansBucket + ".>"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("bans consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(pullBuffer))
	if err != nil {
		return nil, fmt.Errorf("bans consumer: %w", err)
	}
	w := &pullWatch{ch: make(chan jetstream.KeyValueEntry, 256), it: it, stop: make(chan struct{}), drop: drop}
	go w.run(empty)
	return w, nil
}

type pullWatch struct {
	ch   chan jetstream.KeyValueEntry
	it   jetstream.MessagesContext
	stop chan struct{}
	once sync.Once
	drop func(rev uint64) bool // tests: messages lost on the way
}

func (w *pullWatch) Updates() <-chan jetstream.KeyValueEntry { return w.ch }

func (w *pullWatch) Stop() error {
	w.once.Do(func() {
		close(w.stop)
		w.it.Stop()
	})
	return nil
}

func (w *pullWatch) send(e jetstream.KeyValueEntry) bool {
	select {
	case w.ch <- e:
		return true
	case <-w.stop:
		return false
	}
}

func (w *pullWatch) run(empty bool) {
	defer close(w.ch)
	synced := empty
	if synced && !w.send(nil) {
		return
	}
	prefix := "$KV." + subject.BansBucket + "."
	for {
		m, err := w.it.Next()
		if err != nil {
			return // stopped, or the consumer is lost: the enforcer watches anew
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		key, ok := strings.CutPrefix(m.Subject(), prefix)
		if !ok || (w.drop != nil && w.drop(meta.Sequence.Stream)) {
			continue
		}
		ent := &kvEntry{key: key, value: m.Data(), rev: meta.Sequence.Stream, delta: meta.NumPending, created: meta.Timestamp, op: opOf(m)}
		if !w.send(ent) {
			return
		}
		if !synced && meta.NumPending == 0 {
			synced = true
			if !w.send(nil) {
				return
			}
		}
	}
}

// opOf tells a bucket message's operation as a KV watch does.
func opOf(m jetstream.Msg) jetstream.KeyValueOp {
	h := m.Headers()
	if len(h) == 0 {
		return jetstream.KeyValuePut
	}
	switch h.Get("KV-Operation") {
	case "DEL":
		return jetstream.KeyValueDelete
	case "PURGE":
		return jetstream.KeyValuePurge
	}
	switch h.Get(jetstream.MarkerReasonHeader) {
	case "MaxAge", "Purge":
		return jetstream.KeyValuePurge
	case "Remove":
		return jetstream.KeyValueDelete
	}
	return jetstream.KeyValuePut
}

// kvEntry is a bucket message as a KV entry.
type kvEntry struct {
	key     string
	value   []byte
	rev     uint64
	delta   uint64
	created time.Time
	op      jetstream.KeyValueOp
}

var _ jetstream.KeyValueEntry = (*kvEntry)(nil)

func (e *kvEntry) Bucket() string                  { return subject.BansBucket }
func (e *kvEntry) Key() string                     { return e.key }
func (e *kvEntry) Value() []byte                   { return e.value }
func (e *kvEntry) Revision() uint64                { return e.rev }
func (e *kvEntry) Created() time.Time              { return e.created }
func (e *kvEntry) Delta() uint64                   { return e.delta }
func (e *kvEntry) Operation() jetstream.KeyValueOp { return e.op }
