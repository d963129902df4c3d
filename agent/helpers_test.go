package agent_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/coordinator/serve"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
)

// coordConfig is a coordinator on n whose defaults and jail sshd ban at
// maxretry within findtime, for an hour; it never bans loopback.
func coordConfig(n config.CoordNATS, maxretry int, findtime time.Duration) *config.Coord {
	ign, _ := netaddr.ParseSet([]string{"127.0.0.0/8"})
	pol := config.JailPolicy{BanTime: time.Hour, FindTime: findtime, MaxRetry: maxretry, Scope: "fleet", Ports: []uint16{22}}
	if n.Retention == 0 {
		n.Retention = time.Hour
	}
	return &config.Coord{Name: "c1", NATS: n, Defaults: pol, Jails: map[string]config.JailPolicy{"sshd": pol}, Ignore: ign}
}

// freeAddr returns a loopback host:port nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// waitHeartbeats waits until every host has written its heartbeat to the
// agents bucket (which an agent does once it follows its logs).
func waitHeartbeats(t *testing.T, js jetstream.JetStream, hosts ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		kv, err := js.KeyValue(context.Background(), subject.AgentsBucket)
		if err != nil {
			return false
		}
		for _, h := range hosts {
			if _, err := kv.Get(context.Background(), h); err != nil {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "heartbeats of %v", hosts)
}

// waitGauge waits until the gauge name in reg has value want.
func waitGauge(t *testing.T, reg prometheus.Gatherer, name string, want float64) {
	t.Helper()
	require.Eventually(t, func() bool {
		mfs, err := reg.Gather()
		if err != nil {
			return false
		}
		for _, mf := range mfs {
			if mf.GetName() == name && len(mf.GetMetric()) == 1 {
				return mf.GetMetric()[0].GetGauge().GetValue() == want
			}
		}
		return false
	}, 15*time.Second, 10*time.Millisecond, "%s = %v", name, want)
}

// mustNew builds an agent (agent.New), failing the test if it cannot.
func mustNew(t *testing.T, cfg *config.Agent, log *slog.Logger, reg *prometheus.Registry, version string) *agent.Agent {
	t.Helper()
	a, err := agent.New(t.Context(), cfg, log, reg, version)
	require.NoError(t, err)
	return a
}

// mustServe builds a coordinator (serve.New), failing the test if it cannot.
func mustServe(t *testing.T, cfg *config.Coord, log *slog.Logger, reg *prometheus.Registry) *serve.Coordinator {
	t.Helper()
	c, err := serve.New(cfg, log, reg)
	require.NoError(t, err)
	return c
}
