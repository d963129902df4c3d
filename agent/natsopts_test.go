package agent

import (
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
)

// The connection's timings bound recovery: a silent cut is given up
// within 6 s, a restarted server is tried again within 0.75 s, and an
// attempt a silent drop swallows ends after 2 s.
func TestNATSRecoveryTimings(t *testing.T) {
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: "nats://127.0.0.1:4222"}}
	o := nats.GetDefaultOptions()
	for _, opt := range natsOptions(cfg, slog.New(slog.DiscardHandler), natsHooks{connected: func(*nats.Conn) {}, disconnected: func() {}}) {
		require.NoError(t, opt(&o))
	}
	stale := o.PingInterval * time.Duration(o.MaxPingsOut+1)
	require.LessOrEqual(t, stale, 6*time.Second, "a silent cut is noticed within 6 s")
	require.GreaterOrEqual(t, o.PingInterval*time.Duration(o.MaxPingsOut), 4*time.Second, "a slow server has 4 s to answer")
	require.LessOrEqual(t, o.ReconnectWait+o.ReconnectJitter, 750*time.Millisecond)
	require.LessOrEqual(t, o.ReconnectWait+o.ReconnectJitterTLS, 750*time.Millisecond)
	require.Equal(t, 2*time.Second, o.Timeout)
	require.True(t, o.RetryOnFailedConnect)
	require.Equal(t, -1, o.MaxReconnect)
}
