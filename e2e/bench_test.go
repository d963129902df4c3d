package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/banfleet/banfleet/e2e/lab"
	"github.com/banfleet/banfleet/shared/subject"
	"github.com/banfleet/banfleet/shared/wire"
)

// BenchmarkPropagation measures, on the fleet lab, the time from an sshd
// failure logged on h1 (sent to h1's rsyslogd, which writes auth.log) to the
// address being in the nftables set of all three hosts: rsyslogd → tail →
// filter → JetStream → coordinator → bans bucket → three agents → kernel. maxretry is 1, so every line is a
// ban. It runs BANFLEET_BANS bans (default 200) per b.N and reports p50,
// p99 and max.
//
//	go test -run '^$' -bench BenchmarkPropagation -benchtime 1x -v ./e2e/
func BenchmarkPropagation(b *testing.B) { propagation(b, false) }

// BenchmarkPropagationUnderFlood is BenchmarkPropagation with the failures
// logged on h2 while h1's login (a stolen one) floods the coordinator with
// 100,000 offences a second for addresses it makes up.
//
//	go test -run '^$' -bench BenchmarkPropagationUnderFlood -benchtime 1x -v ./e2e/
func BenchmarkPropagationUnderFlood(b *testing.B) { propagation(b, true) }

func propagation(b *testing.B, flood bool) {
	n := 200
	if s := os.Getenv("BANFLEET_BANS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("BANFLEET_BANS=%q: not a positive number", s)
		}
		n = v
	}
	l := lab.New(b, lab.Options{Binaries: lab.Build(b), NoSSHD: true})
	cfg := lab.DefaultCoordConfig()
	cfg.LogLevel = "info"
	cfg.Jails = map[string]lab.CoordJail{"sshd": {Maxretry: 1, Bantime: time.Hour, Port: []int{22}}}
	if _, err := l.StartFleet(lab.FleetOptions{Coord: &cfg, Agent: func(_ string, c *lab.AgentConfig) { c.LogLevel = "info" }}); err != nil {
		b.Fatal(err)
	}
	if err := lab.WaitFor(30*time.Second, func() error {
		// The agents are ready once they have reconciled; a first ban proves the whole path.
		return warmup(l)
	}); err != nil {
		b.Fatal(err)
	}
	readers := make([]*lab.SetReader, 0, 3)
	for _, h := range lab.HostNames() {
		r, err := l.NewSetReader(h, "banfleet", "sshd_v4")
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	src := l.Host(lab.H1)
	if flood {
		src = l.Host(lab.H2)
		sent := floodFrom(b, l, lab.H1)
		defer func() { b.ReportMetric(float64(sent.Load()), "flooded") }()
	}
	var all []time.Duration
	b.ResetTimer()
	for it := range b.N {
		for i := range n {
			k := it*n + i
			addr := netip.AddrFrom4([4]byte{198, 18, byte(k / 250), byte(k%250 + 1)})
			start := time.Now()
			if err := src.AppendSyslog("sshd", 1000+k, failLine(addr, 40000+k%20000)); err != nil {
				b.Fatal(err)
			}
			deadline := start.Add(10 * time.Second)
			var done [3]bool
			for left := 3; left > 0; {
				for j, r := range readers {
					if done[j] {
						continue
					}
					ok, err := r.Has(addr)
					if err != nil {
						b.Fatal(err)
					}
					if ok {
						done[j] = true
						left--
					}
				}
				if time.Now().After(deadline) {
					b.Fatalf("ban %d (%s) not on all hosts after 10s: %v", k, addr, done)
				}
			}
			all = append(all, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
	b.Logf("propagation over %d bans: p50 %v, p99 %v, max %v (sshd failure logged to %s's rsyslogd -> element in the nftables set of h1, h2 and h3; h1's login flooding: %v)",
		len(all), q(0.50), q(0.99), all[len(all)-1], src.Name, flood)
}

// floodFrom publishes 100,000 offences a second (1,000 every 10 ms, each
// for another address, in a jail the coordinator does not name: counted,
// never reaching a maxretry) with host's login until the benchmark ends; it
// returns once 100,000 are out.
func floodFrom(b *testing.B, l *lab.Lab, host string) *atomic.Int64 {
	nc, err := nats.Connect(lab.NATSURL, nats.SetCustomDialer(nsDialer{dial: l.DialContext(host)}), nats.Timeout(5*time.Second),
		nats.UserInfo(host, l.NATSPassword(host)), nats.RootCAs(l.NATSCA()), nats.CustomInboxPrefix(subject.AgentInbox(host)))
	if err != nil {
		b.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	var sent atomic.Int64
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for end := i + 1000; i < end; i++ {
				a := netip.AddrFrom4([4]byte{100, 64 + byte(i>>16)&63, byte(i >> 8), byte(i)})
				o := wire.Offence{ID: fmt.Sprintf("flood-%d", i), Host: host, Jail: "nginx-http-auth", Addr: a, Time: time.Now(), Line: "flood"}
				data, _ := wire.Encode(&o)
				if nc.Publish(subject.Offence(subject.Shard(a, subject.DefaultShards), host), data) != nil {
					return
				}
				sent.Add(1)
			}
		}
	}()
	b.Cleanup(func() { close(stop); <-done; nc.Close() })
	if err := lab.WaitFor(30*time.Second, func() error {
		if sent.Load() < 100_000 {
			return fmt.Errorf("%d offences flooded", sent.Load())
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return &sent
}

func warmup(l *lab.Lab) error {
	addr := netip.MustParseAddr("198.19.0.1")
	if err := l.Host(lab.H1).AppendSyslog("sshd", 999, failLine(addr, 1)); err != nil {
		return err
	}
	return lab.WaitFor(3*time.Second, func() error {
		if err := bannedEverywhere(l, "sshd", addr.String(), lab.HostNames()...); err != nil {
			return fmt.Errorf("warm-up ban: %w", err)
		}
		return nil
	})
}
