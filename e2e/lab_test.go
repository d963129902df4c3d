package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/e2e/lab"
)

// Lines sshd's "Failed password" becomes in each auth.log format.
var (
	isoFailedRoot = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d h1 sshd\[(\d+)\]: ` +
		`Failed password for root from 10\.77\.0\.66 port \d+ ssh2$`)
	classicFailedRoot = regexp.MustCompile(`(?m)^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d h2 sshd\[(\d+)\]: ` +
		`Failed password for root from 10\.77\.0\.66 port \d+ ssh2$`)
	// Any line of a host's auth.log, per format.
	isoLine     = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d h\d sshd\[\d+\]: \S`)
	classicLine = regexp.MustCompile(`^[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d h\d sshd\[\d+\]: \S`)
)

// waitLog waits until the file at path matches re and returns the match.
func waitLog(t *testing.T, path string, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	err := lab.WaitFor(10*time.Second, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if m = re.FindStringSubmatch(string(b)); m == nil {
			return fmt.Errorf("%s does not match %s; it holds:\n%s", path, re, b)
		}
		return nil
	})
	require.NoError(t, err)
	return m
}

// rootInterfaces lists the interfaces of the machine's own namespace.
func rootInterfaces(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names
}

func TestLab(t *testing.T) {
	lab.Require(t)
	before := rootInterfaces(t)
	l := lab.New(t, lab.Options{})

	t.Run("RootNamespaceUntouched", func(t *testing.T) {
		require.Equal(t, before, rootInterfaces(t), "the lab must not add links to the machine's namespace")
		for _, n := range []string{lab.Switch, lab.Coord, lab.H1, lab.H2, lab.H3, lab.Attacker, lab.Client} {
			require.FileExists(t, l.NSPath(n))
			require.True(t, strings.HasPrefix(l.NS(n), fmt.Sprintf("bf%d-", os.Getpid())), l.NS(n))
		}
	})

	t.Run("Reachability", func(t *testing.T) {
		for _, from := range []string{lab.Attacker, lab.Client} {
			for _, h := range l.Hosts() {
				addr := netip.AddrPortFrom(h.Addr, 22).String()
				require.NoError(t, l.TCPConnect(from, addr, 3*time.Second), "%s -> %s", from, addr)
			}
		}
		// Nothing listens on the coordinator yet: refused, not dropped.
		err := l.TCPConnect(lab.Attacker, "10.77.0.10:4222", 3*time.Second)
		require.ErrorIs(t, err, lab.ErrRefused)
	})

	t.Run("ListenAndHTTPGet", func(t *testing.T) {
		// A service on h1's loopback (like an agent's metrics) is reachable
		// from h1 only; one on coord's address from every node.
		serve := func(ns, addr, body string) {
			ln, err := l.Listen(ns, "tcp", addr)
			require.NoError(t, err)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprint(w, body)
			})}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })
		}
		serve(lab.H1, "127.0.0.1:9721", "metrics of h1")
		serve(lab.Coord, "10.77.0.10:8080", "webhook")

		got, err := l.HTTPGet(lab.H1, "http://127.0.0.1:9721/metrics", 3*time.Second)
		require.NoError(t, err)
		require.Equal(t, "metrics of h1", got)
		_, err = l.HTTPGet(lab.H2, "http://127.0.0.1:9721/metrics", 3*time.Second)
		require.ErrorIs(t, err, lab.ErrRefused)
		got, err = l.HTTPGet(lab.H3, "http://10.77.0.10:8080/", 3*time.Second)
		require.NoError(t, err)
		require.Equal(t, "webhook", got)
	})

	t.Run("FailedLoginISO", func(t *testing.T) {
		h1 := l.Host(lab.H1)
		start := time.Now()
		require.NoError(t, l.SSHFailedLogin(lab.Attacker, lab.H1))
		t.Logf("one failed ssh login took %s", time.Since(start).Round(time.Millisecond))
		m := waitLog(t, h1.LogPath, isoFailedRoot)
		pid, _ := strconv.Atoi(m[1])
		require.NotEqual(t, h1.SSHD.Pid(), pid, "the line must carry the per-connection sshd's pid, as rsyslog shows it")
		// PAM in sshd logs through the same syslog socket.
		waitLog(t, h1.LogPath, regexp.MustCompile(`(?m) h1 sshd\[\d+\]: pam_unix\(sshd:auth\): authentication failure; .* rhost=10\.77\.0\.66 +user=root$`))
		assertLinesMatch(t, h1.LogPath, isoLine)
	})

	t.Run("FailedLoginClassic", func(t *testing.T) {
		h2 := l.Host(lab.H2)
		require.NoError(t, l.SSHFailedLogin(lab.Attacker, lab.H2Addr.String()))
		waitLog(t, h2.LogPath, classicFailedRoot)
		assertLinesMatch(t, h2.LogPath, classicLine)
	})

	t.Run("AppendLog", func(t *testing.T) {
		h1 := l.Host(lab.H1)
		garbage := "\x00garbage \xff not syslog"
		require.NoError(t, h1.AppendLog(garbage))
		b, err := os.ReadFile(h1.LogPath)
		require.NoError(t, err)
		require.Contains(t, string(b), garbage+"\n")
	})

	t.Run("RotateLog", func(t *testing.T) {
		h3 := l.Host(lab.H3)
		require.NoError(t, l.SSHFailedLogin(lab.Attacker, lab.H3))
		fromAttacker := regexp.MustCompile(`(?m)h3 sshd\[\d+\]: Failed password for root from 10\.77\.0\.66 port`)
		fromClient := regexp.MustCompile(`(?m)h3 sshd\[\d+\]: Failed password for root from 10\.77\.0\.77 port`)
		waitLog(t, h3.LogPath, fromAttacker)

		require.NoError(t, h3.RotateLog())
		require.NoError(t, l.SSHFailedLogin(lab.Client, lab.H3))
		waitLog(t, h3.LogPath, fromClient)
		cur, err := h3.ReadLog()
		require.NoError(t, err)
		require.NotRegexp(t, fromAttacker, cur, "the new auth.log starts empty")
		old, err := os.ReadFile(h3.LogPath + ".1")
		require.NoError(t, err)
		require.Regexp(t, fromAttacker, string(old))
		require.NotRegexp(t, fromClient, string(old), "after rotation lines go to the new file")
		assertLinesMatch(t, h3.LogPath, isoLine)

		// A second rotation shifts auth.log.1 to auth.log.2.
		require.NoError(t, h3.RotateLog())
		older, err := os.ReadFile(h3.LogPath + ".2")
		require.NoError(t, err)
		require.Equal(t, string(old), string(older))
	})

	t.Run("RotateCopyTruncate", func(t *testing.T) {
		h2 := l.Host(lab.H2)
		before, err := h2.ReadLog()
		require.NoError(t, err)
		require.NotEmpty(t, before)
		require.NoError(t, h2.RotateCopyTruncate())
		fi, err := os.Stat(h2.LogPath)
		require.NoError(t, err)
		require.Less(t, fi.Size(), int64(len(before)), "auth.log is truncated in place")
		copied, err := os.ReadFile(h2.LogPath + ".1")
		require.NoError(t, err)
		require.Equal(t, before, string(copied)[:len(before)])

		require.NoError(t, l.SSHFailedLogin(lab.Client, lab.H2))
		waitLog(t, h2.LogPath, regexp.MustCompile(`(?m)^\w{3} [ 123]\d [\d:]{8} h2 sshd\[\d+\]: Failed password for root from 10\.77\.0\.77 port \d+ ssh2$`))
		assertLinesMatch(t, h2.LogPath, classicLine)
	})

	t.Run("NFTables", func(t *testing.T) {
		const table, set = "banfleet", "bans4"
		_, err := l.SetElements(lab.H3, table, set)
		require.ErrorIs(t, err, lab.ErrNoTable)

		// A drop rule on an address set, made with nft inside h3 only.
		nft := fmt.Sprintf(`add table inet %[1]s; `+
			`add set inet %[1]s %[2]s { type ipv4_addr; flags timeout; }; `+
			`add chain inet %[1]s input { type filter hook input priority -10; policy accept; }; `+
			`add rule inet %[1]s input ip saddr @%[2]s tcp dport 22 drop`, table, set)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := l.Exec(ctx, lab.H3, "nft", nft)
		require.NoError(t, err)
		require.Zero(t, res.Exit, res.Stderr)

		_, err = l.SetElements(lab.H3, table, "nosuchset")
		require.ErrorIs(t, err, lab.ErrNoSet)
		addrs, err := l.SetElements(lab.H3, table, set)
		require.NoError(t, err)
		require.Empty(t, addrs)

		require.NoError(t, l.AddElement(lab.H3, table, set, lab.AttackerAddr, time.Minute))
		require.NoError(t, l.AddElement(lab.H3, table, set, netip.MustParseAddr("192.0.2.7"), 0))
		entries, err := l.SetEntries(lab.H3, table, set)
		require.NoError(t, err)
		require.Len(t, entries, 2)
		for _, e := range entries {
			switch e.Addr {
			case lab.AttackerAddr:
				require.Equal(t, time.Minute, e.Timeout)
				require.Greater(t, e.Expires, 50*time.Second)
			case netip.MustParseAddr("192.0.2.7"):
				require.Zero(t, e.Timeout)
			default:
				t.Fatalf("unexpected element %v", e)
			}
		}
		// nft sees what the netlink reader sees.
		res, err = l.Exec(ctx, lab.H3, "nft", "list", "set", "inet", table, set)
		require.NoError(t, err)
		require.Contains(t, res.Stdout, "10.77.0.66 timeout 1m")

		// The ban works in h3 only: the attacker is dropped there, the
		// client is not, and h1 still answers the attacker.
		err = l.TCPConnect(lab.Attacker, "10.77.0.13:22", time.Second)
		require.ErrorIs(t, err, lab.ErrTimeout)
		require.ErrorIs(t, l.SSHFailedLogin(lab.Attacker, lab.H3), lab.ErrTimeout)
		require.NoError(t, l.TCPConnect(lab.Client, "10.77.0.13:22", time.Second))
		require.NoError(t, l.TCPConnect(lab.Attacker, "10.77.0.11:22", time.Second))

		// The machine's own ruleset has no such table.
		out, err := osexec.CommandContext(ctx, "nft", "list", "tables").Output()
		require.NoError(t, err)
		require.NotContains(t, string(out), "inet "+table)
	})
}

