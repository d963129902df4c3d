package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/bans"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func testPolicy() *wire.Policy {
	return &wire.Policy{
		V: wire.Version,
		Jails: map[string]wire.PolicyJail{
			"sshd":  {MaxRetry: 5, FindTime: 600, BanTime: 3600, Quorum: 2, IgnoreIP: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}, Source: "config"},
			"nginx": {MaxRetry: 5, FindTime: 300, BanTime: 3600, Quorum: 1, Source: "hosts"},
		},
		MaxBanTime: (168 * time.Hour).Seconds(),
		Never: []wire.NeverBan{
			{Prefix: netip.MustParsePrefix("10.0.0.1/32"), Reason: "an address of the control plane (a coordinator or NATS server)"},
			{Prefix: netip.MustParsePrefix("203.0.113.0/28"), Reason: "in the coordinator's ignoreip", Force: true},
			{Prefix: netip.MustParsePrefix("10.0.0.1/32"), Reason: "an address of a fleet host", Force: true},
			{Prefix: netip.MustParsePrefix("10.0.0.2/32"), Reason: "an address of a fleet host", Force: true},
			{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Reason: "in the coordinator's ignoreip", Force: true},
		},
	}
}

func TestCheckBan(t *testing.T) {
	pol := testPolicy()
	tests := []struct {
		name    string
		addr    string
		jail    string
		dur     time.Duration
		force   bool
		newJail bool
		forced  bool
		want    string // in the error; "" for no error
	}{
		{name: "plain", addr: "192.0.2.7", jail: "sshd", dur: time.Hour},
		{name: "manual", addr: "192.0.2.7", jail: "manual", dur: time.Hour},
		{name: "v6", addr: "2001:db8:2::1", jail: "nginx", dur: time.Hour},
		{name: "force without reason is no forced ban", addr: "192.0.2.7", jail: "sshd", dur: time.Hour, force: true},
		{name: "loopback", addr: "127.0.0.1", jail: "manual", dur: time.Hour, want: "127.0.0.1 is never banned: loopback"},
		{name: "loopback forced", addr: "127.0.0.1", jail: "manual", dur: time.Hour, force: true, want: "never banned: loopback"},
		{name: "loopback v6", addr: "::1", jail: "manual", dur: time.Hour, want: "never banned: loopback"},
		{name: "multicast", addr: "224.0.0.1", jail: "manual", dur: time.Hour, force: true, want: "224.0.0.1 is never banned: multicast"},
		{name: "unspecified", addr: "0.0.0.0", jail: "manual", dur: time.Hour, want: "unspecified"},
		{name: "this network", addr: "0.1.2.3", jail: "manual", dur: time.Hour, want: "this network"},
		{name: "broadcast", addr: "255.255.255.255", jail: "manual", dur: time.Hour, want: "broadcast"},
		{name: "link-local", addr: "fe80::1", jail: "manual", dur: time.Hour, want: "link-local"},
		{name: "control plane", addr: "10.0.0.1", jail: "sshd", dur: time.Hour, want: "10.0.0.1 is never banned, not even with --force: an address of the control plane"},
		{name: "control plane forced", addr: "10.0.0.1", jail: "sshd", dur: time.Hour, force: true, want: "not even with --force"},
		{name: "fleet host", addr: "10.0.0.2", jail: "sshd", dur: time.Hour, want: "10.0.0.2 is not banned without --force: an address of a fleet host"},
		{name: "fleet host forced", addr: "10.0.0.2", jail: "sshd", dur: time.Hour, force: true, forced: true},
		{name: "coordinator ignoreip", addr: "203.0.113.5", jail: "manual", dur: time.Hour, want: "without --force: in the coordinator's ignoreip"},
		{name: "coordinator ignoreip forced", addr: "203.0.113.5", jail: "manual", dur: time.Hour, force: true, forced: true},
		{name: "coordinator ignoreip v6", addr: "2001:db8:1::9", jail: "manual", dur: time.Hour, want: "in the coordinator's ignoreip"},
		{name: "jail ignoreip", addr: "198.51.100.9", jail: "sshd", dur: time.Hour, want: "198.51.100.9 is not banned without --force: in jail sshd's ignoreip"},
		{name: "jail ignoreip forced", addr: "198.51.100.9", jail: "sshd", dur: time.Hour, force: true, forced: true},
		{name: "other jail's ignoreip", addr: "198.51.100.9", jail: "nginx", dur: time.Hour},
		{name: "too long", addr: "192.0.2.7", jail: "sshd", dur: 169 * time.Hour, want: "--for 169h: at most 168h (limits.max_bantime in coord.yaml)"},
		{name: "longest", addr: "192.0.2.7", jail: "sshd", dur: 168 * time.Hour},
		{name: "too short", addr: "192.0.2.7", jail: "sshd", dur: time.Millisecond, want: "at least 1s"},
		{name: "unknown jail", addr: "192.0.2.7", jail: "postfix", dur: time.Hour, want: "--jail postfix: a jail the fleet does not know (it knows manual, nginx, sshd); --new-jail creates it"},
		{name: "new jail", addr: "192.0.2.7", jail: "postfix", dur: time.Hour, newJail: true},
		{name: "bad jail name", addr: "192.0.2.7", jail: "a.b", dur: time.Hour, newJail: true, want: "only letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forced, err := checkBan(pol, netip.MustParseAddr(tt.addr), tt.jail, tt.dur, tt.force, tt.newJail)
			if tt.want == "" {
				require.NoError(t, err)
				require.Equal(t, tt.forced, forced)
				return
			}
			require.ErrorContains(t, err, tt.want)
			var ee *ExitError
			require.True(t, errors.As(err, &ee))
			require.Equal(t, ExitUsage, ee.Code)
			require.False(t, forced)
		})
	}
}

