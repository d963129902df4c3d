package jailfilter_test

import (
	"bufio"
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// BenchmarkStockSSHD runs Fail2Ban's stock filter.d/sshd.conf (mode normal)
// as the agent runs it — engine, date detector, address guard — over a
// generated 200,000-line auth.log (30 % sshd failures of every kind, 70 %
// noise) in each timestamp format (classic syslog, rsyslog's RFC 3339), on
// one core. One op is one line.
func BenchmarkStockSSHD(b *testing.B) {
	tr := f2bref.Require(b)
	def, err := fail2ban.LoadFilter(tr.ConfDir, "sshd", map[string]string{"backend": "auto"})
	if err != nil {
		b.Fatal(err)
	}
	j := config.AgentJail{Filter: "sshd"}
	j.SetFilter(def)
	j.UseDNS = "no"
	benchJail(b, j)
}

// BenchmarkBuiltinSSHD is BenchmarkStockSSHD with banfleet's own built-in
// sshd filter (agent/filter/filter.d/sshd.conf), as a jail with filter
// "sshd" and no Fail2Ban directory runs it.
func BenchmarkBuiltinSSHD(b *testing.B) {
	for _, mode := range []string{"normal", "aggressive"} {
		b.Run(mode, func(b *testing.B) {
			benchJail(b, config.AgentJail{Filter: "sshd[mode=" + mode + "]"})
		})
	}
}

func benchJail(b *testing.B, j config.AgentJail) {
	mk, err := jailfilter.New("sshd", j)
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []authlog.Format{authlog.Classic, authlog.ISO} {
		b.Run(format.String(), func(b *testing.B) {
			var buf bytes.Buffer
			if _, err := authlog.Generate(&buf, authlog.Options{Lines: 200_000, Seed: 1, Format: format, DiscardTruth: true}); err != nil {
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
		})
	}
}

// TestBuiltinNoMatchAllocates: lines the built-in sshd filter does not
// match (another program, an sshd message no rule knows) cost no
// allocation.
func TestBuiltinNoMatchAllocates(t *testing.T) {
	mk, err := jailfilter.New("sshd", config.AgentJail{Filter: "sshd[mode=aggressive]"})
	if err != nil {
		t.Fatal(err)
	}
	f := mk()
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, line := range []string{
		"2026-11-26T06:35:46.123456+00:00 host CRON[1234]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
		"Nov 26 06:35:46 host systemd[1]: Started session-42.scope - Session 42 of User alice.",
		"Nov 26 06:35:46 host sshd[123]: pam_unix(sshd:session): session closed for user root",
		"2026-11-26T06:35:46.123456+00:00 host sshd-session[123]: Disconnected from user root 203.0.113.9 port 4444",
		"2026-11-26T06:35:46.123456+00:00 host sshd-session[123]: Postponed publickey for git from 192.0.2.1 port 57904 ssh2 [preauth]",
		"2026-11-26T06:35:46.123456+00:00 host kernel: [UFW BLOCK] IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2",
	} {
		b := []byte(line)
		if _, v := f.Match(b, now); v != filter.NoMatch {
			t.Fatalf("%q: %v", line, v)
		}
		if raceEnabled {
			continue
		}
		if n := testing.AllocsPerRun(100, func() { f.Match(b, now) }); n != 0 {
			t.Errorf("%q: %v allocations", line, n)
		}
	}
}
