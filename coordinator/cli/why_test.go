package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

func publishOffence(t *testing.T, ns *natstest.Server, o wire.Offence) {
	t.Helper()
	data, err := wire.Encode(&o)
	require.NoError(t, err)
	_, err = ns.JS.Publish(context.Background(), subject.Offence(subject.Shard(o.Addr, subject.DefaultShards), o.Host), data)
	require.NoError(t, err)
}

func offence(host, jail, addr, line string, at time.Time) wire.Offence {
	return wire.Offence{ID: host + "-" + line, Host: host, Jail: jail, Addr: netip.MustParseAddr(addr), Time: at, Line: line, User: "root"}
}

func TestWhy(t *testing.T) {
	ns, st := fleetServer(t, testPolicy())
	ctx := natstest.Ctx(t, 30*time.Second)
	now := time.Now()
	publishOffence(t, ns, offence("web-1", "sshd", "192.0.2.7", "line-one web-1 Failed password for root from 192.0.2.7", now))
	publishOffence(t, ns, offence("web-2", "sshd", "192.0.2.7", "line-two web-2 Failed password for root from 192.0.2.7", now))
	publishOffence(t, ns, offence("web-1", "sshd", "192.0.2.99", "line-four web-1 Failed password for root from 192.0.2.99", now))
	publishOffence(t, ns, offence("web-2", "sshd", "::ffff:192.0.2.7", "line-three web-2 Failed password for root from 192.0.2.7", now))
	// Another jail's offence of the address, and one whose host is not its subject's.
	publishOffence(t, ns, offence("web-1", "nginx", "192.0.2.7", "line-nginx", now))
	spoof := offence("web-3", "sshd", "192.0.2.7", "line-spoofed", now)
	data, _ := wire.Encode(&spoof)
	_, err := ns.JS.Publish(ctx, subject.Offence(0, "web-1"), data)
	require.NoError(t, err)

	created := time.Now()
	ban := &wire.Ban{Addr: netip.MustParseAddr("192.0.2.7"), Jail: "sshd", Created: created, Expires: created.Add(time.Hour), By: "coord",
		Reason: wire.Reason{Count: 3, Hosts: []string{"web-1", "web-2"}}}
	require.NoError(t, st.Put(ctx, ban, created))

	code, out, errOut := run(t, ns, "", "why", "192.0.2.7")
	require.Equal(t, ExitOK, code, errOut)
	t.Log("\n" + out)
	require.Contains(t, out, "192.0.2.7 banned in sshd on every host")
	require.Contains(t, out, "HOST")
	for _, want := range []string{"web-1", "web-2", "line-one", "line-two", "line-three", "3 offences"} {
		require.Contains(t, out, want)
	}
	for _, not := range []string{"line-four", "line-nginx", "line-spoofed", "note:"} {
		require.NotContains(t, out, not)
	}

	// A ban one host enforces alone, and JSON.
	only := *ban
	only.Jail, only.Only = "nginx", "web-1"
	require.NoError(t, st.Put(ctx, &only, created))
	code, out, errOut = run(t, ns, "", "why", "192.0.2.7", "-o", "json")
	require.Equal(t, ExitOK, code, errOut)
	var rep struct {
		Bans []struct {
			Key      string         `json:"key"`
			Ban      wire.Ban       `json:"ban"`
			Offences []wire.Offence `json:"offences"`
		} `json:"bans"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Bans, 2)
	lines := map[string][]string{}
	for _, b := range rep.Bans {
		for _, o := range b.Offences {
			lines[b.Key] = append(lines[b.Key], strings.Fields(o.Line)[0])
		}
	}
	require.ElementsMatch(t, []string{"line-one", "line-two", "line-three"}, lines[subject.BanKey("sshd", ban.Addr)])
	require.Equal(t, []string{"line-nginx"}, lines[subject.HostBanKey("nginx", ban.Addr, "web-1")])

	code, out, _ = run(t, ns, "", "why", "192.0.2.7", "--jail", "nginx")
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "on ONLY web-1")
	require.NotContains(t, out, "line-one")

	// No ban: exit 3, with the recent offences.
	code, out, errOut = run(t, ns, "", "why", "192.0.2.99")
	require.Equal(t, ExitNotFound, code)
	require.Contains(t, errOut, "192.0.2.99 is not banned")
	require.Contains(t, out, "192.0.2.99 is not banned; its offences since")
	require.Contains(t, out, "line-four")
	code, out, _ = run(t, ns, "", "why", "192.0.2.200")
	require.Equal(t, ExitNotFound, code)
	require.Empty(t, out)
}

func TestScanOffencesBounded(t *testing.T) {
	ns, _ := fleetServer(t, nil)
	ctx := natstest.Ctx(t, 30*time.Second)
	now := time.Now()
	for i := range 10 {
		publishOffence(t, ns, offence("web-1", "sshd", "192.0.2.7", fmt.Sprintf("line-%d", i), now))
	}
	addr := netip.MustParseAddr("192.0.2.7")
	sc, err := scanOffences(ctx, ns.JS, addr, "sshd", now.Add(-time.Minute), time.Now().Add(time.Second), 4)
	require.NoError(t, err)
	require.Len(t, sc.Offences, 4)
	require.Contains(t, sc.CutShort, "read 4 messages")

	sc, err = scanOffences(ctx, ns.JS, addr, "sshd", now.Add(-time.Minute), time.Now().Add(time.Second), 1000)
	require.NoError(t, err)
	require.Len(t, sc.Offences, 10)
	require.Empty(t, sc.CutShort)

	// A window after the stream's last message reads nothing.
	sc, err = scanOffences(ctx, ns.JS, addr, "sshd", time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), 1000)
	require.NoError(t, err)
	require.Empty(t, sc.Offences)
	require.Zero(t, sc.Scanned)
}

func TestWantOn(t *testing.T) {
	now := time.Now()
	ban := func(addr, jail, only string) wire.Ban {
		return wire.Ban{Addr: netip.MustParseAddr(addr), Jail: jail, Only: only, Created: now, Expires: now.Add(time.Hour)}
	}
	list := []wire.Ban{
		ban("192.0.2.1", "sshd", ""),
		ban("192.0.2.2", "sshd", "web-1"),
		ban("192.0.2.3", "sshd", "web-2"),
		ban("10.0.0.11", "sshd", ""),    // web-1's own address
		ban("198.51.100.5", "sshd", ""), // in web-2's sshd ignoreip
		ban("127.0.0.1", "manual", ""),
		{Addr: netip.MustParseAddr("192.0.2.9"), Jail: "sshd", Created: now, Expires: now.Add(time.Second)}, // about to expire
	}
	web1 := wire.Heartbeat{Host: "web-1", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.11")}}
	web2 := wire.Heartbeat{Host: "web-2", Jails: map[string]wire.JailPolicy{"sshd": {IgnoreIP: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}}}
	require.Equal(t, map[string]bool{"sshd/192.0.2.1": true, "sshd/192.0.2.2": true, "sshd/198.51.100.5": true}, wantOn(web1, list, now))
	require.Equal(t, map[string]bool{"sshd/192.0.2.1": true, "sshd/192.0.2.3": true, "sshd/10.0.0.11": true}, wantOn(web2, list, now))
}
