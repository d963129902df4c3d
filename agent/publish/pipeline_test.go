package publish

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/coordinator/natsd"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// marks records the done calls of offences, as a source's spool marks do:
// each must come once, and in the order the offences were offered.
type marks struct {
	mu   sync.Mutex
	got  []int
	errs []string
}

func (m *marks) done(i int) func() {
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.got) != i {
			m.errs = append(m.errs, fmt.Sprintf("offence %d marked done after %d others", i, len(m.got)))
		}
		m.got = append(m.got, i)
	}
}

func (m *marks) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.got)
}

func testOffence(i int) *wire.Offence {
	return &wire.Offence{ID: OffenceID("sshd", "f-"+strconv.Itoa(i), nil), Host: "h1", Jail: "sshd",
		Addr: netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), Time: time.Unix(1_700_000_000, 0).Add(time.Duration(i) * time.Millisecond)}
}

// TestPublishInOrderAcrossRestart: a server restart in the middle of a
// stream of offences loses none and stores none twice (the stream holds
// exactly one message per offence), and every done mark comes once and in
// order, after its offence was stored.
func TestPublishInOrderAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: dir, Name: "restart"})
	require.NoError(t, err)
	url := srv.ClientURL()
	listen := url[len("nats://"):]
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close(); srv.Shutdown() })
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := natstest.Ctx(t, 60*time.Second)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}})
	require.NoError(t, err)

	p := New(js, Options{Host: "h1", Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	p.minBackoff, p.maxBackoff = 10*time.Millisecond, 100*time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { _ = p.Run(rctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })

	const n = 5000
	var m marks
	offered := make(chan struct{})
	go func() {
		defer close(offered)
		for i := range n {
			if !p.Offer(ctx, testOffence(i), m.done(i)) {
				return
			}
		}
	}()
	require.Eventually(t, func() bool { return m.count() >= n/4 }, 30*time.Second, time.Millisecond)
	before := m.count() // stored before the restart
	srv.Shutdown()
	srv, err = natsd.Start(natsd.Options{Listen: listen, StoreDir: dir, Name: "restart"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return m.count() == n }, 45*time.Second, 10*time.Millisecond)
	<-offered

	m.mu.Lock()
	require.Empty(t, m.errs)
	m.mu.Unlock()
	require.Less(t, before, n, "the restart came while offences were sent")
	require.GreaterOrEqual(t, testutil.ToFloat64(p.errors), 1.0, "the restart failed sends, which were retried")
	require.Zero(t, p.Queued())
	require.True(t, p.FailingSince().IsZero())
	require.EqualValues(t, n, testutil.ToFloat64(p.published)+testutil.ToFloat64(p.duplicates))

	st, err := js.Stream(ctx, subject.OffenceStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, n, info.State.Msgs, "one stored message per offence: none lost, none stored twice")
	// Stored in the order offered while the connection held; across the
	// lost connection an offence sent after one that was lost can be
	// stored before it is sent again, but at most maxInFlight after.
	for seq := uint64(1); seq <= n; seq++ {
		raw, err := st.GetMsg(ctx, seq)
		require.NoError(t, err)
		var o wire.Offence
		require.NoError(t, wire.Decode(raw.Data, &o))
		i := int(o.Time.Sub(testOffence(0).Time) / time.Millisecond) // the offence's index
		require.Equal(t, testOffence(i).ID, o.ID, "message %d", seq)
		if int(seq) <= before {
			require.Equal(t, int(seq-1), i, "message %d, stored before the restart", seq)
		}
		require.Less(t, max(i-int(seq-1), int(seq-1)-i), maxInFlight, "message %d is offence %d", seq, i)
	}
}

// BenchmarkPublish reports offences/s stored by JetStream (acked) from one
// publisher to an embedded server with file storage: on loopback, and
// through a proxy that delays each direction by half a round trip, as a
// network between hosts does.
func BenchmarkPublish(b *testing.B) {
	for _, rtt := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		b.Run("rtt="+rtt.String(), func(b *testing.B) { benchmarkPublish(b, rtt) })
	}
}

