package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/e2e/lab"
)

// Fake daemons, to test the lab's fleet plumbing without the real ones:
// the test binary, run through a symlink named coord or banfleet-agent,
// behaves just enough like them.

var listenLine = regexp.MustCompile(`(?m)^  listen: "?([0-9.]+:[0-9]+)"?$`)

// runFake runs a fake daemon when argv[0] names one; ok is false otherwise.
func runFake(argv []string) (code int, ok bool) {
	switch filepath.Base(argv[0]) {
	case "coord":
		args := argv[1:]
		if len(args) == 3 && args[0] == "serve" && args[1] == "-c" {
			return fakeServe(args[2]), true
		}
		// The admin CLI: echo the arguments; "fail" fails.
		fmt.Println(strings.Join(args, " "))
		if len(args) > 2 && args[2] == "fail" {
			fmt.Fprintln(os.Stderr, "failing as asked")
			return 3, true
		}
		return 0, true
	case "banfleet-agent":
		if len(argv) != 3 || argv[1] != "-c" {
			fmt.Fprintln(os.Stderr, "usage: banfleet-agent -c FILE")
			return 2, true
		}
		b, err := os.ReadFile(argv[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1, true
		}
		fmt.Printf("fake agent with config:\n%s", b)
		waitTerm()
		return 0, true
	}
	return 0, false
}

// fakeServe listens where the config says NATS listens until SIGTERM.
func fakeServe(config string) int {
	b, err := os.ReadFile(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	m := listenLine.FindSubmatch(b)
	if m == nil {
		fmt.Fprintln(os.Stderr, "no nats listen address in config")
		return 1
	}
	// Start late, as a real server may, to exercise the lab's wait.
	time.Sleep(300 * time.Millisecond)
	ln, err := net.Listen("tcp", string(m[1]))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("fake coord listening on %s\n", ln.Addr())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	waitTerm()
	return 0
}

func waitTerm() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
}

// fakeBinaries links coord and banfleet-agent to the test binary.
func fakeBinaries(t *testing.T) lab.Binaries {
	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	bins := lab.Binaries{Agent: filepath.Join(dir, "banfleet-agent"), Coord: filepath.Join(dir, "coord")}
	require.NoError(t, os.Symlink(self, bins.Agent))
	require.NoError(t, os.Symlink(self, bins.Coord))
	return bins
}

func TestLabFleetPlumbing(t *testing.T) {
	lab.Require(t)
	l := lab.New(t, lab.Options{Binaries: fakeBinaries(t), NoSSHD: true})
	f, err := l.StartFleet(lab.FleetOptions{
		Agent: func(host string, cfg *lab.AgentConfig) {
			if host == lab.H3 {
				cfg.LogLevel = "info"
			}
		},
	})
	require.NoError(t, err)
	require.Len(t, f.Agents, 3)
	require.NoError(t, l.TCPConnect(lab.Attacker, "10.77.0.10:4222", time.Second))

	for _, h := range lab.HostNames() {
		p := f.Agents[h]
		require.NoError(t, lab.WaitFor(5*time.Second, func() error {
			out, err := p.Log()
			if err != nil {
				return err
			}
			if !strings.Contains(out, "host: "+h+"\n") {
				return fmt.Errorf("agent log: %q", out)
			}
			return nil
		}))
	}
	out, err := f.Agents[lab.H3].Log()
	require.NoError(t, err)
	require.Contains(t, out, "  level: info\n")

	stdout, exit, err := l.Coord("bans", "-o", "json")
	require.NoError(t, err)
	require.Zero(t, exit)
	require.Equal(t, "--nats nats://10.77.0.10:4222 bans -o json\n", stdout)
	_, exit, err = l.Coord("fail")
	require.NoError(t, err)
	require.Equal(t, 3, exit)

	// Restarting an agent gives it a new log file.
	require.NoError(t, f.Agents[lab.H1].Stop())
	p, err := l.StartAgent(lab.H1, l.DefaultAgentConfig(lab.H1))
	require.NoError(t, err)
	require.NotEqual(t, f.Agents[lab.H1].LogPath, p.LogPath)
	require.NoError(t, f.Coord.Stop())
}
