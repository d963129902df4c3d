package agent

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/coordinator/natsd"
	"github.com/banfleet/banfleet/internal/testutil/testpki"
)

// logRecord is one line a test logger received.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	recs []logRecord
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	lr := logRecord{level: rec.Level, msg: rec.Message, attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		lr.attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	r.recs = append(r.recs, lr)
	r.mu.Unlock()
	return nil
}

// reasons returns the reasons of the "cannot connect" lines from the n-th
// record on.
func (r *recorder) reasons(from int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs[min(from, len(r.recs)):] {
		if rec.msg == "nats: cannot connect" {
			out = append(out, rec.attrs["reason"])
		}
	}
	return out
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

// TestNATSConnectionReasons: an agent that cannot connect logs why, once
// per reason however often it retries: a server certificate its CA did not
// sign, a wrong password (before the first connection and after one), a
// server that is down; and it connects once the server accepts it.
func TestNATSConnectionReasons(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	fleet, err := testpki.Write(t.TempDir(), "127.0.0.1") // the CA the agent trusts
	require.NoError(t, err)
	stranger, err := testpki.Write(t.TempDir(), "127.0.0.1") // another CA
	require.NoError(t, err)
	store := t.TempDir()

	// serve runs the fleet's NATS on addr with the server certificate of
	// pki and h1's password; stop shuts it down.
	var srv *natsd.Server
	serve := func(pki testpki.Files, password string) {
		t.Helper()
		var err error
		srv, err = natsd.Start(natsd.Options{Listen: addr, StoreDir: store, Name: "fleet",
			Users: natsd.Users(map[string]string{"h1": password}, nil), CertFile: pki.Cert, KeyFile: pki.Key})
		require.NoError(t, err)
	}
	stop := func() {
		srv.Shutdown()
		srv = nil
	}
	t.Cleanup(func() {
		if srv != nil {
			srv.Shutdown()
		}
	})

	rec := &recorder{}
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: "nats://" + addr, CA: fleet.CA, User: "h1", Password: "h1-secret"}}
	w := newConnWatch(cfg, slog.New(rec))
	w.probeEvery = 0
	var mu sync.Mutex
	var ups, downs int
	opts := w.options(cfg, natsHooks{
		connected: func(*nats.Conn) {
			mu.Lock()
			ups++
			mu.Unlock()
		},
		disconnected: func() {
			mu.Lock()
			downs++
			mu.Unlock()
		},
	})
	opts = append(opts, nats.ReconnectWait(20*time.Millisecond), nats.ReconnectJitter(0, 0))
	connected := func() int {
		mu.Lock()
		defer mu.Unlock()
		return ups
	}

	// phase waits until reason is logged, then for a few more attempts,
	// and requires it logged once.
	phase := func(from int, reason string) {
		t.Helper()
		require.Eventually(t, func() bool {
			rs := rec.reasons(from)
			return len(rs) > 0 && rs[len(rs)-1] == reason
		}, 15*time.Second, 10*time.Millisecond, "reason %q logged; got %q", reason, rec.reasons(from))
		dials := w.dials.Load()
		require.Eventually(t, func() bool { return w.dials.Load() >= dials+5 }, 15*time.Second, 10*time.Millisecond, "the client retries")
		n := 0
		for _, r := range rec.reasons(from) {
			if r == reason {
				n++
			}
		}
		require.Equal(t, 1, n, "%q logged once over several attempts: %q", reason, rec.reasons(from))
	}

	// Nothing listens yet: refused.
	nc, err := nats.Connect(cfg.NATS.URL, opts...)
	require.NoError(t, err, "the agent starts without NATS")
	t.Cleanup(nc.Close)
	phase(0, "connection refused")

	// A server whose certificate another CA signed.
	from := rec.len()
	serve(stranger, "h1-secret")
	phase(from, "tls: certificate signed by unknown authority")
	stop()

	// The right certificate, but another password: refused before the
	// agent ever connected (the client itself says nothing then).
	from = rec.len()
	serve(fleet, "other")
	phase(from, "authorization violation: wrong user or password")
	require.Zero(t, connected())
	stop()

	// The server accepts h1: connected.
	from = rec.len()
	serve(fleet, "h1-secret")
	require.Eventually(t, func() bool { return connected() == 1 }, 15*time.Second, 10*time.Millisecond)
	require.True(t, nc.IsConnected())

	// After a connection: the server comes back with another password,
	// then with a certificate of another CA.
	stop()
	serve(fleet, "other")
	phase(from, "authorization violation: wrong user or password")
	stop()
	from = rec.len()
	serve(stranger, "h1-secret")
	phase(from, "tls: certificate signed by unknown authority")
	stop()
	serve(fleet, "h1-secret")
	require.Eventually(t, func() bool { return connected() == 2 }, 15*time.Second, 10*time.Millisecond)

	mu.Lock()
	require.Equal(t, 1, downs, "the disconnection reaches the agent")
	mu.Unlock()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.recs {
		switch r.attrs["reason"] {
		case "connection refused", "no server available":
			require.Equal(t, slog.LevelWarn, r.level, "%+v", r)
		case "tls: certificate signed by unknown authority", "authorization violation: wrong user or password":
			require.Equal(t, slog.LevelError, r.level, "%+v", r)
			require.NotEmpty(t, r.attrs["hint"], "%+v", r)
		}
	}
}
