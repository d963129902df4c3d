package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netns"
)

// requireKernel skips tb unless it runs as root; under BANFLEET_E2E=1 it
// fails instead.
func requireKernel(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("BANFLEET_E2E") == "1" {
		tb.Fatal("nftables kernel tests need root (BANFLEET_E2E=1 forbids skipping)")
	}
	tb.Skip("nftables kernel tests need root")
}

// testNS is a network namespace the test created; it is deleted when the
// test ends.
type testNS struct {
	name string
	h    netns.NsHandle
}

func run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(tb, err, "%s %s: %s", name, strings.Join(args, " "), out)
	return string(out)
}

// newNS creates a throwaway network namespace with lo up.
func newNS(tb testing.TB) *testNS {
	tb.Helper()
	requireKernel(tb)
	name := fmt.Sprintf("bffw-%d-%08x", os.Getpid(), rand.Uint32())
	run(tb, "ip", "netns", "add", name)
	tb.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			tb.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = h.Close() }) // runs before the delete above

	// Never let a test talk to the host's own nftables.
	self, err := netns.GetFromPid(os.Getpid())
	require.NoError(tb, err)
	defer self.Close()
	require.False(tb, h.Equal(self), "test namespace is the process's own namespace")

	run(tb, "ip", "-n", name, "link", "set", "lo", "up")
	return &testNS{name: name, h: h}
}

// nft runs the nft CLI inside the namespace.
func (ns *testNS) nft(tb testing.TB, args ...string) string {
	tb.Helper()
	return run(tb, "ip", append([]string{"netns", "exec", ns.name, "nft"}, args...)...)
}

// do runs fn on an OS thread switched into the namespace. The thread is
// never switched back: the goroutine exits while still locked, so the
// runtime discards the thread.
func (ns *testNS) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns.h); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", ns.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// newBackend connects an Nftables backend to the namespace's nftables and
// closes it when the test ends.
func newBackend(tb testing.TB, ns *testNS) *Nftables {
	tb.Helper()
	require.NotZero(tb, ns.h, "kernel tests must run in a test namespace")
	n, err := NewNftables(NftOptions{NetNS: int(ns.h), Logger: testLogger(tb)})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = n.Close() })
	return n
}

func testLogger(tb testing.TB) *slog.Logger {
	if _, ok := tb.(*testing.B); ok {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// link is a veth pair between two test namespaces, with IPv4 and IPv6
// addresses: host side .1 / ::1 (where the backend runs), peer side .2 / ::2.
type link struct {
	host, peer     *testNS
	hostV4, peerV4 net.IP
	hostV6, peerV6 net.IP
}

func newLink(tb testing.TB, host, peer *testNS) *link {
	tb.Helper()
	n := 1 + rand.IntN(250)
	l := &link{
		host: host, peer: peer,
		hostV4: net.ParseIP(fmt.Sprintf("10.250.%d.1", n)),
		peerV4: net.ParseIP(fmt.Sprintf("10.250.%d.2", n)),
		hostV6: net.ParseIP(fmt.Sprintf("fd00:250:%x::1", n)),
		peerV6: net.ParseIP(fmt.Sprintf("fd00:250:%x::2", n)),
	}
	// ip -n runs in the host namespace and creates the peer end directly in
	// the peer namespace: nothing is created in the process's namespace.
	run(tb, "ip", "-n", host.name, "link", "add", "bfh0", "type", "veth", "peer", "name", "bfp0", "netns", peer.name)
	run(tb, "ip", "-n", host.name, "addr", "add", l.hostV4.String()+"/24", "dev", "bfh0")
	run(tb, "ip", "-n", host.name, "addr", "add", l.hostV6.String()+"/64", "dev", "bfh0", "nodad")
	run(tb, "ip", "-n", host.name, "link", "set", "bfh0", "up")
	run(tb, "ip", "-n", peer.name, "addr", "add", l.peerV4.String()+"/24", "dev", "bfp0")
	run(tb, "ip", "-n", peer.name, "addr", "add", l.peerV6.String()+"/64", "dev", "bfp0", "nodad")
	run(tb, "ip", "-n", peer.name, "link", "set", "bfp0", "up")
	return l
}

// listen starts a TCP listener in ns on addr:port that accepts and closes
// connections until the test ends.
func listen(tb testing.TB, ns *testNS, ip net.IP, port int) {
	tb.Helper()
	var ln net.Listener
	err := ns.do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(ip.String(), fmt.Sprint(port)))
		return err
	})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
}

// dial connects from ns to ip:port with a short timeout.
func dial(ns *testNS, ip net.IP, port int, timeout time.Duration) error {
	return ns.do(func() error {
		d := net.Dialer{Timeout: timeout}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), fmt.Sprint(port)))
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// isTimeout reports whether err is a connect that got no answer at all (as
// with a dropped SYN), as opposed to, say, a refused one.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