// assertLinesMatch checks that every line of a log is a well-formed line of
// its format and that sshd's "\r" did not leak into it.
func assertLinesMatch(t *testing.T, path string, re *regexp.Regexp) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(b), "\r")
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.Contains(line, "garbage") {
			continue // injected by AppendLog
		}
		require.Regexp(t, re, line)
	}
}

func TestLabClose(t *testing.T) {
	lab.Require(t)
	l := lab.New(t, lab.Options{})
	dir := l.Dir
	prefix := l.Prefix()

	// A process of the lab's, and one that escaped its process group.
	_, err := l.StartProcess(lab.Attacker, "sleeper", []string{"/bin/sleep", "300"}, nil)
	require.NoError(t, err)
	_, err = l.StartProcess(lab.Client, "escaper", []string{"/bin/sh", "-c", "setsid /bin/sleep 301 & exec /bin/sleep 302"}, nil)
	require.NoError(t, err)
	// And an open ssh session in sshd's grace period, whose per-connection
	// sshd lives in its own session.
	conn, err := l.DialContext(lab.Attacker)(context.Background(), "tcp", "10.77.0.11:22")
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, lab.WaitFor(5*time.Second, func() error {
		pids, err := l.Processes()
		if err != nil {
			return err
		}
		// 3 sshd listeners, sleeper, escaper + its setsid child, 1 connection.
		if len(pids) < 7 {
			return fmt.Errorf("only %d processes in the lab yet: %v", len(pids), pids)
		}
		return nil
	}))

	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")

	pids, err := l.Processes()
	require.NoError(t, err)
	require.Empty(t, pids, "no process may live in a lab namespace after Close")
	require.Empty(t, processesMentioning(t, dir), "no process may refer to the lab dir after Close")
	require.NoDirExists(t, dir)
	entries, err := os.ReadDir("/run/netns")
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasPrefix(e.Name(), prefix), "namespace %s left behind", e.Name())
	}
	_, err = l.StartProcess(lab.H1, "late", []string{"/bin/true"}, nil)
	require.ErrorIs(t, err, lab.ErrClosed)
}

