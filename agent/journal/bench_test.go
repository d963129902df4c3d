package journal

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchStream is n sshd entries as journalctl -o export writes them: with
// our --output-fields (short) or with every field journald stores (full,
// where most fields are skipped unread).
func benchStream(n int, full bool) []byte {
	var entries []exportEntry
	for i := range n {
		rt := fixtureT0 + int64(i)*1000
		e := exportEntry{
			fld("__CURSOR", fmt.Sprintf("s=c3b23acb0ef3480c8b675aa9f26cc6dc;i=%x;b=%s;m=%x;t=%x;x=a0157a15982d209c",
				i+1, fixtureBoot, fixtureMono+int64(i)*1000, rt)),
			fld("__REALTIME_TIMESTAMP", strconv.FormatInt(rt, 10)),
			fld("__MONOTONIC_TIMESTAMP", strconv.FormatInt(fixtureMono+int64(i)*1000, 10)),
			fld("_BOOT_ID", fixtureBoot),
		}
		if full {
			e = append(e, fld("_TRANSPORT", "syslog"), fld("PRIORITY", "6"), fld("SYSLOG_FACILITY", "4"),
				fld("_UID", "0"), fld("_GID", "0"), fld("_CAP_EFFECTIVE", "1ffffffffff"),
				fld("_SELINUX_CONTEXT", "unconfined\n"), fld("_EXE", "/usr/sbin/sshd"),
				fld("_CMDLINE", "sshd: root [priv]"), fld("_SYSTEMD_CGROUP", "/system.slice/ssh.service"),
				fld("_SYSTEMD_UNIT", "ssh.service"), fld("_SYSTEMD_SLICE", "system.slice"),
				fld("_SYSTEMD_INVOCATION_ID", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
				fld("_MACHINE_ID", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"))
		}
		e = append(e, fld("_HOSTNAME", "web1"), fld("SYSLOG_IDENTIFIER", "sshd"), fld("_PID", strconv.Itoa(4000+i%1000)),
			fld("_COMM", "sshd"), fld("_SOURCE_REALTIME_TIMESTAMP", strconv.FormatInt(rt-37, 10)),
			fld("MESSAGE", fmt.Sprintf("Failed password for invalid user u%d from 203.0.113.%d port %d ssh2", i%97, i%251, 1024+i%60000)))
		entries = append(entries, e)
	}
	return encodeExport(entries)
}

// BenchmarkPump measures the per-entry path of a running Source without the
// process: decode the export stream, format the Fail2Ban line, convert the
// time, copy the cursor, call the handler.
func BenchmarkPump(b *testing.B) {
	for _, full := range []bool{false, true} {
		b.Run(map[bool]string{false: "output-fields", true: "all-fields"}[full], func(b *testing.B) {
			const n = 100_000
			data := benchStream(n, full)
			s := New(Options{})
			er := newExportReader(nil, 0)
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				er.reset(bytes.NewReader(data))
				got, _ := s.pump(context.Background(), er, "", func(e Entry) {})
				if got != n {
					b.Fatalf("%d entries", got)
				}
			}
			runtime.ReadMemStats(&ms1)
			total := float64(b.N) * n
			b.ReportMetric(total/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/entry")
		})
	}
}

// BenchmarkJournalctl reads a 100k-entry journal file through the real
// journalctl: the throughput a Source catching up can reach.
func BenchmarkJournalctl(b *testing.B) {
	tl := needJournalTools(b)
	const n = 100_000
	dir := b.TempDir()
	writeJournal(b, tl, filepath.Join(dir, "bench.journal"), benchStream(n, true))
	for b.Loop() {
		s := New(Options{Files: []string{filepath.Join(dir, "*.journal")}, Since: allTime,
			Journalctl: tl.journalctl, PollInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		got := 0
		s.onPass = cancel
		require.NoError(b, s.Run(ctx, func(Entry) { got++ }))
		if got != n {
			b.Fatalf("%d entries", got)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "entries/s")
}
