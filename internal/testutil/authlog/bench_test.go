package authlog_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
)

// benchFilter is the filter BenchmarkSSHDFilter measures: the built-in
// sshd filter as the agent runs it.
func benchFilter() (filter.Filter, error) {
	mk, err := jailfilter.New("sshd", config.AgentJail{Filter: "sshd"})
	if err != nil {
		return nil, err
	}
	return mk(), nil
}

// BenchmarkSSHDFilter runs the sshd filter over a generated 100,000-line
// auth.log held in memory, on one core. One op is one pass over the log.
func BenchmarkSSHDFilter(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var buf bytes.Buffer
	st, err := authlog.Generate(&buf, authlog.Options{Lines: 100_000, Seed: 1, Format: authlog.ISO})
	if err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	f, err := benchFilter()
	if err != nil {
		b.Fatal(err)
	}
	now := st.End
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		for rest := data; len(rest) > 0; {
			i := bytes.IndexByte(rest, '\n')
			f.Match(rest[:i], now)
			rest = rest[i+1:]
		}
	}
	runtime.ReadMemStats(&ms1)
	lines := float64(b.N) * float64(st.Lines)
	b.ReportMetric(lines/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/lines, "ns/line")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/lines, "allocs/line")
}
