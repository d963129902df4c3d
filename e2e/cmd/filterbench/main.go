// Command filterbench measures banfleet's sshd filter against Fail2Ban's on
// the same realistic auth.log, and checks that both find the same failures.
//
//	go run ./e2e/cmd/filterbench [-lines 1000000] [-seed 1] [-format iso|classic]
//	                             [-log FILE] [-fail2ban[=false]] [-out DIR] [-runs 5]
//	                             [-json] [-fail2ban-usedns no]
//
// It generates the log with internal/testutil/authlog (into DIR, or a temporary
// directory removed afterwards), or takes any log file given with -log (a
// real auth.log, Fail2Ban's sample logs: then there is no ground truth, and
// the comparison only lists where the two disagree), then:
//
//   - banfleet: runs the Go filter (newFilter) over the file in this
//     process with GOMAXPROCS=1, reading it as the agent's tail.Follower
//     does (one buffer, lines split in place, no per-line allocation). The
//     first pass warms the page cache; of the -runs passes after it the
//     best is kept. It reports the filtering time alone (splitting and
//     Match over data already read) and the end-to-end time with reading,
//     lines/s, ns/line, allocations per line (runtime.MemStats), the peak
//     RSS (VmHWM, reset before the passes) and the heap (HeapSys).
//   - Fail2Ban: runs fail2ban-regex (Debian's 1.0.2, found by
//     internal/testutil/f2bref) with filter.d/sshd.conf, mode normal, over the same
//     file, timing its wall and CPU time and its peak RSS (rusage of the
//     child). See authlog.Fail2BanArgs for the options and why. It runs
//     when a Fail2Ban tree is found; -fail2ban makes a missing one an
//     error, -fail2ban=false skips it.
//   - compares the (line, address) failures of both, and classifies every
//     difference with the generator's ground truth: Fail2Ban blaming an
//     address the client injected, Fail2Ban attributing through its
//     per-connection state (which banfleet does not keep yet), or a real
//     disagreement.
//
// The report is a block to paste into a README; -json prints the same as
// JSON. The machine is rarely idle: CPU times are reported beside wall
// times, and the lines per CPU-second ratio is the steadier one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/jailfilter"
	bfconfig "github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// newFilter returns the filter under test: Fail2Ban's stock
// filter.d/sshd.conf ("engine") or banfleet's built-in sshd filter
// ("builtin"), read and run by the failregex engine as the agent does for
// a jail.
func newFilter(kind, confDir string) (filter.Filter, error) {
	var def *fail2ban.FilterDef
	var err error
	if kind == "builtin" {
		def, err = bfconfig.LoadFilter("", "sshd", "auto")
	} else {
		if confDir == "" {
			tr, err := f2bref.Find()
			if err != nil {
				return nil, err
			}
			confDir = tr.ConfDir
		}
		def, err = fail2ban.LoadFilter(confDir, "sshd", map[string]string{"backend": "auto"})
	}
	if err != nil {
		return nil, err
	}
	j := bfconfig.AgentJail{Filter: "sshd"}
	j.SetFilter(def)
	j.UseDNS = "no"
	mk, err := jailfilter.New("sshd", j)
	if err != nil {
		return nil, err
	}
	return mk(), nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "filterbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "filterbench:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	Lines    int            `json:"lines"`
	Seed     int64          `json:"seed"`
	Format   authlog.Format `json:"-"`
	Fail2Ban tristate       `json:"-"`
	Out      string         `json:"out,omitempty"`
	Runs     int            `json:"runs"`
	JSON     bool           `json:"-"`
	UseDNS   string         `json:"fail2ban_usedns"`
	Filter   string         `json:"filter"`
	ConfDir  string         `json:"-"`
	Log      string         `json:"log,omitempty"`
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("filterbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Lines, "lines", authlog.DefaultLines, "lines of auth.log to generate")
	fs.Int64Var(&cfg.Seed, "seed", 1, "generator seed")
	format := fs.String("format", "iso", "timestamp format: iso or classic")
	fs.Var(&cfg.Fail2Ban, "fail2ban", "run fail2ban-regex too (default: when a Fail2Ban tree is found; -fail2ban=false skips it)")
	fs.StringVar(&cfg.Out, "out", "", "keep the log, ground truth and failures in this directory (default: a temporary one, removed)")
	fs.IntVar(&cfg.Runs, "runs", 5, "measured banfleet passes (the best is kept), after one warm-up pass")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.Filter, "filter", "engine", "banfleet filter: engine (filter.d/sshd.conf through the failregex engine, as the agent runs a Fail2Ban jail) or builtin (the built-in sshd filter)")
	fs.StringVar(&cfg.ConfDir, "conf", "", "Fail2Ban configuration directory for -filter engine (default: the reference tree)")
	fs.StringVar(&cfg.Log, "log", "", "measure on this log file instead of a generated one (no ground truth; -lines, -seed and -format do not apply)")
	fs.StringVar(&cfg.UseDNS, "fail2ban-usedns", "no", "fail2ban-regex --usedns; banfleet reads <HOST> as addresses only, like \"no\" (with another value Fail2Ban may report host names, which stops the comparison)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	f, err := authlog.ParseFormat(*format)
	if err != nil {
		return cfg, fmt.Errorf("-format: %w", err)
	}
	cfg.Format = f
	if cfg.Log != "" {
		fi, err := os.Stat(cfg.Log)
		if err != nil {
			return cfg, fmt.Errorf("-log: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return cfg, fmt.Errorf("-log %s: not a regular file", cfg.Log)
		}
	}
	if cfg.Lines <= 0 {
		return cfg, fmt.Errorf("-lines %d: must be positive", cfg.Lines)
	}
	if cfg.Runs < 1 {
		return cfg, fmt.Errorf("-runs %d: must be at least 1", cfg.Runs)
	}
	return cfg, nil
}

// tristate is a boolean flag that remembers whether it was given.
type tristate struct{ set, on bool }

func (t *tristate) String() string {
	if t == nil || !t.set {
		return "auto"
	}
	return strconv.FormatBool(t.on)
}

func (t *tristate) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	t.set, t.on = true, v
	return nil
}

func (t *tristate) IsBoolFlag() bool { return true }
