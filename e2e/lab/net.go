package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// inNetns runs fn on a fresh OS thread that has joined the namespace at
// path. The thread is never unlocked, so the Go runtime destroys it when fn
// returns instead of reusing a thread that sits in a lab namespace. Sockets
// fn creates stay in that namespace and may be used from any goroutine.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // deliberately never unlocked
		h, err := netns.GetFromPath(path)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", path, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// DialContext returns a dial function whose connections are made from
// inside the namespace of node ns, e.g. for an http.Transport.
func (l *Lab) DialContext(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		full, err := l.resolveNS(ns)
		if err != nil {
			return nil, err
		}
		var c net.Conn
		err = inNetns(nsPath(full), func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		if err != nil {
			return nil, classifyDialError(err)
		}
		return c, nil
	}
}

// Listen opens a listener inside the namespace of node ns, e.g. a fake
// webhook receiver in coord that the test process serves. The caller
// closes it (Close does not).
func (l *Lab) Listen(ns, network, addr string) (net.Listener, error) {
	full, err := l.resolveNS(ns)
	if err != nil {
		return nil, err
	}
	var ln net.Listener
	err = inNetns(nsPath(full), func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s in %s: %w", addr, ns, err)
	}
	return ln, nil
}

// classifyDialError wraps a dial error with ErrTimeout, ErrRefused or
// ErrUnreachable when it is one of those.
func classifyDialError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %w", ErrRefused, err)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// TCPConnect opens a TCP connection to addr ("10.77.0.11:22") from inside
// the namespace of node ns and closes it at once. It returns nil when the
// connection was established, or an error wrapping ErrTimeout (no answer
// within timeout: dropped), ErrRefused or ErrUnreachable.
func (l *Lab) TCPConnect(ns, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := l.DialContext(ns)(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect from %s to %s: %w", ns, addr, err)
	}
	return c.Close()
}

// HTTPGet fetches url from inside the namespace of node ns (for example a
// daemon's metrics on 127.0.0.1) and returns the body; a status other than
// 200 is an error.
func (l *Lab) HTTPGet(ns, url string, timeout time.Duration) (string, error) {
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       l.DialContext(ns),
			DisableKeepAlives: true,
		},
	}
	resp, err := client.Get(url)
	if err != nil {
		return "", fmt.Errorf("GET %s from %s: %w", url, ns, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET %s from %s: %w", url, ns, err)
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s from %s: %s", url, ns, resp.Status)
	}
	return string(body), nil
}

// sshpassBadPassword is sshpass's exit status for a password that was
// refused (sshpass saw a second password prompt).
const sshpassBadPassword = 5

// SSHLogin makes one real password login attempt with ssh and sshpass from
// inside the namespace of node ns to host (a node name like "h1" or an
// address), as user with password, running `true`. accepted tells whether
// the server let the user in. err is nil whenever the server answered; it
// wraps ErrTimeout, ErrRefused or ErrUnreachable when the server could not
// be reached (a ban that drops packets shows as ErrTimeout after 3 s).
func (l *Lab) SSHLogin(ns, host, user, password string) (accepted bool, err error) {
	addr, err := l.resolveAddr(host)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{
		l.tools.sshpass, "-e",
		l.tools.ssh, "-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR",
		"-o", "PreferredAuthentications=password",
		"-o", "PubkeyAuthentication=no",
		"-o", "GSSAPIAuthentication=no",
		"-o", "NumberOfPasswordPrompts=1",
		"-o", "ConnectTimeout=3",
		"-o", "ConnectionAttempts=1",
		user + "@" + addr.String(), "true",
	}
	res, err := l.execIn(ctx, ns, []string{"SSHPASS=" + password}, args...)
	if err != nil {
		return false, fmt.Errorf("ssh from %s to %s: %w", ns, addr, err)
	}
	stderr := strings.TrimSpace(res.Stderr)
	switch {
	case res.Exit == 0:
		return true, nil
	case res.Exit == sshpassBadPassword, strings.Contains(stderr, "Permission denied"):
		return false, nil
	case strings.Contains(stderr, "timed out"):
		err = ErrTimeout
	case strings.Contains(stderr, "Connection refused"):
		err = ErrRefused
	case strings.Contains(stderr, "No route to host"), strings.Contains(stderr, "unreachable"):
		err = ErrUnreachable
	default:
		return false, fmt.Errorf("ssh from %s to %s: exit status %d: %s", ns, addr, res.Exit, stderr)
	}
	return false, fmt.Errorf("ssh from %s to %s: %w: %s", ns, addr, err, stderr)
}

// SSHFailedLogin makes one failed password login as root (wrong password)
// from node ns to host, which sshd logs as "Failed password for root from
// <addr> port <port> ssh2". It returns after ssh exits: nil when the server
// refused the password, an error wrapping ErrTimeout (etc.) when the server
// could not be reached.
func (l *Lab) SSHFailedLogin(ns, host string) error {
	accepted, err := l.SSHLogin(ns, host, "root", "wrong")
	if err != nil {
		return err
	}
	if accepted {
		return fmt.Errorf("ssh from %s to %s: root login with a wrong password succeeded", ns, host)
	}
	return nil
}