func TestWithHosts(t *testing.T) {
	pol := testPolicy()
	got := withHosts(pol, []wire.Heartbeat{{Host: "web-9", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8:9::1")}}})
	require.Len(t, pol.Never, 5, "the policy itself is left alone")
	require.Len(t, got.Never, 6, "10.0.0.2 is in the policy already")
	require.Equal(t, wire.NeverBan{Prefix: netip.MustParsePrefix("2001:db8:9::1/128"), Reason: "an address of fleet host web-9", Force: true}, got.Never[5])
	_, err := checkBan(got, netip.MustParseAddr("2001:db8:9::1"), "manual", time.Hour, false, false)
	require.ErrorContains(t, err, "fleet host web-9")
}

func TestReadBanFile(t *testing.T) {
	in := `# bans from the incident
192.0.2.1
192.0.2.2   sshd   # a comment
2001:db8::2 nginx 2h

not-an-address
192.0.2.3 sshd 2x
192.0.2.4 sshd 1h extra
` + strings.Repeat("x", maxBulkLine+10) + `
192.0.2.5	nginx` // a last line without a newline
	var ok []parsedLine
	var refused []refusedLine
	err := readBanFile(strings.NewReader(in), "manual", time.Hour, func(p parsedLine) error {
		ok = append(ok, p)
		return nil
	}, func(r refusedLine) { refused = append(refused, r) })
	require.NoError(t, err)
	require.Equal(t, []parsedLine{
		{line: 2, text: "192.0.2.1", addr: netip.MustParseAddr("192.0.2.1"), jail: "manual", dur: time.Hour},
		{line: 3, text: "192.0.2.2 sshd", addr: netip.MustParseAddr("192.0.2.2"), jail: "sshd", dur: time.Hour},
		{line: 4, text: "2001:db8::2 nginx 2h", addr: netip.MustParseAddr("2001:db8::2"), jail: "nginx", dur: 2 * time.Hour},
		{line: 10, text: "192.0.2.5 nginx", addr: netip.MustParseAddr("192.0.2.5"), jail: "nginx", dur: time.Hour},
	}, ok)
	require.Len(t, refused, 4)
	for i, line := range []int{6, 7, 8, 9} {
		require.Equal(t, line, refused[i].Line)
	}
	require.Contains(t, refused[1].Error, `duration "2x"`)
	require.Contains(t, refused[2].Error, "at most 3")
	require.Equal(t, refusedLine{Line: 9, Error: "longer than 4096 bytes"}, refused[3])

	// An error of the caller stops the reading.
	stop := errors.New("stop")
	n := 0
	err = readBanFile(strings.NewReader("192.0.2.1\n192.0.2.2\n"), "manual", time.Hour, func(parsedLine) error { n++; return stop }, nil)
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)

	// A read error names the line it happened on.
	err = readBanFile(io.MultiReader(strings.NewReader("192.0.2.1\n"), iotest.ErrReader(errors.New("disk gone"))), "manual", time.Hour,
		func(parsedLine) error { return nil }, nil)
	require.ErrorContains(t, err, "line 2: disk gone")
}

// fleetServer is a NATS server with what coord serve would have made: the
// offence stream, the bans bucket and, with pol, the fleet bucket's policy.
func fleetServer(t testing.TB, pol *wire.Policy) (*natstest.Server, *bans.Store) {
	t.Helper()
	ns := natstest.Start(t)
	ctx := natstest.Ctx(t, 30*time.Second)
	_, err := ns.JS.CreateStream(ctx, jetstream.StreamConfig{Name: subject.OffenceStream, Subjects: []string{subject.OffenceWildcard}})
	require.NoError(t, err)
	st, err := bans.Open(ctx, ns.JS, true, 1)
	require.NoError(t, err)
	kv, err := ns.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subject.FleetBucket})
	require.NoError(t, err)
	// A host that joined after the policy was written.
	agents, err := ns.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subject.AgentsBucket})
	require.NoError(t, err)
	hb, err := wire.Encode(&wire.Heartbeat{Host: "web-9", Seen: time.Now(), Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("10.0.0.2")}})
	require.NoError(t, err)
	_, err = agents.Put(ctx, "web-9", hb)
	require.NoError(t, err)
	if pol != nil {
		data, err := wire.Encode(pol)
		require.NoError(t, err)
		_, err = kv.Put(ctx, subject.PolicyKey, data)
		require.NoError(t, err)
	}
	return ns, st
}

