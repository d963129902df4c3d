package enforce

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
)

// TestRestartWithFullKernel: an agent starts on a kernel that already holds
// elements (an earlier run's): those the bucket still holds stay, those it
// no longer holds go, those it holds and the kernel lacks come, while the
// kernel is walked during the load; Lag then reports the host complete
// with the kernel's true count.
func TestRestartWithFullKernel(t *testing.T) {
	fw := kernelNS(t)
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 2*time.Minute)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	const inBucket, stale = 30000, 5000
	fillBans(t, ns.JS, 0, inBucket)
	// The kernel: the first two thirds of the bucket's bans, and stale ones.
	var old []firewall.Entry
	for i := range inBucket * 2 / 3 {
		old = append(old, firewall.Entry{Jail: "sshd", Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Timeout: time.Hour})
	}
	for i := range stale {
		old = append(old, firewall.Entry{Jail: "sshd", Addr: netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), Timeout: time.Hour})
	}
	old = append(old, firewall.Entry{Jail: "gone", Addr: netip.MustParseAddr("2001:db8::5"), Timeout: time.Hour})
	require.NoError(t, fw.Apply(old, nil))
	require.Equal(t, inBucket*2/3+stale+1, kernelCount(t, fw))

	e := New(Options{Backend: fw, JetStream: ns.JS, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})), Registry: prometheus.NewRegistry()})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.Run(rctx, st.KV()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		behind, kernel, desired := e.Lag()
		return e.Synced() && behind == 0 && kernel == inBucket && desired == inBucket
	}, 60*time.Second, 20*time.Millisecond, "lag: %s", fmtLag(e))
	require.Equal(t, inBucket, kernelCount(t, fw), "the kernel's own count")
	es, err := fw.List()
	require.NoError(t, err)
	for _, en := range es {
		require.Equal(t, "sshd", en.Jail)
		require.Equal(t, byte(10), en.Addr.As4()[0], "%s is stale", en.Addr)
	}
}
