package cli

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/coordinator/natsd"
	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// TestClusterBehind: a host whose firewall lacks bans the bucket holds is
// "behind" (catching up) when its agent says it has revisions still to
// take, and "drift" when it says it has none: bans --cluster tells a host
// at work from one that lost bans. The agent answers as agents did before
// digests (one FirewallState whatever the request): its answer is taken.
func TestClusterBehind(t *testing.T) {
	ns := natstest.Start(t)
	behind := uint64(0)
	sub, err := ns.NC.Subscribe(subject.AgentRequest("h1", "firewall"), func(m *nats.Msg) {
		data, _ := wire.Encode(&wire.FirewallState{Host: "h1", Backend: "none", Behind: behind,
			Entries: []wire.FirewallEntry{{Jail: "sshd", Addr: netip.MustParseAddr("192.0.2.1"), ExpiresIn: 60}}})
		_ = m.Respond(data)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	g := &globals{timeout: 5 * time.Second}
	fb := fleetOf(t, "sshd/192.0.2.1", "sshd/192.0.2.2", "sshd/192.0.2.3")

	v := askHost(g, ns.NC, wire.Heartbeat{Host: "h1"}, fb, make(chan struct{}, 1))
	require.Equal(t, "drift", v.Status)
	require.Equal(t, []string{"sshd/192.0.2.2", "sshd/192.0.2.3"}, v.Missing)
	require.Equal(t, 2, v.MissingCount)
	require.Equal(t, []string{"sshd/192.0.2.1"}, v.Entries)
	require.Equal(t, 1, v.Held)

	behind = 2
	v = askHost(g, ns.NC, wire.Heartbeat{Host: "h1"}, fb, make(chan struct{}, 1))
	require.Equal(t, "behind", v.Status)
	require.Equal(t, uint64(2), v.Behind)
}

// fleetOf is a bucket of fleet bans of "jail/addr" elements, for an hour.
func fleetOf(t *testing.T, elems ...string) *fleetBans {
	t.Helper()
	now := time.Now()
	var list []wire.Ban
	for _, e := range elems {
		jail, addr, ok := cut(e, '/')
		require.True(t, ok, e)
		list = append(list, wire.Ban{Jail: jail, Addr: netip.MustParseAddr(addr), Created: now, Expires: now.Add(time.Hour)})
	}
	fb, err := fleetBansOf(list, now)
	require.NoError(t, err)
	return fb
}

func cut(s string, sep byte) (string, string, bool) {
	for i := range len(s) {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// scaleAddr is the k-th address of the scale tests: 10.0.0.0/8 counted up
// from 10.0.0.1.
func scaleAddr(k int) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 10<<24+uint32(k)+1)
	return netip.AddrFrom4(b)
}

// fillBans writes n bans of jail (addresses from scaleAddr(from)) straight
// to their keys' subjects, acknowledged.
func fillBans(t testing.TB, js jetstream.JetStream, jail string, from, n int) {
	t.Helper()
	ctx := natstest.Ctx(t, 5*time.Minute)
	now := time.Now()
	for k := from; k < from+n; k += 4096 {
		var acks []jetstream.PubAckFuture
		for i := k; i < min(k+4096, from+n); i++ {
			b := wire.Ban{Jail: jail, Addr: scaleAddr(i), Created: now, Expires: now.Add(2 * time.Hour), By: "coord", Reason: wire.Reason{Count: 3, Hosts: []string{"h1"}}}
			subj, opts := bans.PutMsg(&b, now)
			data, err := wire.Encode(&b)
			require.NoError(t, err)
			f, err := js.PublishAsync(subj, data, opts...)
			require.NoError(t, err)
			acks = append(acks, f)
		}
		for _, f := range acks {
			select {
			case err := <-f.Err():
				require.NoError(t, err)
			case <-f.Ok():
			case <-ctx.Done():
				t.Fatal("bans not acknowledged")
			}
		}
	}
}

// startAgent runs a real agent (firewall backend none: its elements in
// memory) on url, host h1 (logged in with password, if any), heartbeating every heartbeat, until the test
// ends.
func startAgent(t testing.TB, url string, heartbeat time.Duration, password string) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	require.NoError(t, os.WriteFile(logPath, nil, 0o600))
	cfg := &config.Agent{Host: "h1", NATS: config.AgentNATS{URL: url, User: "h1", Password: password}, StateDir: filepath.Join(dir, "state"),
		Firewall: config.Firewall{Backend: "none", Table: "banfleet"}, Heartbeat: heartbeat, Reconcile: time.Hour,
		Jails: map[string]config.AgentJail{"sshd": {Filter: "sshd", LogPath: []string{logPath}, Ports: []uint16{22}, Protocol: "tcp"}}}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := agent.New(ctx, cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), "test")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("the agent did not stop within 10s")
		}
	})
}

