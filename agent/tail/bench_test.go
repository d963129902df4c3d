package tail

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkFollowerLines follows a file of 1M lines of about 120 bytes from
// offset 0 to its last line, through Run (inotify set up, open, read, split,
// handler). One op is the whole file; lines/s and allocs/line are reported.
func BenchmarkFollowerLines(b *testing.B) {
	const lines = 1_000_000
	path := filepath.Join(b.TempDir(), "bench.log")
	out, err := os.Create(path)
	require.NoError(b, err)
	bw := bufio.NewWriterSize(out, 1<<20)
	for i := range lines {
		_, _ = bw.WriteString(numbered(i))
	}
	require.NoError(b, bw.Flush())
	require.NoError(b, out.Close())
	dev, ino := fileID(b, path)
	size := int64(lines * len(numbered(0)))

	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		f := New(path, &Position{Dev: dev, Ino: ino}, Options{PollInterval: time.Hour})
		err := f.Run(ctx, func(line []byte, start int64, pos Position) {
			n++
			if n == lines {
				cancel()
			}
		})
		cancel()
		if err != nil || n != lines || f.Position().Offset != size {
			b.Fatalf("Run: %v, %d lines, position %+v", err, n, f.Position())
		}
	}
	runtime.ReadMemStats(&ms1)
	total := float64(b.N) * lines
	b.ReportMetric(total/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/line")
}
