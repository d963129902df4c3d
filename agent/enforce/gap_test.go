package enforce

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
)

// TestGapResyncs: a watch that loses some live updates while it keeps
// delivering the others (a client that dropped messages, a consumer that
// skipped them) is noticed by the enforcer itself, at the next check: the
// revisions it skipped are still in the bucket. A new watch brings every
// ban into the kernel. (The bucket's last revision does arrive, so the
// stall rule alone would never notice.)
func TestGapResyncs(t *testing.T) {
	fw := kernelNS(t)
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 3*time.Minute)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	const before, live = 2000, 3000
	fillBans(t, ns.JS, 0, before)

	e := New(Options{Backend: fw, JetStream: ns.JS, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}}, Check: 500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})), Registry: prometheus.NewRegistry()})
	var lost atomic.Int32
	var first atomic.Bool // only the first watch loses updates
	first.Store(true)
	e.lose = func(rev uint64) bool {
		if first.Load() && rev > before && rev%97 == 0 && rev < before+live-10 {
			lost.Add(1)
			return true
		}
		return false
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.Run(rctx, st.KV()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return e.Synced() && e.Desired() == before }, 30*time.Second, 20*time.Millisecond)

	fillBans(t, ns.JS, before, live)
	require.Eventually(t, func() bool { return testutil.ToFloat64(e.resyncs.WithLabelValues("gap")) >= 1 }, 20*time.Second, 20*time.Millisecond,
		"the lost updates are noticed (lag %s)", fmtLag(e))
	first.Store(false)
	require.Positive(t, lost.Load())
	require.Eventually(t, func() bool {
		behind, kernel, desired := e.Lag()
		return behind == 0 && kernel == before+live && desired == before+live && e.Desired() == before+live
	}, 60*time.Second, 50*time.Millisecond, "lag: %s", fmtLag(e))
	require.Equal(t, before+live, kernelCount(t, fw))
	require.Zero(t, testutil.ToFloat64(e.resyncs.WithLabelValues("behind")), "noticed as a gap, not as a stall")
	t.Logf("%d updates lost; resyncs: gap %v", lost.Load(), testutil.ToFloat64(e.resyncs.WithLabelValues("gap")))
}
