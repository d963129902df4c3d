package cli

import (
	"bufio"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/natstest"
)

// BenchmarkBanFile measures `coord ban -f` then `coord unban -f` (the coord
// binary, a process of its own, through time(1) for its peak RSS) with
// BANFLEET_BANS addresses (default 1,000,000) in one file, against an
// embedded NATS: each command's wall time (ban_s, unban_s) and peak RSS
// (ban_maxrss_MB, unban_maxrss_MB); the bucket is checked to hold them all.
//
//	go test -run '^$' -bench BenchmarkBanFile -benchtime 1x ./coordinator/cli/
func BenchmarkBanFile(b *testing.B) {
	n := benchBans(b)
	bin := buildCoord(b)
	for b.Loop() {
		b.StopTimer()
		ns, st := fleetServer(b, testPolicy())
		file := filepath.Join(b.TempDir(), "list.txt")
		f, err := os.Create(file)
		require.NoError(b, err)
		w := bufio.NewWriter(f)
		for k := range n {
			var a [4]byte
			v := 11<<24 + uint32(k)
			a[0], a[1], a[2], a[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
			w.WriteString(netip.AddrFrom4(a).String())
			w.WriteByte('\n')
		}
		require.NoError(b, w.Flush())
		require.NoError(b, f.Close())
		b.StartTimer()

		out, took, rss, code := runTimed(b, bin, "--nats", ns.URL, "--timeout", "10m", "ban", "-f", file, "--for", "1h")
		require.Equal(b, ExitOK, code, out)
		keys, err := st.KV().ListKeys(natstest.Ctx(b, 10*time.Minute))
		require.NoError(b, err)
		held := 0
		for range keys.Keys() {
			held++
		}
		require.Equal(b, n, held, "every address banned")
		b.ReportMetric(took.Seconds(), "ban_s")
		b.ReportMetric(rss, "ban_maxrss_MB")

		out, took, rss, code = runTimed(b, bin, "--nats", ns.URL, "--timeout", "10m", "unban", "-f", file)
		require.Equal(b, ExitOK, code, out)
		b.ReportMetric(took.Seconds(), "unban_s")
		b.ReportMetric(rss, "unban_maxrss_MB")
	}
}

// benchBans is BANFLEET_BANS, or 1,000,000.
func benchBans(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("BANFLEET_BANS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	return n
}

// buildCoord builds the coord binary into a temporary directory.
func buildCoord(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "coord")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/banfleet/banfleet/coordinator/cmd/coord").CombinedOutput()
	require.NoError(b, err, string(out))
	return bin
}

// runTimed runs bin through GNU time(1) (a child of the benchmark would
// count the benchmark's own memory, shared until exec, in its peak) and
// returns its standard output, wall time, peak RSS in MB and exit code.
func runTimed(b *testing.B, bin string, args ...string) (string, time.Duration, float64, int) {
	const timeCmd = "/usr/bin/time"
	_, err := os.Stat(timeCmd)
	require.NoError(b, err, "GNU time (Debian package time) measures the CLI's peak RSS")
	cmd := exec.Command(timeCmd, append([]string{"-f", "maxrss_kb=%M", bin}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	began := time.Now()
	out, _ := cmd.Output()
	took := time.Since(began)
	_, rss, ok := strings.Cut(stderr.String(), "maxrss_kb=")
	require.True(b, ok, stderr.String())
	kb, err := strconv.Atoi(strings.TrimSpace(rss))
	require.NoError(b, err, stderr.String())
	return string(out), took, float64(kb) / 1024, cmd.ProcessState.ExitCode()
}
