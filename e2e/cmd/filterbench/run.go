package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/banfleet/banfleet/internal/testutil/authlog"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// Run generates the log (or takes cfg.Log), measures both filters,
// compares them and prints the report.
func Run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	say := func(format string, a ...any) { fmt.Fprintf(stderr, "filterbench: "+format+"\n", a...) }
	host := machine()

	dir := cfg.Out
	if dir == "" {
		tmp, err := os.MkdirTemp("", "filterbench-")
		if err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	logPath := filepath.Join(dir, "auth.log")
	truthPath := filepath.Join(dir, "truth.jsonl")
	var stats authlog.Stats
	now := time.Now() // year inference of classic timestamps
	if cfg.Log != "" {
		logPath, truthPath = cfg.Log, ""
		say("log %s (no ground truth)", logPath)
	} else {
		say("generating %d lines (%s, seed %d) into %s", cfg.Lines, cfg.Format, cfg.Seed, logPath)
		var err error
		stats, err = generate(logPath, truthPath, cfg)
		if err != nil {
			return err
		}
		now = stats.End
	}

	f, err := newFilter(cfg.Filter, cfg.ConfDir)
	if err != nil {
		return fmt.Errorf("filter under test: %w", err)
	}
	say("banfleet: filter %q, GOMAXPROCS=1, 1 warm-up + %d passes", f.Name(), cfg.Runs)
	bf, err := runBanfleet(logPath, f, now, cfg.Runs)
	if err != nil {
		return fmt.Errorf("banfleet pass: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	var f2b *authlog.Fail2BanResult
	var f2bVersion string
	tree, terr := f2bref.Find()
	switch {
	case cfg.Fail2Ban.set && !cfg.Fail2Ban.on:
		say("fail2ban-regex: skipped (-fail2ban=false)")
	case terr != nil && cfg.Fail2Ban.on:
		return fmt.Errorf("-fail2ban: %w", terr)
	case terr != nil:
		say("fail2ban-regex: skipped: %v", terr)
	default:
		f2bVersion = fail2banVersion(tree)
		say("fail2ban-regex %s from %s (this takes a while)", f2bVersion, tree.Root)
		f2b, err = authlog.RunFail2Ban(ctx, tree, logPath, authlog.Fail2BanOptions{UseDNS: cfg.UseDNS})
		if err != nil {
			return fmt.Errorf("fail2ban side: %w", err)
		}
	}

	rep := &report{
		Config:   cfg,
		Log:      newLogInfo(cfg, stats, bf),
		Machine:  host,
		Banfleet: bf,
	}
	if f2b != nil {
		var truths []authlog.Truth
		if truthPath != "" {
			truths, err = readTruth(truthPath)
			if err != nil {
				return err
			}
		}
		cmp, err := compare(logPath, truths, bf.Hits, f2b.Hits, f, now)
		if err != nil {
			return err
		}
		rep.Fail2Ban = newF2BInfo(f2b, f2bVersion, bf.Lines)
		rep.Ratio = newRatios(bf, rep.Fail2Ban)
		rep.Comparison = cmp
		if cfg.Out != "" {
			if err := writeHits(filepath.Join(dir, "fail2ban.hits.jsonl"), f2b.Hits); err != nil {
				return err
			}
		}
	}
	if cfg.Out != "" {
		if err := writeHits(filepath.Join(dir, "banfleet.hits.jsonl"), bf.Hits); err != nil {
			return err
		}
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.text(stdout)
}

func generate(logPath, truthPath string, cfg config) (authlog.Stats, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return authlog.Stats{}, fmt.Errorf("create log: %w", err)
	}
	tf, err := os.Create(truthPath)
	if err != nil {
		lf.Close()
		return authlog.Stats{}, fmt.Errorf("create ground truth: %w", err)
	}
	tw := bufio.NewWriterSize(tf, 256<<10)
	stats, err := authlog.Generate(lf, authlog.Options{
		Lines: cfg.Lines, Seed: cfg.Seed, Format: cfg.Format,
		Truth: tw, DiscardTruth: true,
	})
	err = errors.Join(err, tw.Flush(), tf.Close(), lf.Close())
	if err != nil {
		return stats, fmt.Errorf("generate log: %w", err)
	}
	return stats, nil
}

func readTruth(path string) ([]authlog.Truth, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	defer fh.Close()
	t, err := authlog.ReadTruth(bufio.NewReaderSize(fh, 256<<10))
	if err != nil {
		return nil, fmt.Errorf("ground truth %s: %w", path, err)
	}
	return t, nil
}

func writeHits(path string, hits []authlog.Hit) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write failures: %w", err)
	}
	w := bufio.NewWriter(fh)
	enc := json.NewEncoder(w)
	for _, h := range hits {
		if err := enc.Encode(h); err != nil {
			fh.Close()
			return fmt.Errorf("write failures %s: %w", path, err)
		}
	}
	if err := errors.Join(w.Flush(), fh.Close()); err != nil {
		return fmt.Errorf("write failures %s: %w", path, err)
	}
	return nil
}

func fail2banVersion(tree *f2bref.Tree) string {
	out, err := tree.Regex("-V").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

type machineInfo struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	Go    string `json:"go"`
	Load  string `json:"load_at_start"` // 1, 5, 15 min load average
}

func machine() machineInfo {
	m := machineInfo{CPU: "?", Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimLeft(v, " \t:"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	return m
}
