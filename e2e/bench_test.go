package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/banfleet/banfleet/e2e/lab"
)

// BenchmarkPropagation measures, on the fleet lab, the time from an sshd
// failure logged on h1 (sent to h1's rsyslogd, which writes auth.log) to the
// address being in the nftables set of all three hosts: rsyslogd → tail →
// filter → JetStream → coordinator → bans bucket → three agents → kernel. maxretry is 1, so every line is a
// ban. It runs BANFLEET_BANS bans (default 200) per b.N and reports p50,
// p99 and max.
//
//	go test -run '^$' -bench BenchmarkPropagation -benchtime 1x -v ./e2e/
func BenchmarkPropagation(b *testing.B) {
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
	h1 := l.Host(lab.H1)
	var all []time.Duration
	b.ResetTimer()
	for it := range b.N {
		for i := range n {
			k := it*n + i
			addr := netip.AddrFrom4([4]byte{198, 18, byte(k / 250), byte(k%250 + 1)})
			start := time.Now()
			if err := h1.AppendSyslog("sshd", 1000+k, failLine(addr, 40000+k%20000)); err != nil {
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
	b.Logf("propagation over %d bans: p50 %v, p99 %v, max %v (sshd failure logged to h1's rsyslogd -> element in the nftables set of h1, h2 and h3)",
		len(all), q(0.50), q(0.99), all[len(all)-1])
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
