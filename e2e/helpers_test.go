package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/coordinator/cli"
	"github.com/banfleet/banfleet/e2e/lab"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// fleet starts a lab and the fleet on it, and waits until every agent has
// sent a heartbeat.
func fleet(t *testing.T, opts lab.FleetOptions) (*lab.Lab, *lab.Fleet) {
	t.Helper()
	l := lab.New(t, lab.Options{Binaries: lab.Build(t)})
	f, err := l.StartFleet(opts)
	require.NoError(t, err)
	waitAgents(t, l, lab.HostNames()...)
	return l, f
}

func waitAgents(t *testing.T, l *lab.Lab, hosts ...string) {
	t.Helper()
	require.NoError(t, lab.WaitFor(30*time.Second, func() error {
		out, _, err := l.Coord("agents", "-o", "json")
		if err != nil {
			return err
		}
		var hbs []struct {
			Host string    `json:"host"`
			Seen time.Time `json:"seen"`
		}
		if err := json.Unmarshal([]byte(out), &hbs); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, hb := range hbs {
			seen[hb.Host] = time.Since(hb.Seen) < 5*time.Second
		}
		for _, h := range hosts {
			if !seen[h] {
				return fmt.Errorf("agent %s has not reported", h)
			}
		}
		return nil
	}))
}

// held returns the addresses in a jail's IPv4 set on host (empty when the
// set does not exist yet).
func held(l *lab.Lab, host, jail string) ([]string, error) {
	els, err := l.SetElements(host, "banfleet", jail+"_v4")
	if errors.Is(err, lab.ErrNoSet) || errors.Is(err, lab.ErrNoTable) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(els))
	for _, a := range els {
		out = append(out, a.String())
	}
	return out, nil
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bannedEverywhere reports nil when addr is in the jail's set of every host.
func bannedEverywhere(l *lab.Lab, jail, addr string, hosts ...string) error {
	for _, h := range hosts {
		els, err := held(l, h, jail)
		if err != nil {
			return err
		}
		if !has(els, addr) {
			return fmt.Errorf("%s: %s not in %s set %v", h, addr, jail, els)
		}
	}
	return nil
}

// goneEverywhere reports nil when addr is in no host's jail set.
func goneEverywhere(l *lab.Lab, jail, addr string, hosts ...string) error {
	for _, h := range hosts {
		els, err := held(l, h, jail)
		if err != nil {
			return err
		}
		if has(els, addr) {
			return fmt.Errorf("%s: %s still in %s set", h, addr, jail)
		}
	}
	return nil
}

// metrics reads a daemon's Prometheus metrics in its namespace and sums the
// samples of name whose labels contain every given label pair.
func metric(l *lab.Lab, ns, port, name string, labels ...string) (float64, error) {
	body, err := l.HTTPGet(ns, "http://127.0.0.1:"+port+"/metrics", 2*time.Second)
	if err != nil {
		return 0, err
	}
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		ok := true
		for _, lb := range labels {
			if !strings.Contains(rest, lb) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

func coordMetric(l *lab.Lab, name string, labels ...string) (float64, error) {
	return metric(l, lab.Coord, "9720", name, labels...)
}

func agentMetric(l *lab.Lab, host, name string, labels ...string) (float64, error) {
	return metric(l, host, "9721", name, labels...)
}

// waitMetric waits until a coordinator metric reaches want.
func waitCoordMetric(t *testing.T, l *lab.Lab, want float64, timeout time.Duration, name string, labels ...string) {
	t.Helper()
	require.NoError(t, lab.WaitFor(timeout, func() error {
		v, err := coordMetric(l, name, labels...)
		if err != nil {
			return err
		}
		if v != want {
			return fmt.Errorf("%s%v = %v, want %v", name, labels, v, want)
		}
		return nil
	}))
}

// natsFrom connects to the lab's NATS from inside a namespace, as one of
// the lab's logins.
func natsFrom(t *testing.T, l *lab.Lab, ns, user string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(lab.NATSURL, nats.SetCustomDialer(nsDialer{dial: l.DialContext(ns)}), nats.Timeout(5*time.Second),
		nats.UserInfo(user, l.NATSPassword(user)), nats.RootCAs(l.NATSCA()))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// fleetExempt waits until the coordinator's exemption list (as an admin
// reads it from the fleet bucket) holds every address in want, and returns
// it.
func fleetExempt(t *testing.T, l *lab.Lab, want ...netip.Addr) wire.Exempt {
	t.Helper()
	js, err := jetstream.New(natsFrom(t, l, lab.Client, lab.Admin))
	require.NoError(t, err)
	var e wire.Exempt
	require.NoError(t, lab.WaitFor(10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		kv, err := js.KeyValue(ctx, subject.FleetBucket)
		if err != nil {
			return err
		}
		ent, err := kv.Get(ctx, subject.ExemptKey)
		if err != nil {
			return err
		}
		if err := wire.Decode(ent.Value(), &e); err != nil {
			return err
		}
		for _, a := range want {
			if !slices.ContainsFunc(e.Prefixes, func(p netip.Prefix) bool { return p.Contains(a) }) {
				return fmt.Errorf("exemption list %v lacks %v", e.Prefixes, a)
			}
		}
		return nil
	}))
	return e
}

type nsDialer struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d nsDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.dial(ctx, network, addr)
}

// failLine is the message sshd logs for a failed root password from addr.
func failLine(addr netip.Addr, port int) string {
	return fmt.Sprintf("Failed password for root from %s port %d ssh2", addr, port)
}

// clusterJSON runs coord bans --cluster -o json.
type clusterHost struct {
	Host    string   `json:"host"`
	Status  string   `json:"status"`
	Held    int      `json:"held"`
	Missing []string `json:"missing"`
	Extra   []string `json:"extra"`
	Local   []string `json:"local"`
	Entries []string `json:"entries"`
}

func cluster(t *testing.T, l *lab.Lab) (hosts map[string]clusterHost, exit int) {
	t.Helper()
	out, exit, err := l.Coord("bans", "--cluster", "-o", "json")
	require.NoError(t, err)
	var v struct {
		Hosts  []clusterHost `json:"hosts"`
		InSync bool          `json:"in_sync"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	hosts = map[string]clusterHost{}
	for _, h := range v.Hosts {
		hosts[h.Host] = h
	}
	return hosts, exit
}

// health runs coord health -o json and returns each host's view.
func health(t *testing.T, l *lab.Lab) (hosts map[string]cli.HealthView, exit int) {
	t.Helper()
	out, exit, err := l.Coord("health", "-o", "json")
	require.NoError(t, err)
	var v struct {
		Hosts []cli.HealthView `json:"hosts"`
		OK    bool             `json:"ok"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	require.Equal(t, exit == 0, v.OK, out)
	hosts = map[string]cli.HealthView{}
	for _, h := range v.Hosts {
		hosts[h.Host] = h
	}
	return hosts, exit
}
