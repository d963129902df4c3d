package regexcmd

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/banfleet/banfleet/agent/filter/f2b"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

const benchLines = 300_000

// benchLogs are the logs the tool and the engine are timed on, with the
// sshd filter: generated 300k-line auth.logs (as e2e/cmd/filterbench makes
// them) in both timestamp formats, and Fail2Ban's sample logs (every
// filter's, real lines from many programs and versions) concatenated and
// repeated to 300k lines.
func benchLogs(b *testing.B, tr *f2bref.Tree) []struct {
	name string
	data []byte
} {
	b.Helper()
	type log = struct {
		name string
		data []byte
	}
	var logs []log
	for _, f := range []authlog.Format{authlog.Classic, authlog.ISO} {
		var buf bytes.Buffer
		if _, err := authlog.Generate(&buf, authlog.Options{Lines: benchLines, Seed: 1, Format: f, DiscardTruth: true}); err != nil {
			b.Fatal(err)
		}
		logs = append(logs, log{f.String(), buf.Bytes()})
	}
	ents, err := os.ReadDir(tr.SampleLogs)
	if err != nil {
		b.Fatal(err)
	}
	var all []byte
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		d, err := os.ReadFile(filepath.Join(tr.SampleLogs, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if len(d) > 0 && d[len(d)-1] != '\n' {
			d = append(d, '\n')
		}
		all = append(all, d...)
	}
	var rep []byte
	for n := 0; n < benchLines; n += bytes.Count(all, []byte{'\n'}) {
		rep = append(rep, all...)
	}
	return append(logs, log{"f2b-samples", rep})
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

// BenchmarkTool times the tool's pass over each log (summary, or --json)
// against the engine alone over the same lines (Matcher.Match on every
// line, as the agent runs it). Run with -cpu 1; lines/cpu-s is the
// steadier figure on a busy machine.
func BenchmarkTool(b *testing.B) {
	tr := f2bref.Require(b)
	for _, l := range benchLogs(b, tr) {
		lines := bytes.Count(l.data, []byte{'\n'})
		for _, mode := range []string{"summary", "json", "engine"} {
			b.Run(l.name+"/"+mode, func(b *testing.B) {
				b.SetBytes(int64(len(l.data)))
				c, maxLines, dates := benchCompile(b, tr.ConfDir)
				now := time.Now()
				cpu0 := cpuTime()
				for b.Loop() {
					if mode == "engine" {
						m := c.New()
						rest := l.data
						for len(rest) > 0 {
							i := bytes.IndexByte(rest, '\n')
							m.Match(rest[:i], now)
							rest = rest[i+1:]
						}
						continue
					}
					clear(dates.hits)
					out := bufio.NewWriter(io.Discard)
					if _, err := run(c, maxLines, bytes.NewReader(l.data), options{jsonOut: mode == "json"}, dates, out); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
				b.ReportMetric(float64(lines*b.N)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
			})
		}
	}
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
