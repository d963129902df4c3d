package enforce

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/firewall"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func held(t *testing.T, fw firewall.Backend) []string {
	es, err := fw.List()
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Jail+"/"+e.Addr.String())
	}
	return out
}

func TestMirrorsBucket(t *testing.T) {
	t.Run("kv-watch", func(t *testing.T) { mirrorsBucket(t, false) })
	t.Run("pull", func(t *testing.T) { mirrorsBucket(t, true) })
}

func mirrorsBucket(t *testing.T, pull bool) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 60*time.Second)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	now := time.Now()
	ban := func(addr, jail string, d time.Duration) *wire.Ban {
		return &wire.Ban{Addr: netip.MustParseAddr(addr), Jail: jail, Created: now, Expires: now.Add(d), By: "test"}
	}
	// Present before the agent starts: reconciled at start, along with a stale element.
	require.NoError(t, st.Create(ctx, ban("203.0.113.1", "sshd", time.Hour), now))
	fw := firewall.NewNone(slog.New(slog.DiscardHandler))
	require.NoError(t, fw.Apply([]firewall.Entry{{Jail: "sshd", Addr: netip.MustParseAddr("198.51.100.1"), Timeout: time.Hour}}, nil))

	own, _ := netaddr.ParseSet([]string{"192.0.2.11"})
	var js jetstream.JetStream
	if pull {
		js = ns.JS
	}
	e := New(Options{Backend: fw, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}}, Own: own, JetStream: js,
		Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.Run(rctx, st.KV()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	require.Eventually(t, func() bool {
		h := held(t, fw)
		return len(h) == 1 && h[0] == "sshd/203.0.113.1"
	}, 10*time.Second, 10*time.Millisecond, "reconciled at start")

	// Changes arrive incrementally; own addresses are refused; bad values are skipped.
	require.NoError(t, st.Put(ctx, ban("2001:db8::9", "manual", time.Hour), now))
	require.NoError(t, st.Put(ctx, ban("192.0.2.11", "sshd", time.Hour), now))
	_, err = st.KV().Put(ctx, "sshd.203.0.113.99", []byte("garbage"))
	require.NoError(t, err)
	require.NoError(t, st.Delete(ctx, "sshd", netip.MustParseAddr("203.0.113.1")))
	require.Eventually(t, func() bool {
		h := held(t, fw)
		return len(h) == 1 && h[0] == "manual/2001:db8::9"
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, e.Desired())

	// A ban whose key TTL ends is lifted (the bucket's purge marker).
	short := ban("203.0.113.50", "sshd", 2*time.Second)
	require.NoError(t, st.Create(ctx, short, now))
	require.Eventually(t, func() bool { return len(held(t, fw)) == 2 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return e.Desired() == 1 }, 15*time.Second, 50*time.Millisecond, "the TTL marker ends the ban")
	behind, _, _ := e.Lag()
	require.Zero(t, behind)
}

// recordingBackend records Declare calls around a None backend.
type recordingBackend struct {
	*firewall.None
	specs []firewall.JailSpec
}

func (r *recordingBackend) Declare(specs ...firewall.JailSpec) error {
	r.specs = append(r.specs, specs...)
	return r.None.Declare(specs...)
}

// A jail the host does not configure (coord ban's "manual") blocks the
// union of its bans' ports, and every port once a ban names none: a later
// ban never blocks less than it asks for.
func TestExtraJailPortsWiden(t *testing.T) {
	fw := &recordingBackend{None: firewall.NewNone(slog.New(slog.DiscardHandler))}
	e := New(Options{Backend: fw, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	now := time.Now()
	for i, ports := range [][]uint16{{22}, {22}, {80}, nil, {443}} {
		b := &wire.Ban{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), Jail: "manual", Ports: ports, Created: now, Expires: now.Add(time.Hour)}
		_, ok := e.entry(b, now)
		require.True(t, ok)
	}
	require.Equal(t, []firewall.JailSpec{
		{Name: "manual", Ports: []uint16{22}, Proto: "tcp"},
		{Name: "manual", Ports: []uint16{22, 80}, Proto: "tcp"},
		{Name: "manual", Proto: "all"},
	}, fw.specs)
}

// Local bans (made while NATS was away) survive the reconcile with a
// bucket that lacks them and an agent restart, and end when the fleet lifts
// a ban of the same jail and address, or when they expire.
func TestLocalBans(t *testing.T) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 60*time.Second)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "local-bans.json")
	own, _ := netaddr.ParseSet([]string{"192.0.2.11"})
	clock := time.Now()
	var skew atomic.Int64 // the enforcers' clock runs ahead of clock by this
	newEnforcer := func(fw firewall.Backend) *Enforcer {
		return New(Options{Backend: fw, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}}, Own: own, LocalFile: file,
			Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
			Now: func() time.Time { return clock.Add(time.Duration(skew.Load())) }})
	}
	local := func(addr string, d time.Duration) wire.Ban {
		return wire.Ban{Addr: netip.MustParseAddr(addr), Jail: "sshd", Created: clock, Expires: clock.Add(d), By: "agent:h1"}
	}

	fw := firewall.NewNone(slog.New(slog.DiscardHandler))
	e := newEnforcer(fw)
	ok, err := e.BanLocally(local("203.0.113.7", time.Hour))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = e.BanLocally(local("192.0.2.11", time.Hour))
	require.NoError(t, err)
	require.False(t, ok, "own address refused")
	ok, err = e.BanLocally(local("203.0.113.8", 2*time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	require.ElementsMatch(t, []string{"sshd/203.0.113.7", "sshd/203.0.113.8"}, held(t, fw))
	require.Equal(t, 2, e.Local())
	e.SaveLocal() // as RunSaver does

	// A restart: the new enforcer loads them, and the bucket (empty) does
	// not remove them.
	fw2 := firewall.NewNone(slog.New(slog.DiscardHandler))
	e2 := newEnforcer(fw2)
	require.NoError(t, e2.LoadLocal())
	require.Equal(t, 2, e2.Local())
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e2.Run(rctx, st.KV()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return testutil.ToFloat64(e2.reconciles) >= 1 }, 10*time.Second, 10*time.Millisecond, "reconciled at start")
	require.ElementsMatch(t, []string{"sshd/203.0.113.7", "sshd/203.0.113.8"}, held(t, fw2))

	// The fleet bans .7 too, then lifts it: the local ban ends with it.
	require.NoError(t, st.Put(ctx, &wire.Ban{Addr: netip.MustParseAddr("203.0.113.7"), Jail: "sshd", Created: clock, Expires: clock.Add(time.Hour), By: "coord"}, clock))
	require.Eventually(t, func() bool { return e2.Desired() == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, st.Delete(ctx, "sshd", netip.MustParseAddr("203.0.113.7")))
	require.Eventually(t, func() bool {
		h := held(t, fw2)
		return e2.Local() == 1 && len(h) == 1 && h[0] == "sshd/203.0.113.8"
	}, 10*time.Second, 10*time.Millisecond)

	// .8 expires (its ban time passes): the next reconcile drops it, and
	// the file no longer holds it.
	skew.Store(int64(3 * time.Minute))
	e2.reconcile(context.Background(), "test")
	require.Zero(t, e2.Local())
	sctx, stop := context.WithCancel(ctx)
	stop() // RunSaver writes what changed, a last time, when it stops
	require.NoError(t, e2.RunSaver(sctx))
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "[]", string(data))

	// A file that does not decode is set aside; the agent starts anyway.
	require.NoError(t, os.WriteFile(file, []byte("{garbage"), 0o600))
	e3 := newEnforcer(firewall.NewNone(slog.New(slog.DiscardHandler)))
	require.NoError(t, e3.LoadLocal())
	require.Zero(t, e3.Local())
	_, err = os.Stat(file + ".bad")
	require.NoError(t, err)
}