// processesMentioning returns the pids whose command line contains s.
func processesMentioning(t *testing.T, s string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestLabStartFailureCleansUp(t *testing.T) {
	lab.Require(t)
	// sshd refuses this config, so Start fails after the network and h1's
	// directory exist: everything must be removed again.
	_, err := lab.Start(context.Background(), lab.Options{
		SSHDConfigExtra: "NoSuchOption yes",
		Logf:            t.Logf,
	})
	require.Error(t, err)
	require.Contains(t, err.Error(), "NoSuchOption")
	t.Logf("start failed as expected: %v", err)

	left, err := lab.OwnNamespaces()
	require.NoError(t, err)
	require.Empty(t, left)
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("bf%d-*lab-*", os.Getpid())))
	require.NoError(t, err)
	require.Empty(t, dirs)
}

func TestLabStartCancelled(t *testing.T) {
	lab.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := lab.Start(ctx, lab.Options{})
	require.ErrorIs(t, err, context.Canceled)
	left, err := lab.OwnNamespaces()
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestLabCleansUpAfterDeadRuns(t *testing.T) {
	lab.Require(t)
	// A pid that is surely dead: a process that has exited.
	dead := osexec.Command("/bin/true")
	require.NoError(t, dead.Run())
	pid := dead.Process.Pid

	// What a SIGKILLed run would leave: a namespace with a process in it,
	// and a marked directory.
	ns := fmt.Sprintf("bf%d-h1", pid)
	require.NoError(t, osexec.Command("ip", "netns", "add", ns).Run())
	t.Cleanup(func() { _ = osexec.Command("ip", "netns", "delete", ns).Run() })
	sleeper := osexec.Command("ip", "netns", "exec", ns, "/bin/sleep", "300")
	require.NoError(t, sleeper.Start())
	waited := make(chan error, 1)
	go func() { waited <- sleeper.Wait() }()
	t.Cleanup(func() { _ = sleeper.Process.Kill() })
	// ip execs sleep once it has entered the namespace: wait for that, or the
	// cleanup below may look before the process is in the namespace.
	require.NoError(t, lab.WaitFor(5*time.Second, func() error {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", sleeper.Process.Pid))
		if err != nil || strings.TrimSpace(string(comm)) != "sleep" {
			return fmt.Errorf("sleeper not in the namespace yet (%q, %v)", comm, err)
		}
		return nil
	}))
	dir, err := os.MkdirTemp("", fmt.Sprintf("bf%d-lab-", pid))
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".banfleet-lab"), nil, 0o644))
	unmarked, err := os.MkdirTemp("", fmt.Sprintf("bf%d-other-", pid))
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(unmarked) })

	lab.New(t, lab.Options{NoSSHD: true})

	require.NoFileExists(t, filepath.Join("/run/netns", ns))
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("the process in the dead run's namespace was not killed")
	}
	require.NoDirExists(t, dir)
	require.DirExists(t, unmarked, "a directory without the lab's marker is not the lab's")
}