// run runs the coord command line against ns and returns its exit code,
// standard output and standard error.
func run(t *testing.T, ns *natstest.Server, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCommand(&out)
	root.SetArgs(append([]string{"--nats", ns.URL}, args...))
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	err := root.ExecuteContext(natstest.Ctx(t, time.Minute))
	code := ExitOK
	if err != nil {
		errOut.WriteString(err.Error())
		code = ExitFailure
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
	}
	return code, out.String(), errOut.String()
}

func getBan(t *testing.T, st *bans.Store, key string) *wire.Ban {
	t.Helper()
	e, err := st.KV().Get(context.Background(), key)
	require.NoError(t, err, key)
	b, err := bans.Decode(e)
	require.NoError(t, err)
	return b
}

func TestBanCommand(t *testing.T) {
	t.Run("no policy", func(t *testing.T) {
		ns, _ := fleetServer(t, nil)
		code, _, errOut := run(t, ns, "", "ban", "192.0.2.7")
		require.Equal(t, ExitFailure, code)
		require.Contains(t, errOut, "the coordinator's policy is not in the fleet bucket: is coord serve running?")
	})

	ns, st := fleetServer(t, testPolicy())
	code, out, errOut := run(t, ns, "", "ban", "192.0.2.7", "--jail", "sshd", "--for", "2h")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "banned 192.0.2.7 in sshd for 2h")
	b := getBan(t, st, subject.BanKey("sshd", netip.MustParseAddr("192.0.2.7")))
	require.False(t, b.Forced)
	require.WithinDuration(t, b.Created.Add(2*time.Hour), b.Expires, time.Second)

	code, _, errOut = run(t, ns, "", "ban", "10.0.0.2")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, errOut, "10.0.0.2 is not banned without --force: an address of a fleet host")
	_, err := st.KV().Get(context.Background(), subject.BanKey("manual", netip.MustParseAddr("10.0.0.2")))
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)

	code, out, errOut = run(t, ns, "", "ban", "10.0.0.2", "--force")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "(forced)")
	require.True(t, getBan(t, st, subject.BanKey("manual", netip.MustParseAddr("10.0.0.2"))).Forced)

	code, _, errOut = run(t, ns, "", "ban", "10.0.0.9")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, errOut, "10.0.0.9 is not banned without --force: an address of fleet host web-9")

	code, _, errOut = run(t, ns, "", "ban", "10.0.0.1", "--force")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, errOut, "not even with --force")

	code, _, errOut = run(t, ns, "", "ban", "192.0.2.8", "--jail", "postfix")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, errOut, "manual, nginx, sshd")
	code, _, errOut = run(t, ns, "", "ban", "192.0.2.8", "--jail", "postfix", "--new-jail", "--port", "25")
	require.Equal(t, ExitOK, code, errOut)
	require.Equal(t, []uint16{25}, getBan(t, st, subject.BanKey("postfix", netip.MustParseAddr("192.0.2.8"))).Ports)
}