// waitHolds waits until h1's agent says its firewall holds n elements and
// has taken every revision of the bucket.
func waitHolds(t testing.TB, nc *nats.Conn, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		msg, err := nc.Request(subject.AgentRequest("h1", "health"), nil, 5*time.Second)
		if err == nil {
			var h wire.Health
			if wire.Decode(msg.Data, &h) == nil && h.BansBehind == 0 && h.BansApplied == n && h.KernelElements == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("h1 does not hold %d elements: %v", n, err)
		}
		time.Sleep(200 * time.Millisecond) // polling the agent's state, with a deadline
	}
}

// TestClusterAtScale: a real agent holding 60,000 bans (more than one
// message of the server could list) is in sync; drift in a few shards is
// found and listed exactly; a jail of 30,000 bans the bucket no longer
// holds comes back listed in several parts, counted whole; with a small
// fetch limit the counts stand without the lists. The agent answers
// with the permissions the coordinator's server gives agents.
func TestClusterAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("60,000 bans")
	}
	// The server's own logins: the agent answers with its permissions.
	srv, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Name: "test",
		Users: natsd.Users(map[string]string{"h1": "h1-pw"}, map[string]string{"admin": "admin-pw"})})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("admin", "admin-pw"))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ns := &natstest.Server{URL: srv.ClientURL(), NC: nc, JS: js}
	ctx := natstest.Ctx(t, 5*time.Minute)
	_, err = bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	_, err = ns.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subject.AgentsBucket})
	require.NoError(t, err)
	_, err = ns.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subject.FleetBucket})
	require.NoError(t, err)
	const n, web = 60_000, 30_000
	fillBans(t, ns.JS, "sshd", 0, n)
	fillBans(t, ns.JS, "web", n, web)
	startAgent(t, ns.URL, 200*time.Millisecond, "h1-pw")
	waitHolds(t, ns.NC, n+web)

	// In sync: one digest, no element listed.
	code, out, errOut := run(t, ns, "", "--user", "admin", "--password", "admin-pw", "bans", "--cluster", "-o", "json", "--timeout", "2m")
	require.Equal(t, ExitOK, code, errOut)
	var res struct {
		Bans   int        `json:"bans"`
		Hosts  []HostView `json:"hosts"`
		InSync bool       `json:"in_sync"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.True(t, res.InSync)
	require.Equal(t, n+web, res.Bans)
	require.Len(t, res.Hosts, 1)
	h := res.Hosts[0]
	require.Equal(t, "in-sync", h.Status)
	require.Equal(t, n+web, h.Held)
	require.Nil(t, h.Entries, "too many to list")
	require.Contains(t, out, `"entries": null`)

	// Drift: the bucket as the CLI read it lacks 3 bans the firewall
	// holds and has 2 it lacks.
	g := &globals{timeout: time.Minute}
	now := time.Now()
	var list []wire.Ban
	for k := 3; k < n+web+2; k++ {
		jail := "sshd"
		if k >= n && k < n+web {
			jail = "web"
		}
		list = append(list, wire.Ban{Jail: jail, Addr: scaleAddr(k), Expires: now.Add(time.Hour)})
	}
	fb, err := fleetBansOf(list, now)
	require.NoError(t, err)
	hb := wire.Heartbeat{Host: "h1"}
	v := askHost(g, ns.NC, hb, fb, make(chan struct{}, 1))
	require.Equal(t, "drift", v.Status, v.Error)
	require.Equal(t, []string{"sshd/10.0.0.1", "sshd/10.0.0.2", "sshd/10.0.0.3"}, v.Extra)
	require.Equal(t, []string{"sshd/" + scaleAddr(n+web).String(), "sshd/" + scaleAddr(n+web+1).String()}, v.Missing)
	require.Equal(t, 3, v.ExtraCount)
	require.Equal(t, 2, v.MissingCount)
	require.Zero(t, v.Unchecked)
	require.Equal(t, n+web, v.Held)

	// The bucket without jail web: 30,000 extra, fetched in several parts.
	fb, err = fleetBansOf(list[:n-3], now)
	require.NoError(t, err)
	v = askHost(g, ns.NC, hb, fb, make(chan struct{}, 1))
	require.Equal(t, "drift", v.Status, v.Error)
	require.Equal(t, web+3, v.ExtraCount)
	require.Len(t, v.Extra, maxListed)
	require.Zero(t, v.MissingCount)
	require.Equal(t, n+web, v.Held)

	// Over the fetch limit: counted by shard, not listed.
	old := fetchLimit
	fetchLimit = 1000
	t.Cleanup(func() { fetchLimit = old })
	v = askHost(g, ns.NC, hb, fb, make(chan struct{}, 1))
	require.Equal(t, "drift", v.Status, v.Error)
	require.Positive(t, v.Unchecked)
	require.Equal(t, web+3, v.ExtraCount, "every differing shard holds only extra elements: exact")
	require.Less(t, len(v.Extra), web)
}

// newAgentFake answers firewall queries as an agent does, from a fixed
// set of elements, sending its parts through send (which may lose some).
func newAgentFake(t *testing.T, nc *nats.Conn, host string, entries []wire.FirewallEntry, send func(reply string, parts [][]byte)) {
	t.Helper()
	sub, err := nc.Subscribe(subject.AgentRequest(host, "firewall"), func(m *nats.Msg) {
		q, err := wire.DecodeFirewallQuery(m.Data)
		require.NoError(t, err)
		d := wire.NewFirewallDigest(q.Bits)
		final := wire.FirewallPart{Host: host, Final: true, Backend: "none"}
		in := map[int]bool{}
		for _, s := range q.Shards {
			in[s] = true
		}
		var listed []wire.FirewallEntry
		for _, e := range entries {
			if !e.Local {
				d.Add(wire.FirewallHash(e.Jail, e.Addr))
				final.Count++
			}
			if len(q.Shards) == 0 && e.Local || in[d.Shard(wire.FirewallHash(e.Jail, e.Addr))] {
				listed = append(listed, e)
			}
		}
		final.Digest = d.Bytes()
		// One entry a part.
		var parts [][]byte
		for i, e := range listed {
			data, err := wire.EncodeFirewall(&wire.FirewallPart{Host: host, Part: i + 1, Entries: []wire.FirewallEntry{e}})
			require.NoError(t, err)
			parts = append(parts, data)
		}
		final.Part, final.Parts, final.Total = len(parts)+1, len(parts)+1, len(listed)
		data, err := wire.EncodeFirewall(&final)
		require.NoError(t, err)
		send(m.Reply, append(parts, data))
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

// TestClusterParts: an answer in parts is taken whole; a lost part, or a
// missing last one, makes the host's status "error" saying what was lost;
// the host's local bans are listed, not counted as drift.
func TestClusterParts(t *testing.T) {
	ns := natstest.Start(t)
	old := listEntries
	listEntries = 0 // digests, never the whole firewall
	t.Cleanup(func() { listEntries = old })
	addr := netip.MustParseAddr
	entries := []wire.FirewallEntry{
		{Jail: "sshd", Addr: addr("192.0.2.1")},
		{Jail: "sshd", Addr: addr("192.0.2.9"), Local: true},
		{Jail: "sshd", Addr: addr("192.0.2.8"), Local: true},
	}
	fb := fleetOf(t, "sshd/192.0.2.1", "sshd/192.0.2.8")
	lose := map[string]int{}
	for _, h := range []string{"whole", "lost", "nofinal"} {
		newAgentFake(t, ns.NC, h, entries, func(reply string, parts [][]byte) {
			for i, p := range parts {
				if i+1 == lose[h] || (h == "nofinal" && i == len(parts)-1) {
					continue
				}
				require.NoError(t, ns.NC.Publish(reply, p))
			}
		})
	}
	lose["lost"] = 2
	g := &globals{timeout: 2 * time.Second}

	v := askHost(g, ns.NC, wire.Heartbeat{Host: "whole"}, fb, make(chan struct{}, 1))
	require.Equal(t, "in-sync", v.Status, v.Error)
	require.Equal(t, []string{"sshd/192.0.2.9"}, v.Local, ".8 is the fleet's too: held, not local")
	require.Equal(t, 3, v.Held)
	require.Empty(t, v.Missing)
	require.Empty(t, v.Extra)

	v = askHost(g, ns.NC, wire.Heartbeat{Host: "lost"}, fb, make(chan struct{}, 1))
	require.Equal(t, "error", v.Status)
	require.Equal(t, "host lost: answer part 2 lost (part 3 came next)", v.Error)

	v = askHost(g, ns.NC, wire.Heartbeat{Host: "nofinal"}, fb, make(chan struct{}, 1))
	require.Equal(t, "error", v.Status)
	require.Contains(t, v.Error, "host nofinal: answer incomplete: 2 parts came, then none for 2s")

	v = askHost(g, ns.NC, wire.Heartbeat{Host: "nobody"}, fb, make(chan struct{}, 1))
	require.Equal(t, "no-answer", v.Status)

	// Drift on a digest: a missing element, fetched by shard.
	fb = fleetOf(t, "sshd/192.0.2.1", "sshd/192.0.2.2")
	v = askHost(g, ns.NC, wire.Heartbeat{Host: "whole"}, fb, make(chan struct{}, 1))
	require.Equal(t, "drift", v.Status, v.Error)
	require.Equal(t, []string{"sshd/192.0.2.2"}, v.Missing)
	require.Empty(t, v.Extra)
	require.Equal(t, []string{"sshd/192.0.2.8", "sshd/192.0.2.9"}, v.Local)

	// unban's question: the local bans alone.
	views := eachHost([]string{"whole", "lost"}, func(h string) HostView {
		ans, status, err := askFirewall(ns.NC, h, &wire.FirewallQuery{Bits: wire.MinFirewallBits}, g.timeout, nil)
		if err != nil {
			return HostView{Host: h, Status: status, Error: err.Error()}
		}
		return HostView{Host: h, Status: "answered", Local: []string{strconv.Itoa(len(ans.entries))}}
	})
	require.Equal(t, []string{"2"}, views[0].Local)
	require.Equal(t, "error", views[1].Status)
}

// TestDigestBits: about 128 elements a shard, within the server's payload.
func TestDigestBits(t *testing.T) {
	for _, c := range []struct {
		n    int
		max  int64
		bits int
	}{{0, 1 << 20, 8}, {50_000, 1 << 20, 9}, {1_000_000, 1 << 20, 13}, {100_000_000, 1 << 20, 15}, {1_000_000, 64 << 10, 11}} {
		require.Equal(t, c.bits, digestBits(c.n, c.max), fmt.Sprint(c))
	}
}

// wantOn is what host's firewall should hold of list ("jail/addr"), as
// bans --cluster computes it (TestWantOn).
func wantOn(host wire.Heartbeat, list []wire.Ban, now time.Time) map[string]bool {
	fb, err := fleetBansOf(list, now)
	if err != nil {
		panic(err)
	}
	w := fb.on(host)
	out := map[string]bool{}
	w.each(func(b *fleetBan) { out[w.elem(b).String()] = true })
	return out
}
