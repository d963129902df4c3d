package f2b

import (
	"bytes"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/banfleet/banfleet/agent/filter/date"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
)

// The agent must process 2,000,000 lines/s on one core with the stock sshd
// filter (mode normal) on a realistic auth.log: 30 % sshd failure lines,
// 70 % noise (see authLog: lines of attacking sessions, logins, cron, sudo).
// One op is one line, so ns/op is ns/line. Dates are found by the tests'
// minimal syslog finder (helpers_test.go), not agent/filter/date.

func benchLines(b *testing.B, fail float64, guard bool) {
	c, err := Compile(loadSSHD(b, "normal"), Options{Dates: newSyslogDates, Location: time.UTC, AddressGuard: guard})
	if err != nil {
		b.Fatal(err)
	}
	lines := newAuthLog(1).lines(8192, fail)
	m := c.New()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Match(lines[i&8191], now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/line")
}

func BenchmarkSSHDNoise(b *testing.B)   { benchLines(b, 0, false) }
func BenchmarkSSHDFailure(b *testing.B) { benchLines(b, 1, false) }
func BenchmarkSSHDMix(b *testing.B)     { benchLines(b, 0.3, false) }

// The same with Options.AddressGuard.
func BenchmarkSSHDNoiseGuarded(b *testing.B)   { benchLines(b, 0, true) }
func BenchmarkSSHDFailureGuarded(b *testing.B) { benchLines(b, 1, true) }
func BenchmarkSSHDMixGuarded(b *testing.B)     { benchLines(b, 0.3, true) }

// BenchmarkSSHDDated is the agent's whole per-line path on one core: the
// stock sshd filter (mode normal) with agent/filter/date finding the dates
// and the address guard on, over a generated auth.log
// (internal/testutil/authlog: 30 % failures) in each timestamp format
// (classic syslog and rsyslog's RFC 3339). One op is one line.
func BenchmarkSSHDDated(b *testing.B) {
	for _, f := range []authlog.Format{authlog.Classic, authlog.ISO} {
		b.Run(f.String(), func(b *testing.B) {
			dates := func(pattern string, loc *time.Location) (DateFinder, error) {
				return date.New(date.Options{Pattern: pattern, Location: loc})
			}
			c, err := Compile(loadSSHD(b, "normal"), Options{Dates: dates, Location: time.UTC, AddressGuard: true})
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := authlog.Generate(&buf, authlog.Options{Lines: 50_000, Seed: 1, Format: f, DiscardTruth: true}); err != nil {
				b.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			m := c.New()
			now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m.Match(lines[i%len(lines)], now)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkBacktrackSamples runs the sample lines of the stock filters
// (Fail2Ban's own test logs) whose regexes do not all run on RE2, so that
// the backtracking engine does the work: one op is one line.
func BenchmarkBacktrackSamples(b *testing.B) {
	type job struct {
		c     *Compiled
		lines [][]byte
	}
	var jobs []job
	total := 0
	for _, sf := range loadSamples(b).Filters {
		c, err := Compile(sf.Def, Options{Location: time.UTC})
		if err != nil {
			continue
		}
		slow := false
		for _, r := range c.Regexes() {
			slow = slow || r.Engine != EngineRE2
		}
		if !slow {
			continue
		}
		j := job{c: c}
		for _, s := range sf.Steps {
			if !s.Journal {
				j.lines = append(j.lines, []byte(s.Line))
			}
		}
		total += len(j.lines)
		jobs = append(jobs, j)
	}
	if total == 0 {
		b.Fatal("no sample lines for filters on the backtracking engine")
	}
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	ms := make([]*Matcher, len(jobs))
	for i, j := range jobs {
		ms[i] = j.c.New()
	}
	b.ResetTimer()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		for i, j := range jobs {
			for _, l := range j.lines {
				ms[i].Match(l, now)
			}
		}
		n += total
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/line")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/line")
}

// cpuTime is the process's user and system CPU time in nanoseconds: on a
// busy machine it measures the work better than the wall clock.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
