package f2b

import (
	"testing"
	"time"
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
