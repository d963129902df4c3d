package cli

import (
	"encoding/json"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// BenchmarkClusterView measures `coord bans --cluster` (the coord binary,
// in a process of its own) against a real agent (firewall backend none)
// holding BANFLEET_BANS bans (default 1,000,000), in sync with the bucket,
// then with 100 of them not wanted there as the CLI sees it (h1's
// heartbeat puts them in its ignoreip: drift in about 100 shards, listed). It reports the command's wall time
// (cluster_s), its peak RSS (cli_maxrss_MB), the bytes of the firewall
// request and its answer (firewall_KB, tapped on the server) and those
// of the whole run's NATS traffic to the CLI (bucket read included).
func BenchmarkClusterView(b *testing.B) {
	n := benchBans(b)
	bin := buildCoord(b)

	ns := natstest.Start(b)
	ctx := natstest.Ctx(b, 30*time.Minute)
	_, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(b, err)
	_, err = ns.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subject.AgentsBucket})
	require.NoError(b, err)
	began := time.Now()
	fillBans(b, ns.JS, "sshd", 0, n)
	b.Logf("%d bans in the bucket in %v", n, time.Since(began).Round(time.Millisecond))
	began = time.Now()
	startAgent(b, ns.URL, time.Hour, "")
	waitHolds(b, ns.NC, n)
	b.Logf("the agent holds them after %v", time.Since(began).Round(time.Millisecond))

	// A tap on the firewall requests and every inbox (the answers).
	var reqBytes, ansBytes atomic.Int64
	tap, err := nats.Connect(ns.URL)
	require.NoError(b, err)
	defer tap.Close()
	_, err = tap.Subscribe(subject.AgentRequest("h1", "firewall"), func(m *nats.Msg) { reqBytes.Add(int64(len(m.Data))) })
	require.NoError(b, err)
	inboxes, err := tap.Subscribe("_INBOX.>", func(m *nats.Msg) {
		if strings.Contains(string(m.Data), `"part"`) {
			ansBytes.Add(int64(len(m.Data)))
		}
	})
	require.NoError(b, err)
	require.NoError(b, inboxes.SetPendingLimits(-1, -1))
	require.NoError(b, tap.Flush())

	for _, c := range []struct {
		name string
		drop int // bans deleted from the bucket: extra in the firewall
	}{{"in-sync", 0}, {"drift-100", 100}} {
		if c.drop > 0 {
			// The bucket as h1's heartbeat makes the CLI see it: c.drop of
			// its bans in h1's sshd ignoreip, not wanted there (the agent
			// heartbeats once an hour here).
			kv, err := ns.JS.KeyValue(ctx, subject.AgentsBucket)
			require.NoError(b, err)
			var ign []netip.Prefix
			for k := 0; k < c.drop; k++ {
				ign = append(ign, netip.PrefixFrom(scaleAddr(k*(n/c.drop)), 32))
			}
			hb, err := wire.Encode(&wire.Heartbeat{Host: "h1", Seen: time.Now(), Jails: map[string]wire.JailPolicy{"sshd": {IgnoreIP: ign}}})
			require.NoError(b, err)
			_, err = kv.Put(ctx, "h1", hb)
			require.NoError(b, err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				reqBytes.Store(0)
				ansBytes.Store(0)
				out, took, rss, code := runTimed(b, bin, "--nats", ns.URL, "--timeout", "10m", "bans", "--cluster", "-o", "json")
				if c.drop == 0 {
					require.Equal(b, ExitOK, code, out)
				} else {
					require.Equal(b, ExitDrift, code, out)
				}
				var res struct {
					Hosts []HostView `json:"hosts"`
				}
				require.NoError(b, json.Unmarshal([]byte(out), &res))
				require.Len(b, res.Hosts, 1)
				h := res.Hosts[0]
				b.Logf("%s: status %s held %d missing %d extra %d (%d listed); %v", c.name, h.Status, h.Held, h.MissingCount, h.ExtraCount, len(h.Extra), took.Round(time.Millisecond))
				require.Equal(b, c.drop, h.ExtraCount, h.Error)
				require.Len(b, h.Extra, c.drop)
				require.NoError(b, tap.Flush())
				b.ReportMetric(took.Seconds(), "cluster_s")
				b.ReportMetric(rss, "cli_maxrss_MB")
				b.ReportMetric(float64(reqBytes.Load()+ansBytes.Load())/1024, "firewall_KB")
			}
		})
	}
}
