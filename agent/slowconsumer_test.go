package agent

import (
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
)

// A subscription whose messages the client drops (a slow consumer) runs
// the slowConsumer hook: the agent then replaces its bans watch at once.
func TestSlowConsumerHook(t *testing.T) {
	ns := natstest.Start(t)
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: ns.URL}}
	w := newConnWatch(cfg, slog.New(slog.DiscardHandler))
	w.probeEvery = 0
	slow := make(chan struct{}, 1)
	opts := w.options(cfg, natsHooks{
		connected:    func(*nats.Conn) {},
		disconnected: func() {},
		slowConsumer: func() { signal(slow) },
	})
	nc, err := nats.Connect(ns.URL, opts...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	sub, err := nc.Subscribe("x", func(*nats.Msg) { <-release })
	require.NoError(t, err)
	require.NoError(t, sub.SetPendingLimits(2, -1))
	for range 20 {
		require.NoError(t, nc.Publish("x", []byte("m")))
	}
	require.NoError(t, nc.Flush())
	select {
	case <-slow:
	case <-time.After(10 * time.Second):
		t.Fatal("no slow consumer reported")
	}
}
