package regexcmd

import (
	"bufio"
	"bytes"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/banfleet/banfleet/agent/filter/f2b"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// benchLog is a generated 300k-line auth.log (as e2e/cmd/filterbench makes).
func benchLog(b *testing.B) []byte {
	b.Helper()
	var buf bytes.Buffer
	if _, err := authlog.Generate(&buf, authlog.Options{Lines: 300_000, Seed: 1, DiscardTruth: true}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchCompile(b *testing.B, confDir string) (*f2b.Compiled, int, *dateCounter) {
	b.Helper()
	def, _, err := definition(options{confDir: confDir}, "sshd", "")
	if err != nil {
		b.Fatal(err)
	}
	dates := newDateCounter()
	c, err := f2b.Compile(def, f2b.Options{Dates: dates.finder})
	if err != nil {
		b.Fatal(err)
	}
	return c, def.MaxLines, dates
}

// BenchmarkTool is the tool's pass over the log (summary, or --json), to
// compare with BenchmarkEngine: the engine alone over the same lines.
func BenchmarkTool(b *testing.B) {
	tr := f2bref.Require(b)
	data := benchLog(b)
	lines := bytes.Count(data, []byte{'\n'})
	for _, jsonOut := range []bool{false, true} {
		name := "summary"
		if jsonOut {
			name = "json"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			c, maxLines, dates := benchCompile(b, tr.ConfDir)
			cpu0 := cpuTime()
			for b.Loop() {
				clear(dates.hits)
				out := bufio.NewWriter(io.Discard)
				if _, err := run(c, maxLines, bytes.NewReader(data), options{jsonOut: jsonOut}, dates, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(float64(lines*b.N)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
		})
	}
}

func BenchmarkEngine(b *testing.B) {
	tr := f2bref.Require(b)
	data := benchLog(b)
	lines := bytes.Count(data, []byte{'\n'})
	b.SetBytes(int64(len(data)))
	now := time.Now()
	c, _, _ := benchCompile(b, tr.ConfDir)
	cpu0 := cpuTime()
	for b.Loop() {
		m := c.New()
		rest := data
		for len(rest) > 0 {
			i := bytes.IndexByte(rest, '\n')
			m.Match(rest[:i], now)
			rest = rest[i+1:]
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(lines*b.N)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
}

// cpuTime is the process's CPU time (user and system): on a busy machine
// lines per CPU-second is the steadier comparison.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
