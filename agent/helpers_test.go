package agent_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/shared/netaddr"
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
