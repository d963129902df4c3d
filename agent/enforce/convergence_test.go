package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netns"

	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/wire"
)

// kernelNS makes a throwaway network namespace (deleted when the test
// ends) and returns an nftables backend in it. Root only; skipped
// otherwise, failed under BANFLEET_E2E=1.
func kernelNS(t *testing.T) *firewall.Nftables {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("BANFLEET_E2E") == "1" {
			t.Fatal("nftables kernel tests need root (BANFLEET_E2E=1 forbids skipping)")
		}
		t.Skip("nftables kernel tests need root")
	}
	name := fmt.Sprintf("bfenf-%d-%08x", os.Getpid(), rand.Uint32())
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	self, err := netns.Get()
	require.NoError(t, err)
	defer self.Close()
	require.False(t, h.Equal(self), "the test namespace is the process's own")
	fw, err := firewall.NewNftables(firewall.NftOptions{NetNS: int(h)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = fw.Close() })
	return fw
}

// fillBans publishes n bans of jail sshd (10.x.y.z from first) straight to
// the key subjects, asynchronously, as bans.Put would.
func fillBans(t testing.TB, js jetstream.JetStream, first, n int) {
	now := time.Now()
	for i := first; i < first+n; i++ {
		b := &wire.Ban{V: wire.Version, Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Jail: "sshd",
			Reason: wire.Reason{Count: 3, Hosts: []string{"h1", "h2"}}, Created: now, Expires: now.Add(time.Hour), By: "coord"}
		data, err := wire.Encode(b)
		require.NoError(t, err)
		if _, err := js.PublishAsync("$KV.bans."+bans.Key(b), data, jetstream.WithMsgTTL(time.Hour)); err != nil {
			t.Fatalf("publish: %v", err)
		}
		if i%2000 == 0 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("publishes not acknowledged")
	}
}

func kernelCount(t *testing.T, fw firewall.Backend) int {
	n := 0
	require.NoError(t, fw.Walk(func(firewall.Entry) { n++ }))
	return n
}

// stallingKV's first watch stops delivering after `after` updates (its
// consumer gone, or an ordered consumer's reset that failed): what the
// enforcer must notice itself.
type stallingKV struct {
	jetstream.KeyValue
	after   int
	watches atomic.Int32
}

func (s *stallingKV) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	w, err := s.KeyValue.WatchAll(ctx, opts...)
	if err != nil || s.watches.Add(1) > 1 {
		return w, err
	}
	sw := &stallingWatcher{KeyWatcher: w, ch: make(chan jetstream.KeyValueEntry), done: make(chan struct{})}
	go func() {
		n := 0
		for ent := range w.Updates() {
			if ent != nil {
				n++
				if n > s.after {
					continue // lost
				}
			}
			select {
			case sw.ch <- ent:
			case <-sw.done:
				return
			}
		}
	}()
	return sw, nil
}

type stallingWatcher struct {
	jetstream.KeyWatcher
	ch   chan jetstream.KeyValueEntry
	done chan struct{}
	once sync.Once
}

func (w *stallingWatcher) Updates() <-chan jetstream.KeyValueEntry { return w.ch }
func (w *stallingWatcher) Stop() error {
	w.once.Do(func() { close(w.done) })
	return w.KeyWatcher.Stop()
}

// TestConvergesAt100k: 100,000 bans, half in the bucket before the agent
// starts and half while it runs, with a watch that loses every update after
// the first 30,000 live ones, all reach the kernel within seconds; Lag
// reports the host complete; elements removed by hand come back within
// seconds; a resync request starts a new watch and changes nothing. The
// same through the pull consumer (Options.JetStream), without the loss.
func TestConvergesAt100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100k bans: a scale test, left out of -short runs (the race task)")
	}
	t.Run("kv-watch", func(t *testing.T) { convergesAt100k(t, false) })
	t.Run("pull", func(t *testing.T) { convergesAt100k(t, true) })
}

func convergesAt100k(t *testing.T, pull bool) {
	fw := kernelNS(t)
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 5*time.Minute)
	_, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	const n = 100000
	fillBans(t, ns.JS, 0, n/2)

	resync := make(chan struct{})
	// The enforcer's own connection, whose asynchronous errors (a slow
	// consumer: the client dropped messages) are counted.
	var slow atomic.Int32
	nc, err := nats.Connect(ns.URL, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrSlowConsumer) {
			slow.Add(1)
		}
		t.Logf("nats: %v", err)
	}))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ejs, err := jetstream.New(nc)
	require.NoError(t, err)
	est, err := bans.Open(ctx, ejs, false, 1)
	require.NoError(t, err)
	kv := &stallingKV{KeyValue: est.KV(), after: n/2 + 30000}
	var js jetstream.JetStream
	if pull {
		js = ejs
	}
	e := New(Options{Backend: fw, JetStream: js, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}}, Check: 500 * time.Millisecond,
		Resync: resync, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})), Registry: prometheus.NewRegistry()})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.Run(rctx, kv); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	start := time.Now()
	fillBans(t, ns.JS, n/2, n/2)
	complete := func() bool {
		behind, kernel, desired := e.Lag()
		return behind == 0 && kernel == n && desired == n && e.Desired() == n
	}
	require.Eventually(t, complete, 60*time.Second, 100*time.Millisecond, "lag: %v", fmtLag(e))
	require.Equal(t, n, kernelCount(t, fw))
	if !pull {
		require.Equal(t, 1.0, testutil.ToFloat64(e.resyncs.WithLabelValues("behind")), "the stalled watch was replaced")
	}
	t.Logf("slow consumer errors: %d", slow.Load())
	t.Logf("100k bans in the kernel %v after the second half began", time.Since(start).Round(time.Millisecond))

	// Elements removed by hand come back.
	var gone []firewall.Entry
	for i := range 500 {
		gone = append(gone, firewall.Entry{Jail: "sshd", Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})})
	}
	require.NoError(t, fw.Apply(nil, gone))
	start = time.Now()
	require.Eventually(t, func() bool { return kernelCount(t, fw) == n }, 20*time.Second, 200*time.Millisecond)
	t.Logf("500 elements removed by hand repaired in %v", time.Since(start).Round(time.Millisecond))
	require.Positive(t, testutil.ToFloat64(e.repaired))

	// A resync request: a new watch at once, the same result.
	resync <- struct{}{}
	require.Eventually(t, func() bool { return testutil.ToFloat64(e.resyncs.WithLabelValues("requested")) == 1 }, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, complete, 30*time.Second, 100*time.Millisecond, "lag: %v", fmtLag(e))
}

func fmtLag(e *Enforcer) string {
	b, k, d := e.Lag()
	a, l := e.Revisions()
	return fmt.Sprintf("behind=%d kernel=%d desired=%d applied=%d last=%d", b, k, d, a, l)
}
