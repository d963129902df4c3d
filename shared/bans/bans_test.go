package bans_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/wire"
)

func TestStoreLifecycle(t *testing.T) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 30*time.Second)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	now := time.Now()
	addr := netip.MustParseAddr("2001:db8::7")
	b := &wire.Ban{Addr: addr, Jail: "sshd", Created: now, Expires: now.Add(2 * time.Second), By: "coord", Reason: wire.Reason{Count: 3, Hosts: []string{"h1", "h2"}}}
	require.NoError(t, st.Create(ctx, b, now))
	require.ErrorIs(t, st.Create(ctx, b, now), bans.ErrExists)

	got, err := st.Get(ctx, "sshd", addr)
	require.NoError(t, err)
	require.Equal(t, []string{"h1", "h2"}, got.Reason.Hosts)

	list, bad, err := st.List(ctx)
	require.NoError(t, err)
	require.Empty(t, bad)
	require.Len(t, list, 1)

	// The key expires by its TTL.
	require.Eventually(t, func() bool {
		_, err := st.Get(ctx, "sshd", addr)
		return err == bans.ErrNotFound
	}, 10*time.Second, 50*time.Millisecond)

	// Put sets a TTL too, and Delete removes.
	b.Expires = time.Now().Add(time.Hour)
	require.NoError(t, st.Put(ctx, b, time.Now()))
	_, err = st.Get(ctx, "sshd", addr)
	require.NoError(t, err)
	require.NoError(t, st.Delete(ctx, "sshd", addr))
	require.ErrorIs(t, st.Delete(ctx, "sshd", addr), bans.ErrNotFound)
}

func TestListSkipsBadValues(t *testing.T) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 30*time.Second)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	_, err = st.KV().Put(ctx, "sshd.192.0.2.1", []byte("garbage"))
	require.NoError(t, err)
	_, err = st.KV().Put(ctx, "sshd.192.0.2.2", []byte(`{"v":1,"addr":"192.0.2.9","jail":"sshd","reason":{"count":1},"created":"2026-01-01T00:00:00Z","expires":"2026-01-01T00:01:00Z","by":"x"}`))
	require.NoError(t, err)
	list, bad, err := st.List(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
	require.ElementsMatch(t, []string{"sshd.192.0.2.1", "sshd.192.0.2.2"}, bad, "a value naming another address than its key is rejected")
	var _ jetstream.KeyValue = st.KV()
}
