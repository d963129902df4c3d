package jailfilter_test

import (
	"bufio"
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// BenchmarkStockSSHD runs Fail2Ban's stock filter.d/sshd.conf (mode normal)
// as the agent runs it — engine, date detector, address guard — over a
// generated 200,000-line auth.log (30 % sshd failures of every kind, 70 %
// noise), on one core. One op is one line.
func BenchmarkStockSSHD(b *testing.B) {
	tr := f2bref.Require(b)
	def, err := fail2ban.LoadFilter(tr.ConfDir, "sshd", map[string]string{"backend": "auto"})
	if err != nil {
		b.Fatal(err)
	}
	j := config.AgentJail{Filter: "sshd"}
	j.SetFilter(def)
	j.UseDNS = "no"
	mk, err := jailfilter.New("sshd", j)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := authlog.Generate(&buf, authlog.Options{Lines: 200_000, Seed: 1, Format: authlog.ISO, DiscardTruth: true}); err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f := mk()
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f.Match(lines[i%len(lines)], now)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
