package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func testCoordinator(t testing.TB) *Coordinator {
	ign, err := netaddr.ParseSet([]string{"10.0.0.0/8"})
	require.NoError(t, err)
	pol := config.JailPolicy{BanTime: time.Hour, FindTime: time.Hour, MaxRetry: 3, Scope: "fleet", Quorum: 1, Ignore: &netaddr.Set{}}
	cfg := &config.Coord{Name: "c1", Defaults: pol, Jails: map[string]config.JailPolicy{"sshd": pol}, Ignore: ign, Limits: config.Limits{OffenceRate: 1000}}
	c, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	require.NoError(t, err)
	return c
}

// offenceMsgs are n offences of host, each of its own address.
func offenceMsgs(t testing.TB, host string, n int, at time.Time) (subjects []string, data [][]byte) {
	for i := range n {
		a := netip.AddrFrom4([4]byte{100, 64 + byte(i>>16)&63, byte(i >> 8), byte(i)})
		o := wire.Offence{ID: fmt.Sprintf("sshd/f1x2k9q7:%d-abc", i), Host: host, Jail: "sshd", Addr: a, Time: at, User: "root",
			Line: "Dec  8 01:00:00 " + host + " sshd[4242]: Failed password for root from " + a.String() + " port 22 ssh2"}
		d, err := wire.Encode(&o)
		require.NoError(t, err)
		subjects = append(subjects, subject.Offence(subject.Shard(a, subject.DefaultShards), host))
		data = append(data, d)
	}
	return subjects, data
}

// handle judges what decodes and names its subject's host, and counts
// what it rejects by reason.
func TestHandleCountsAndRejects(t *testing.T) {
	c := testCoordinator(t)
	now := time.Now()
	c.now = func() time.Time { return now }
	subjs, data := offenceMsgs(t, "h1", 3, now)
	for i := range subjs {
		c.handle(context.Background(), subjs[i], data[i])
	}
	require.Equal(t, 3.0, testutil.ToFloat64(c.m.offences.WithLabelValues("sshd", "counted")))
	c.handle(context.Background(), subject.Offence(0, "h2"), data[0])
	c.handle(context.Background(), subjs[0], []byte(`{"v":1,"v":1}`))
	c.handle(context.Background(), subjs[0], []byte(`{"v":7}`))
	c.handle(context.Background(), "banfleet.offence.x.h1", data[0])
	for reason, want := range map[string]float64{"host_mismatch": 1, "malformed": 1, "version": 1, "subject": 1} {
		require.Equal(t, want, testutil.ToFloat64(c.m.rejects.WithLabelValues(reason)), reason)
	}
	require.Equal(t, 3, c.engine.Sweep(now))
}

// BenchmarkHandle is the coordinator's judging of one offence message
// (subject, strict decoding, deciding, metrics), each of its own address:
// no ban, so no bucket write.
func BenchmarkHandle(b *testing.B) {
	now := time.Now()
	const n = 1 << 16
	subjs, data := offenceMsgs(b, "h1", n, now)
	ctx := context.Background()
	b.ReportAllocs()
	var c *Coordinator
	i := 0
	for b.Loop() {
		if i%n == 0 { // each address new again
			c = testCoordinator(b)
			c.now = func() time.Time { return now }
		}
		c.handle(ctx, subjs[i%n], data[i%n])
		i++
	}
}

// BenchmarkTrackedMemory is the coordinator's heap per tracked (jail,
// address), the engine's windows and maps, after judging 200,000 offences
// of distinct addresses (the embedded server's share is not in it: see
// fleetsim).
func BenchmarkTrackedMemory(b *testing.B) {
	const n = 200_000
	now := time.Now()
	subjs, data := offenceMsgs(b, "h1", n, now)
	ctx := context.Background()
	for b.Loop() {
		var before, after runtime.MemStats
		c := testCoordinator(b)
		c.now = func() time.Time { return now }
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			if i%20_000 == 0 { // 20,000 offences a second: the rate cap's map is not a tracked address's
				t := now.Add(time.Duration(i/20_000) * time.Second)
				c.now = func() time.Time { return t }
			}
			c.handle(ctx, subjs[i], data[i])
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		require.Equal(b, n, c.engine.Sweep(now))
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "bytes/addr")
		runtime.KeepAlive(c)
	}
}
