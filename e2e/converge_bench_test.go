package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banfleet/banfleet/e2e/lab"
)

// BenchmarkPipelineToKernels measures BANFLEET_BANS (default 100,000)
// distinct addresses banned through the whole pipeline on the fleet lab
// (one coordinator, three agents in network namespaces, TLS, a NATS login
// per host): one sshd failure line per address in the auth.log of h1, h2
// or h3 in turn (written in the host's rsyslog format, 5,000 lines a
// write) → each agent's tail and filter → offences published with its
// host's login → the coordinator (sshd maxretry 1: every failure is a
// fleet ban) → bans bucket → the three agents → each kernel's nftables
// set. From the first write, it reports when the agents had published
// every offence (published_s), when the coordinator had decided every ban
// (decided_s, its banfleet_coord_bans_total), when each kernel held every
// element (h1_s, h2_s, h3_s: the end of the first read of the set that
// counted them all; a read of 100,000 elements takes about a second) and
// the slowest (all_s), and each agent's RSS at the end and peak.
//
//	BANFLEET_E2E=1 go test -run '^$' -bench BenchmarkPipelineToKernels -benchtime 1x -v ./e2e/
func BenchmarkPipelineToKernels(b *testing.B) {
	n := convergeBans(b, 100_000)
	l, f := convergeFleet(b)
	hosts := lab.HostNames()
	sets := make([]*kernelSet, len(hosts))
	for i, h := range hosts {
		ks, err := openKernelSet(l, h, "sshd_v4")
		if err != nil {
			b.Fatal(err)
		}
		defer ks.Close()
		sets[i] = ks
	}
	const timeout = 10 * time.Minute
	var published, decided, all time.Duration
	kernel := make([]time.Duration, len(hosts))
	b.ResetTimer()
	for it := range b.N {
		from, to := it*n, (it+1)*n
		want := to + 1 // and warmup's ban
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(hosts))
		for i, ks := range sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var at time.Time
				at, errs[i] = ks.waitCount(want, timeout)
				kernel[i] = at.Sub(start)
			}()
		}
		if err := writeFailures(l, from, to, 5000, 0); err != nil {
			b.Fatal(err)
		}
		wrote := time.Since(start)
		var pubAt, decAt time.Time
		err := lab.WaitFor(timeout, func() error {
			if pubAt.IsZero() {
				var sum float64
				for _, h := range hosts {
					v, err := agentMetric(l, h, "banfleet_agent_offences_published_total")
					if err != nil {
						return err
					}
					sum += v
				}
				if sum < float64(want) {
					return fmt.Errorf("%v of %d offences published", sum, want)
				}
				pubAt = time.Now()
			}
			v, err := coordMetric(l, "banfleet_coord_bans_total", `jail="sshd"`)
			if err != nil {
				return err
			}
			if v < float64(want) {
				return fmt.Errorf("%v of %d bans decided", v, want)
			}
			decAt = time.Now()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				b.Fatalf("%s: %v", hosts[i], err)
			}
		}
		published, decided = pubAt.Sub(start), decAt.Sub(start)
		all = 0
		for i, h := range hosts {
			all = max(all, kernel[i])
			c, err := sets[i].count()
			if err != nil {
				b.Fatal(err)
			}
			if c != want {
				b.Fatalf("%s: %d elements, want exactly %d", h, c, want)
			}
		}
		b.Logf("%d bans (lines written in %v): published by the agents %v, decided by the coordinator %v, in the kernels of h1 %v, h2 %v, h3 %v",
			n, wrote.Round(time.Millisecond), published.Round(time.Millisecond), decided.Round(time.Millisecond),
			kernel[0].Round(time.Millisecond), kernel[1].Round(time.Millisecond), kernel[2].Round(time.Millisecond))
	}
	b.StopTimer()
	b.ReportMetric(published.Seconds(), "published_s")
	b.ReportMetric(decided.Seconds(), "decided_s")
	for i, h := range hosts {
		b.ReportMetric(kernel[i].Seconds(), h+"_s")
	}
	b.ReportMetric(all.Seconds(), "all_s")
	var rssSum float64
	for _, h := range hosts {
		rss, hwm, err := procMemory(f.Agents[h].Pid())
		if err != nil {
			b.Fatal(err)
		}
		rssSum += rss
		b.Logf("agent %s: RSS %.1f MiB, peak %.1f MiB", h, rss, hwm)
	}
	b.ReportMetric(rssSum/float64(len(hosts)), "agent_rss_MiB")
	if rss, hwm, err := procMemory(f.Coord.Pid()); err == nil {
		b.Logf("coordinator (with its embedded NATS server): RSS %.1f MiB, peak %.1f MiB", rss, hwm)
	}
	if out, _, err := l.Coord("health"); err == nil {
		b.Logf("coord health:\n%s", out)
	}
}

// procMemory returns a process's resident set size and its peak (VmRSS,
// VmHWM), in MiB.
func procMemory(pid int) (rss, hwm float64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, perr := strconv.ParseFloat(f[1], 64)
		if perr != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}
