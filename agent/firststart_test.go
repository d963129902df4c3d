package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/coordinator/natsd"
	"github.com/banfleet/banfleet/shared/subject"
)

// blackHole accepts TCP connections and never answers, as a NATS server
// behind a silent drop would look to a client's handshake; it records
// whether the first connection is still held open by the client.
type blackHole struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
	closed   int // connections the client gave up
}

func newBlackHole(t *testing.T, addr string) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	b := &blackHole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.accepted++
			b.mu.Unlock()
			go func() {
				_, _ = c.Read(make([]byte, 4096)) // until the client gives up
				_ = c.Close()
				b.mu.Lock()
				b.closed++
				b.mu.Unlock()
			}()
		}
	}()
	return b
}

func (b *blackHole) counts() (accepted, closed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.accepted, b.closed
}

// A first start follows its logs before it waits on NATS: with a server
// that swallows the handshake, the sources are ready while the agent's
// first connection attempt is still pending, a line appended then is read,
// and once NATS is up it is published.
func TestFirstStartReadsWhileConnecting(t *testing.T) {
	addr := freeAddr(t)
	hole := newBlackHole(t, addr)

	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	require.NoError(t, os.WriteFile(logPath, []byte("Nov 26 06:00:00 h1 sshd[1]: Server listening\n"), 0o600))
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: "nats://" + addr}, StateDir: filepath.Join(dir, "state"),
		Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: time.Second, Reconcile: time.Minute,
		Jails: map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logPath}, Ports: []uint16{22}, Protocol: "tcp"}}}

	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ag := mustNew(t, cfg, slog.New(slog.DiscardHandler), reg, "test")
	go func() { done <- ag.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Fatal("agent did not stop")
		}
	}()

	require.Eventually(t, func() bool { a, _ := hole.counts(); return a >= 1 }, 10*time.Second, 5*time.Millisecond, "the agent dials NATS")
	waitGauge(t, reg, "banfleet_agent_sources_ready", 1)
	// No handshake ever completes, so readiness alone shows the sources do
	// not wait for NATS; without the race detector's slowdown they are
	// ready even before the first attempt's 2 s timeout.
	if _, closed := hole.counts(); !raceEnabled {
		require.Zero(t, closed, "the sources are ready while the first connection attempt is still pending")
	}

	line := fmt.Sprintf("%s h1 sshd[7]: Failed password for root from 203.0.113.9 port 4242 ssh2\n", time.Now().Format(time.Stamp))
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(line)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Eventually(t, func() bool { return counter(t, reg, "banfleet_agent_failures_total") == 1 }, 10*time.Second, 10*time.Millisecond,
		"the line written while the agent connects is read")

	// NATS comes up where the black hole was (with the stream the
	// coordinator would make).
	require.NoError(t, hole.ln.Close())
	srv, err := natsd.Start(natsd.Options{Listen: addr, StoreDir: t.TempDir(), Name: "up"})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := st.Info(context.Background())
		return err == nil && info.State.Msgs == 1
	}, 15*time.Second, 50*time.Millisecond, "the queued offence is published once NATS is up")
	msg, err := st.GetMsg(context.Background(), 1)
	require.NoError(t, err)
	require.True(t, strings.Contains(string(msg.Data), "203.0.113.9"))
}
