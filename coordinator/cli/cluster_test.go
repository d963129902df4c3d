package cli

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/natstest"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// TestClusterBehind: a host whose firewall lacks bans the bucket holds is
// "behind" (catching up) when its agent says it has revisions still to
// take, and "drift" when it says it has none: bans --cluster tells a host
// at work from one that lost bans.
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
	want := map[string]bool{"sshd/192.0.2.1": true, "sshd/192.0.2.2": true, "sshd/192.0.2.3": true}

	v := askHost(g, ns.NC, wire.Heartbeat{Host: "h1"}, want)
	require.Equal(t, "drift", v.Status)
	require.Equal(t, []string{"sshd/192.0.2.2", "sshd/192.0.2.3"}, v.Missing)

	behind = 2
	v = askHost(g, ns.NC, wire.Heartbeat{Host: "h1"}, want)
	require.Equal(t, "behind", v.Status)
	require.Equal(t, uint64(2), v.Behind)
}