// A reconcile that runs while local bans are made never undoes them.
func TestLocalBansRaceReconcile(t *testing.T) {
	fw := firewall.NewNone(slog.New(slog.DiscardHandler))
	e := New(Options{Backend: fw, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}},
		Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			e.reconcile(context.Background(), "test")
		}
	}()
	now := time.Now()
	for i := range 200 {
		ok, err := e.BanLocally(wire.Ban{Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), Jail: "sshd", Created: now, Expires: now.Add(time.Hour)})
		require.NoError(t, err)
		require.True(t, ok)
	}
	<-done
	require.Len(t, held(t, fw), 200)
}

// A fleet lift (coord unban: a purge marker) that happened while the agent
// was stopped ends its local ban of the same jail and address at the next
// start; a marker older than the local ban does not.
func TestLocalBanLiftedWhileAway(t *testing.T) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 60*time.Second)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	// .5's fleet ban is lifted before the agent's local ban of it, .6's after.
	for _, a := range []string{"203.0.113.5", "203.0.113.6"} {
		now := time.Now()
		require.NoError(t, st.Put(ctx, &wire.Ban{Addr: netip.MustParseAddr(a), Jail: "sshd", Created: now, Expires: now.Add(time.Hour), By: "coord"}, now))
	}
	require.NoError(t, st.Lift(ctx, "sshd", netip.MustParseAddr("203.0.113.5")))
	fw := firewall.NewNone(slog.New(slog.DiscardHandler))
	e := New(Options{Backend: fw, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}}, LocalFile: filepath.Join(t.TempDir(), "local.json"),
		Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	now := time.Now()
	for _, a := range []string{"203.0.113.5", "203.0.113.6"} {
		ok, err := e.BanLocally(wire.Ban{Addr: netip.MustParseAddr(a), Jail: "sshd", Created: now, Expires: now.Add(time.Hour), By: "agent:h1"})
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.NoError(t, st.Lift(ctx, "sshd", netip.MustParseAddr("203.0.113.6"))) // while the agent is "away"

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.Run(rctx, st.KV()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return testutil.ToFloat64(e.reconciles) >= 1 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{"sshd/203.0.113.5"}, held(t, fw), ".6 lifted after the local ban: ended; .5 lifted before it: kept")
	require.Equal(t, 1, e.Local())

	// The same rule for removals delivered live (late, after an outage).
	key := subject.BanKey("sshd", netip.MustParseAddr("203.0.113.5"))
	e.applyChanges([]change{{key: key, at: now.Add(-time.Minute)}}, false)
	require.Equal(t, []string{"sshd/203.0.113.5"}, held(t, fw), "an older removal keeps the local ban")
	e.applyChanges([]change{{key: key, at: now.Add(time.Second)}}, false)
	require.Empty(t, held(t, fw), "a newer one ends it")
	require.Zero(t, e.Local())
}

