package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
)

// readBuf is the read buffer: the agent's tail.Follower keeps MaxLine
// (64 KiB) plus one 64 KiB read chunk.
const (
	readBuf = 128 << 10
	maxLine = 64 << 10
)

// banfleetResult is the measurement of the Go filter.
type banfleetResult struct {
	Filter string `json:"filter"`
	Lines  int    `json:"lines"`
	Bytes  int64  `json:"bytes"`
	Runs   int    `json:"runs"`
	// FilterNS is the best run's time spent splitting lines and running
	// Match over data already read; E2ENS the best run's whole pass
	// (open, read from the page cache, split, Match); CPUNS the process
	// CPU time of that pass.
	FilterNS int64 `json:"filter_ns"`
	E2ENS    int64 `json:"e2e_ns"`
	CPUNS    int64 `json:"cpu_ns"`
	// Allocation counts over one pass (runtime.MemStats deltas).
	Mallocs      uint64 `json:"mallocs"`
	AllocBytes   uint64 `json:"alloc_bytes"`
	GCs          uint32 `json:"gcs"`
	PeakRSSBytes int64  `json:"peak_rss_bytes"` // VmHWM, reset before the passes when the kernel allows
	PeakRSSReset bool   `json:"peak_rss_reset"`
	BaseRSSBytes int64  `json:"base_rss_bytes"` // VmRSS before the passes
	HeapSysBytes uint64 `json:"heap_sys_bytes"`
	// Verdicts counts lines per verdict.
	Verdicts map[string]int `json:"verdicts"`
	TooLong  int            `json:"too_long"`
	Hits     []authlog.Hit  `json:"-"`
}

func (r *banfleetResult) linesPerSec() float64 { return perSec(r.Lines, r.FilterNS) }
func (r *banfleetResult) nsPerLine() float64   { return float64(r.FilterNS) / float64(r.Lines) }
func (r *banfleetResult) allocsPerLine() float64 {
	return float64(r.Mallocs) / float64(r.Lines)
}

func perSec(n int, ns int64) float64 {
	if ns <= 0 {
		return 0
	}
	return float64(n) / (float64(ns) / 1e9)
}

// runBanfleet runs f over the file at path runs+1 times on one core (the
// first pass warms the page cache and is not counted) and keeps the best
// times. The failures are those of the last pass.
func runBanfleet(path string, f filter.Filter, now time.Time, runs int) (*banfleetResult, error) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)

	res := &banfleetResult{Filter: f.Name(), Runs: runs}
	buf := make([]byte, readBuf)
	hits := make([]authlog.Hit, 0, 1<<16)
	var verdicts [4]int

	runtime.GC()
	debug.FreeOSMemory()
	res.PeakRSSReset = resetPeakRSS() == nil
	base, err := procStatus("VmRSS:")
	if err != nil {
		return nil, err
	}
	res.BaseRSSBytes = base

	for i := 0; i <= runs; i++ {
		hits = hits[:0]
		verdicts = [4]int{}
		runtime.GC()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		cpu0 := cpuTime()
		start := time.Now()
		p, err := scan(path, buf, f, now, &hits, &verdicts)
		e2e := time.Since(start)
		cpu := cpuTime() - cpu0
		runtime.ReadMemStats(&ms1)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			continue
		}
		if res.E2ENS == 0 || e2e.Nanoseconds() < res.E2ENS {
			res.E2ENS, res.CPUNS = e2e.Nanoseconds(), cpu.Nanoseconds()
		}
		if res.FilterNS == 0 || p.filter.Nanoseconds() < res.FilterNS {
			res.FilterNS = p.filter.Nanoseconds()
		}
		res.Lines, res.Bytes, res.TooLong = p.lines, p.bytes, p.tooLong
		res.Mallocs = ms1.Mallocs - ms0.Mallocs
		res.AllocBytes = ms1.TotalAlloc - ms0.TotalAlloc
		res.GCs = ms1.NumGC - ms0.NumGC
		res.HeapSysBytes = ms1.HeapSys
	}
	hwm, err := procStatus("VmHWM:")
	if err != nil {
		return nil, err
	}
	res.PeakRSSBytes = hwm
	res.Hits = hits
	res.Verdicts = map[string]int{}
	for v, n := range verdicts {
		res.Verdicts[filter.Verdict(v).String()] = n
	}
	return res, nil
}

type passStats struct {
	lines, tooLong int
	bytes          int64
	filter         time.Duration
}

// scan reads the file the way the agent's tail.Follower does (one buffer,
// lines split in place, a trailing '\r' trimmed, lines over maxLine
// skipped) and offers every line to f. Only the splitting and matching of
// each chunk is timed as filtering.
func scan(path string, buf []byte, f filter.Filter, now time.Time, hits *[]authlog.Hit, verdicts *[4]int) (passStats, error) {
	var p passStats
	fh, err := os.Open(path)
	if err != nil {
		return p, fmt.Errorf("open log: %w", err)
	}
	defer fh.Close()
	r, w := 0, 0 // buf[r:w] is unread data
	skipping := false
	for {
		if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		n, err := fh.Read(buf[w:])
		w += n
		p.bytes += int64(n)
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return p, fmt.Errorf("read log: %w", err)
		}
		t0 := time.Now()
		for {
			i := bytes.IndexByte(buf[r:w], '\n')
			if i < 0 {
				break
			}
			line := buf[r : r+i]
			r += i + 1
			if skipping || len(line) > maxLine {
				skipping = false
				p.tooLong++
				continue
			}
			p.lines++
			match(f, line, now, p.lines, hits, verdicts)
		}
		if eof && r < w && !skipping { // a last line without a newline
			p.lines++
			match(f, buf[r:w], now, p.lines, hits, verdicts)
			r = w
		}
		p.filter += time.Since(t0)
		if w-r >= maxLine { // an over-long line: drop what is buffered of it
			skipping, r, w = true, 0, 0
		}
		if eof {
			return p, nil
		}
	}
}

func match(f filter.Filter, line []byte, now time.Time, lineNo int, hits *[]authlog.Hit, verdicts *[4]int) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	fail, v := f.Match(line, now)
	if int(v) < len(verdicts) {
		verdicts[v]++
	}
	if v == filter.Failed {
		*hits = append(*hits, authlog.Hit{Line: lineNo, Addr: fail.Addr})
	}
}

// resetPeakRSS resets the kernel's peak RSS (VmHWM) of this process to its
// current RSS, so that generating the log does not count (Linux >= 4.0).
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// procStatus reads a memory field ("VmHWM:", "VmRSS:") of
// /proc/self/status, in bytes.
func procStatus(field string) (int64, error) {
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read memory use: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s %q: %w", field, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
