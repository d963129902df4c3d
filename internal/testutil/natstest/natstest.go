// Package natstest starts a real in-process NATS server with JetStream for
// tests: a random port, storage in t.TempDir(), shut down in t.Cleanup.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/banfleet/banfleet/coordinator/natsd"
)

// Server is a test server and a connected client.
type Server struct {
	URL string
	NC  *nats.Conn
	JS  jetstream.JetStream
	srv *natsd.Server
}

// Start starts a server and connects to it.
func Start(t testing.TB) *Server {
	t.Helper()
	srv, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Name: "test"})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		srv.Shutdown()
		t.Fatalf("connect nats: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	s := &Server{URL: srv.ClientURL(), NC: nc, JS: js, srv: srv}
	t.Cleanup(func() {
		nc.Close()
		srv.Shutdown()
	})
	return s
}

// Ctx returns a context that ends after d or at test end.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