// TestRefusesControlPlaneAndIgnoreIP: a ban of a NATS server this agent
// uses, of an address in the jail's ignoreip here, of what is no single
// host, or one meant for another host alone, is never enforced, whatever the
// bucket says; a ban for this host alone is. The refused NATS server shows
// as a problem (RefusedControl).
func TestRefusesControlPlaneAndIgnoreIP(t *testing.T) {
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 60*time.Second)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	fw := firewall.NewNone(slog.New(slog.DiscardHandler))
	control, _ := netaddr.ParseSet([]string{"192.0.2.10"})
	ign, _ := netaddr.ParseSet([]string{"198.51.100.0/24"})
	e := New(Options{Backend: fw, Jails: []firewall.JailSpec{{Name: "sshd", Ports: []uint16{22}}}, Control: control, Host: "h1",
		JailIgnore: map[string]*netaddr.Set{"sshd": ign}, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.Run(rctx, st.KV()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	now := time.Now()
	for _, b := range []wire.Ban{
		{Addr: netip.MustParseAddr("192.0.2.10"), Jail: "manual"},                 // the NATS server
		{Addr: netip.MustParseAddr("198.51.100.7"), Jail: "sshd"},                 // ignoreip here
		{Addr: netip.MustParseAddr("224.0.0.1"), Jail: "manual"},                  // no single host
		{Addr: netip.MustParseAddr("203.0.113.8"), Jail: "sshd", Only: "h2"},      // another host's own
		{Addr: netip.MustParseAddr("203.0.113.9"), Jail: "sshd", Only: "h1"},      // this host's own
		{Addr: netip.MustParseAddr("198.51.100.7"), Jail: "manual", Forced: true}, // other jail: enforced
	} {
		b.Created, b.Expires, b.By = now, now.Add(time.Hour), "test"
		require.NoError(t, st.Put(ctx, &b, now))
	}
	require.Eventually(t, func() bool {
		h := held(t, fw)
		return len(h) == 2 && h[0] == "manual/198.51.100.7" && h[1] == "sshd/203.0.113.9"
	}, 10*time.Second, 10*time.Millisecond, "held: %v", held(t, fw))
	require.Contains(t, e.RefusedControl(), "192.0.2.10")
}

// brokenKV is a bans bucket whose watch always fails (NATS away).
type brokenKV struct{ jetstreamKV }

func (brokenKV) WatchAll(context.Context, ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	return nil, errors.New("nats: connection closed")
}

func (brokenKV) Status(context.Context) (jetstream.KeyValueStatus, error) {
	return nil, errors.New("nats: connection closed")
}

// TestLiftsControlPlaneWhileCutOff: an agent that cannot reach NATS while
// its firewall holds an element on a NATS server (from an older version, a
// hand-made rule in banfleet's table) removes it itself: it must not stay
// locked out of the fleet.
func TestLiftsControlPlaneWhileCutOff(t *testing.T) {
	fw := firewall.NewNone(slog.New(slog.DiscardHandler))
	require.NoError(t, fw.Apply([]firewall.Entry{
		{Jail: "manual", Addr: netip.MustParseAddr("192.0.2.10"), Timeout: time.Hour},
		{Jail: "sshd", Addr: netip.MustParseAddr("203.0.113.9"), Timeout: time.Hour},
	}, nil))
	control, _ := netaddr.ParseSet([]string{"192.0.2.10"})
	e := New(Options{Backend: fw, Control: control, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx, brokenKV{}); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		h := held(t, fw)
		return len(h) == 1 && h[0] == "sshd/203.0.113.9"
	}, 5*time.Second, 10*time.Millisecond, "held: %v", held(t, fw))
}

// jetstreamKV lets a test implement only the bucket methods it needs.
type jetstreamKV = jetstream.KeyValue
