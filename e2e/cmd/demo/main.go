// Command demo shows banfleet doing its job, for a person: it starts the
// fleet lab (three hosts with real sshd, an attacker, a legitimate client and
// the coordinator, each in its own network namespace), runs an SSH brute
// force spread over the three hosts — one failed password on each — and
// shows the attacker banned on every host while the client still gets in.
// Everything it made is removed at the end, also on Ctrl-C.
//
// Run it as root: go tool task demo
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/banfleet/banfleet/e2e/lab"
)

func main() {
	os.Exit(run())
}

func say(format string, a ...any) { fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", a...) }

func run() int {
	if err := lab.CheckPrereqs(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	say("building banfleet-agent and coord")
	binDir, err := os.MkdirTemp("", "banfleet-demo-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	bins, err := lab.BuildBinaries(binDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}

	say("starting the lab: namespaces coord, h1, h2, h3 (each with a real sshd logging through its own rsyslogd to auth.log), attacker, client")
	l, err := lab.Start(ctx, lab.Options{Binaries: bins})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	code := demo(ctx, l)
	say("tearing down: processes, namespaces (with their nftables tables), files")
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "demo: teardown:", err)
		return 1
	}
	fmt.Println("done: nothing of the lab is left on this machine.")
	return code
}

func demo(ctx context.Context, l *lab.Lab) int {
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "demo: %s: %v\n", what, err)
		l.DumpLogs(func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
		return 1
	}
	cfg := lab.DefaultCoordConfig()
	cfg.LogLevel = "info"
	say("starting coord serve (embedded NATS over TLS, one login per agent and one for the admin CLI) and an agent on each host; sshd jail: maxretry 3 fleet-wide")
	f, err := l.StartFleet(lab.FleetOptions{Coord: &cfg, Agent: func(_ string, c *lab.AgentConfig) { c.LogLevel = "info" }})
	if err != nil {
		return fail("start fleet", err)
	}
	_ = f
	if err := lab.WaitFor(30*time.Second, func() error {
		out, _, err := l.Coord("agents", "-o", "json")
		if err != nil {
			return err
		}
		for _, h := range lab.HostNames() {
			if !strings.Contains(out, `"host": "`+h+`"`) {
				return fmt.Errorf("agent %s has not reported yet", h)
			}
		}
		return nil
	}); err != nil {
		return fail("agents", err)
	}
	out, _, _ := l.Coord("agents")
	fmt.Print(out)

	hosts := []struct {
		name string
		addr string
	}{{lab.H1, lab.H1Addr.String()}, {lab.H2, lab.H2Addr.String()}, {lab.H3, lab.H3Addr.String()}}
	say("the attacker (%s) tries ONE wrong root password on each host, with real ssh + sshpass", lab.AttackerAddr)
	for _, h := range hosts {
		if ctx.Err() != nil {
			return 1
		}
		if err := l.SSHFailedLogin(lab.Attacker, h.addr); err != nil {
			return fail("ssh to "+h.name, err)
		}
		last := lastFailure(l, h.name)
		fmt.Printf("   %s auth.log: %s\n", h.name, last)
	}
	fmt.Println("   Fail2Ban on each host would count 1 failure per host: below any maxretry, nobody banned.")

	say("banfleet counts them together: 3 offences on 3 hosts = maxretry. Waiting for the ban on every firewall")
	start := time.Now()
	if err := lab.WaitFor(10*time.Second, func() error {
		for _, h := range hosts {
			els, err := l.SetElements(h.name, "banfleet", "sshd_v4")
			if err != nil {
				return err
			}
			if !contains(els, lab.AttackerAddr.String()) {
				return fmt.Errorf("%s: not banned yet", h.name)
			}
		}
		return nil
	}); err != nil {
		return fail("ban", err)
	}
	fmt.Printf("   banned in the nftables set of all three hosts %v after the third attempt\n", time.Since(start).Round(time.Millisecond))

	say("coord bans")
	out, _, _ = l.Coord("bans")
	fmt.Print(out)
	say("coord bans --cluster (what each host's firewall really holds)")
	out, _, _ = l.Coord("bans", "--cluster")
	fmt.Print(out)
	say("coord health (each agent asked live)")
	out, _, _ = l.Coord("health")
	fmt.Print(out)

	say("the attacker's TCP connects to port 22 now time out; the legitimate client (%s) still connects", lab.ClientAddr)
	for _, h := range hosts {
		a := l.TCPConnect(lab.Attacker, h.addr+":22", time.Second)
		c := l.TCPConnect(lab.Client, h.addr+":22", time.Second)
		fmt.Printf("   %s  attacker: %-28s client: %s\n", h.name, verdict(a), verdict(c))
	}

	say("one host's firewall, as nft shows it (ip netns exec %s nft list table inet banfleet)", l.NS(lab.H1))
	if txt, err := exec.Command("ip", "netns", "exec", l.NS(lab.H1), "nft", "list", "table", "inet", "banfleet").CombinedOutput(); err == nil {
		fmt.Print(string(txt))
	}
	return 0
}

func verdict(err error) string {
	if err == nil {
		return "connected"
	}
	return "blocked (" + shortErr(err) + ")"
}

func shortErr(err error) string {
	s := err.Error()
	if strings.Contains(s, "timeout") || strings.Contains(s, "deadline") {
		return "timed out"
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

func contains[T fmt.Stringer](els []T, s string) bool {
	for _, e := range els {
		if e.String() == s {
			return true
		}
	}
	return false
}

func lastFailure(l *lab.Lab, host string) string {
	txt, err := l.Host(host).ReadLog()
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(txt), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "Failed password") {
			return lines[i]
		}
	}
	return "(no failure logged)"
}