func TestBanFile(t *testing.T) {
	ns, st := fleetServer(t, testPolicy())
	file := filepath.Join(t.TempDir(), "bans.txt")
	require.NoError(t, os.WriteFile(file, []byte("192.0.2.1\n127.0.0.1\n192.0.2.2 sshd 3h\n10.0.0.2 # a fleet host\n192.0.2.3 sshd 999h\n"), 0o600))
	code, out, errOut := run(t, ns, "", "ban", "-f", file)
	require.Equal(t, ExitUsage, code)
	require.Contains(t, out, "banned 2 addresses")
	require.Contains(t, errOut, file+":2: 127.0.0.1: 127.0.0.1 is never banned: loopback")
	require.Contains(t, errOut, file+":4: 10.0.0.2:")
	require.Contains(t, errOut, file+":5: 192.0.2.3 sshd 999h: --for 999h: at most 168h")
	getBan(t, st, subject.BanKey("manual", netip.MustParseAddr("192.0.2.1")))
	b := getBan(t, st, subject.BanKey("sshd", netip.MustParseAddr("192.0.2.2")))
	require.WithinDuration(t, b.Created.Add(3*time.Hour), b.Expires, time.Second)

	// Standard input, many lines, JSON.
	var in strings.Builder
	for i := range 5000 { // more than banWindow: the window turns over
		in.WriteString(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}).String() + " nginx\n")
	}
	code, out, errOut = run(t, ns, in.String(), "ban", "-f", "-", "-o", "json")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, `"banned": 5000`)
	require.Contains(t, out, `"refused": []`)
	list, _, err := st.List(natstest.Ctx(t, 30*time.Second))
	require.NoError(t, err)
	require.Len(t, list, 5002)

	// JSON lists the refused lines, in the file's order.
	code, out, _ = run(t, ns, "127.0.0.1\n192.0.2.9\nnope\n", "ban", "-f", "-", "-o", "json")
	require.Equal(t, ExitUsage, code)
	var res struct {
		Banned  int           `json:"banned"`
		Refused []refusedLine `json:"refused"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, 1, res.Banned)
	require.Equal(t, []int{1, 3}, []int{res.Refused[0].Line, res.Refused[1].Line})
	require.Contains(t, res.Refused[1].Error, `address "nope"`)

	code, _, errOut = run(t, ns, "", "ban", "-f", filepath.Join(t.TempDir(), "none.txt"))
	require.Equal(t, ExitUsage, code)
	require.Contains(t, errOut, "none.txt: no such file")
}

// TestUnbanFile: unban -f lifts every ban of each address of the file
// (every jail, or the line's jail; the fleet's and one host's alone; an
// agent's own, made while NATS was away, by a purge marker), in several
// passes over the bucket when the file has more addresses than a chunk.
func TestUnbanFile(t *testing.T) {
	ns, st := fleetServer(t, testPolicy())
	ctx := natstest.Ctx(t, time.Minute)
	addr := netip.MustParseAddr
	now := time.Now()
	for _, b := range []wire.Ban{
		{Addr: addr("192.0.2.1"), Jail: "manual"},
		{Addr: addr("192.0.2.1"), Jail: "sshd"},
		{Addr: addr("192.0.2.2"), Jail: "sshd"},
		{Addr: addr("192.0.2.3"), Jail: "sshd", Only: "web-9"},
		{Addr: addr("192.0.2.4"), Jail: "nginx"},
		{Addr: addr("2001:db8::4"), Jail: "nginx"},
	} {
		b.Created, b.Expires = now, now.Add(time.Hour)
		require.NoError(t, st.Put(ctx, &b, now))
	}
	// web-9 holds a ban of its own, made while NATS was away.
	sub, err := ns.NC.Subscribe(subject.AgentRequest("web-9", "firewall"), func(m *nats.Msg) {
		data, _ := wire.Encode(&wire.FirewallState{Host: "web-9", Backend: "none",
			Entries: []wire.FirewallEntry{{Jail: "sshd", Addr: addr("192.0.2.5"), Local: true}}})
		_ = m.Respond(data)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	watch, err := st.KV().Watch(ctx, subject.BanKey("sshd", addr("192.0.2.5")), jetstream.UpdatesOnly())
	require.NoError(t, err)
	defer watch.Stop()

	old := unbanChunk
	unbanChunk = 2
	t.Cleanup(func() { unbanChunk = old })
	file := filepath.Join(t.TempDir(), "unban.txt")
	require.NoError(t, os.WriteFile(file, []byte("192.0.2.1\n192.0.2.2 nginx\n192.0.2.3 sshd 1h # as ban -f wrote it\nbad\n192.0.2.9\n192.0.2.5\n2001:db8:0::4 nginx\n192.0.2.6 a.b\n"), 0o600))
	code, out, errOut := run(t, ns, "", "unban", "-f", file)
	require.Equal(t, ExitUsage, code, errOut)
	require.Contains(t, out, "lifted the local ban of 192.0.2.5 in sshd on web-9")
	require.Contains(t, out, "unbanned 5 bans for 4 lines of "+file+"; 2 lines named no ban; 2 lines refused")
	require.Contains(t, errOut, file+`:4: bad: address "bad"`)
	require.Contains(t, errOut, file+`:8: 192.0.2.6 a.b: jail "a.b": only letters`)
	list, _, err := st.List(ctx)
	require.NoError(t, err)
	var left []string
	for _, b := range list {
		left = append(left, bans.Key(&b))
	}
	require.ElementsMatch(t, []string{subject.BanKey("sshd", addr("192.0.2.2")), subject.BanKey("nginx", addr("192.0.2.4"))}, left)
	select {
	case e := <-watch.Updates():
		require.Equal(t, jetstream.KeyValuePurge, e.Operation(), "the local ban is lifted by a purge marker")
	case <-ctx.Done():
		t.Fatal("no purge marker for the local ban")
	}

	// Nothing of the file banned: exit code 3; JSON.
	code, out, _ = run(t, ns, "192.0.2.77\n", "unban", "-f", "-", "-o", "json")
	require.Equal(t, ExitNotFound, code)
	require.Contains(t, out, `"not_banned": 1`)
	code, _, errOut = run(t, ns, "", "unban", "-f", file, "192.0.2.2")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, errOut, "not both")
}

// TestBanWriterFails: bans no stream stores (no bans bucket) are not
// counted as written, and the writer reports the first failure after
// waiting for every ban it published.
func TestBanWriterFails(t *testing.T) {
	ns := natstest.Start(t)
	w := newBanWriter(natstest.Ctx(t, time.Minute), ns.JS, 2*time.Second)
	now := time.Now()
	var err error
	for i := range banWindow + 10 {
		b := wire.Ban{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Jail: "manual", Created: now, Expires: now.Add(time.Hour)}
		if err = w.put(&b, now); err != nil {
			break
		}
	}
	require.Error(t, err, "a window's worth of bans without acknowledgement")
	ferr := w.flush()
	require.ErrorIs(t, ferr, err)
	require.ErrorContains(t, ferr, "put ban 192.0.2.0 in manual")
	require.Zero(t, w.written)
	require.Zero(t, w.n)
}
