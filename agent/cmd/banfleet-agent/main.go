// Command banfleet-agent is banfleet's per-host daemon.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/banfleet/banfleet/agent"
	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/agent/regexcmd"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/shared/obs"
)

var version = "dev"

// agentMemoryLimit is the agent's soft memory limit unless GOMEMLIMIT sets one.
const agentMemoryLimit = 96 << 20

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) > 1 && os.Args[1] == "regex" {
		return regexcmd.Run(os.Args[2:], os.Stdout, os.Stderr)
	}
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: banfleet-agent [-c FILE] [-t] [-T] [-version]\n       banfleet-agent regex [options] LOG FILTER [IGNOREREGEX]   (like fail2ban-regex)\n")
		flag.PrintDefaults()
		fmt.Fprintf(os.Stderr, "\nEnvironment: %s<KEY> sets a key (%sNATS_URL sets nats.url, %sNATS_PASSWORD nats.password);\n"+
			"the coord CLI's BANFLEET_NATS_* variables are not read.\n"+
			"-t exits 2 when the configuration is wrong (a refused certificate or login included), 1 when NATS does not answer.\n",
			config.AgentEnvPrefix, config.AgentEnvPrefix, config.AgentEnvPrefix)
	}
	file := flag.String("c", "/etc/banfleet/agent.yaml", "configuration file (YAML)")
	test := flag.Bool("t", false, "check the configuration, connect to NATS as configured, and exit")
	dump := flag.Bool("T", false, "print the merged configuration and exit")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(obs.Version(version))
		return 0
	}
	cfg, k, err := config.LoadAgent(config.Source{File: *file})
	if err != nil {
		fmt.Fprintln(os.Stderr, "banfleet-agent:", err)
		return 2
	}
	if *dump {
		out, err := config.Dump(k)
		if err != nil {
			fmt.Fprintln(os.Stderr, "banfleet-agent:", err)
			return 1
		}
		os.Stdout.Write(out)
		return 0
	}
	if *test {
		// Compile every jail's filter too: a bad regex fails here, not at start.
		for _, name := range cfg.JailNames() {
			if j := cfg.Jails[name]; j.On() {
				if _, err := jailfilter.New(name, j); err != nil {
					fmt.Fprintf(os.Stderr, "banfleet-agent: config %s: jails.%s: %v\n", *file, name, err)
					return 2
				}
			}
		}
		// Then what it names: the CA, and NATS with the agent's TLS and login.
		notes, err := cfg.Check(config.CheckTimeout)
		for _, n := range notes {
			fmt.Fprintln(os.Stderr, "banfleet-agent: warning:", n)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "banfleet-agent:", err)
			if config.Unreachable(err) {
				return 1
			}
			return 2
		}
		fmt.Printf("config %s: ok\n", *file)
		return 0
	}
	log := obs.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.SlogLevel())
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: with a million bans the agent's live heap is ~18
		// MiB and its peak RSS 80-86 MiB without a limit; the limit keeps
		// the collector from letting the heap double past it in a burst
		// (GOMEMLIMIT overrides it).
		debug.SetMemoryLimit(agentMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := agent.New(ctx, cfg, log, obs.NewRegistry(), obs.Version(version))
	if err != nil {
		log.Error("agent cannot start", "err", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		log.Error("agent failed", "err", err)
		return 1
	}
	return 0
}