func benchmarkPublish(b *testing.B, rtt time.Duration) {
	ns := natstest.Start(b)
	ctx := context.Background()
	_, err := ns.JS.CreateStream(ctx, jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}})
	require.NoError(b, err)
	js := ns.JS
	if rtt > 0 {
		nc, err := nats.Connect("nats://" + delayProxy(b, strings.TrimPrefix(ns.URL, "nats://"), rtt/2))
		require.NoError(b, err)
		b.Cleanup(nc.Close)
		js, err = jetstream.New(nc)
		require.NoError(b, err)
	}
	p := New(js, Options{Host: "h1", Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { _ = p.Run(rctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	offences := make([]*wire.Offence, b.N)
	for i := range offences {
		offences[i] = testOffence(i)
		offences[i].ID = OffenceID("sshd", "bench-"+strconv.Itoa(b.N)+"-"+strconv.Itoa(i), nil) // new per run: no duplicates
	}
	last := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	for i, o := range offences {
		var done func()
		if i == len(offences)-1 {
			done = func() { close(last) }
		}
		if !p.Offer(ctx, o, done) {
			b.Fatal("offer refused")
		}
	}
	<-last
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "offences/s")
}

// delayProxy forwards TCP connections to target, each byte delayed by
// oneWay in each direction; it returns its address.
func delayProxy(tb testing.TB, target string, oneWay time.Duration) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			tb.Cleanup(func() { _ = c.Close(); _ = s.Close() })
			go delayCopy(s, c, oneWay)
			go delayCopy(c, s, oneWay)
		}
	}()
	return l.Addr().String()
}

func delayCopy(dst, src net.Conn, d time.Duration) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	ch := make(chan chunk, 4096)
	go func() {
		defer close(ch)
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{time.Now().Add(d), append([]byte(nil), buf[:n]...)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
	_ = dst.Close()
}

// A cancel while offences cannot be stored stops Run after drainFor: none
// is marked done, and all are counted unsent (read again at the next
// start).
func TestCancelStopsWithUnsent(t *testing.T) {
	ns := natstest.Start(t) // no stream: nothing is stored
	p := New(ns.JS, Options{Host: "h1", Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(ctx) }()
	var m marks
	for i := range 10 {
		require.True(t, p.Offer(ctx, testOffence(i), m.done(i)))
	}
	require.Eventually(t, func() bool { return testutil.ToFloat64(p.errors) >= 1 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-stopped)
	require.Zero(t, m.count())
	require.EqualValues(t, 10, testutil.ToFloat64(p.dropped))
	require.False(t, p.Offer(ctx, testOffence(10), nil), "stopped: nothing more queued")
}

func TestOffenceID(t *testing.T) {
	line := []byte("Dec  8 01:00:00 h1 sshd[7]: Failed password for root from 203.0.113.9 port 1 ssh2")
	ids := map[string]string{}
	for _, c := range []struct{ name, jail, place string }{
		{"base", "sshd", "f-1c-0"},
		{"other jail", "sshd-twice", "f-1c-0"},
		{"other offset", "sshd", "f-1c-1"},
		{"jail and place split elsewhere", "sshd-", "twice/f-1c-0"},
	} {
		id := OffenceID(c.jail, c.place, line)
		require.Len(t, id, 22, c.name)
		require.Regexp(t, `^[A-Za-z0-9_-]{22}$`, id, c.name)
		for name, other := range ids {
			require.NotEqual(t, other, id, "%s and %s", c.name, name)
		}
		ids[c.name] = id
	}
	require.Equal(t, ids["base"], OffenceID("sshd", "f-1c-0", line), "the same line read again has the same id")
	require.NotEqual(t, ids["base"], OffenceID("sshd", "f-1c-0", append(line, '!')))
}
