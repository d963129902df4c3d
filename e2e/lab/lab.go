package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banfleet/banfleet/internal/testutil/testpki"
)

// Names of the lab's nodes (network namespaces), without the lab's prefix.
const (
	Switch   = "sw" // holds the bridge br0; no address
	Coord    = "coord"
	H1       = "h1"
	H2       = "h2"
	H3       = "h3"
	Attacker = "attacker"
	Client   = "client"
)

// Addresses of the nodes on the lab's bridge (10.77.0.0/24).
var (
	CoordAddr    = netip.MustParseAddr("10.77.0.10")
	H1Addr       = netip.MustParseAddr("10.77.0.11")
	H2Addr       = netip.MustParseAddr("10.77.0.12")
	H3Addr       = netip.MustParseAddr("10.77.0.13")
	AttackerAddr = netip.MustParseAddr("10.77.0.66")
	ClientAddr   = netip.MustParseAddr("10.77.0.77")
)

// LabPrefix is the prefix length of the lab's subnet.
const LabPrefix = 24

// NATSURL is the URL of the coordinator's embedded NATS server, as seen
// from every lab namespace.
const NATSURL = "nats://10.77.0.10:4222"

// HostNames returns the names of the fleet's hosts: h1, h2, h3.
func HostNames() []string { return []string{H1, H2, H3} }

// node is one namespace of the topology.
type node struct {
	name string
	addr netip.Addr // invalid for the switch
}

// topology lists the namespaces in creation order; the switch comes first.
var topology = []node{
	{Switch, netip.Addr{}},
	{Coord, CoordAddr},
	{H1, H1Addr},
	{H2, H2Addr},
	{H3, H3Addr},
	{Attacker, AttackerAddr},
	{Client, ClientAddr},
}

// Options configures a lab. The zero value is the standard lab.
type Options struct {
	// Binaries are the banfleet binaries used by StartFleet, StartCoord,
	// StartAgent and Coord. Build returns them. Empty is fine for a lab
	// that runs no banfleet daemon.
	Binaries Binaries
	// Logf receives the lab's progress messages (t.Logf in tests). Nil
	// discards them.
	Logf func(format string, args ...any)
	// NoSSHD starts no sshd on the hosts (auth.log files are still made).
	NoSSHD bool
	// SSHDConfigExtra is appended to every host's sshd_config.
	SSHDConfigExtra string
	// LogFormats overrides the auth.log format per host. By default h1 and
	// h3 use LogFormatISO and h2 LogFormatClassic.
	LogFormats map[string]LogFormat
	// TempDir is where the lab's directory is created; default os.TempDir().
	TempDir string
}

// Lab is a running fleet lab. Its methods are safe for concurrent use.
type Lab struct {
	// Dir is the lab's temporary directory, removed by Close.
	Dir string

	prefix string
	opts   Options
	logf   func(format string, args ...any)
	tools  tools

	mu        sync.Mutex
	closed    bool
	created   []string          // full names of the namespaces created, in order
	inodes    map[uint64]string // netns inode -> full name
	procs     []*Proc
	procNames map[string]int
	passwords map[string]string // NATS logins: h1, h2, h3 (agents) and admin
	pki       testpki.Files     // the coordinator's NATS certificate and its CA
	hosts     map[string]*Host

	closeOnce sync.Once
	closeErr  error
}

var labSeq atomic.Int64

// newPrefix returns the namespace prefix of a new lab: "bf<pid>-" for the
// first lab of the process, "bf<pid>-<n>-" for the following ones.
func newPrefix() string {
	n := labSeq.Add(1)
	if n == 1 {
		return fmt.Sprintf("bf%d-", os.Getpid())
	}
	return fmt.Sprintf("bf%d-%d-", os.Getpid(), n)
}

// Start creates the lab: namespaces, bridge, veth pairs, addresses, the
// hosts' auth.log files and sshd servers. On error, everything created so
// far is removed before Start returns. Cancelling ctx aborts the start.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	tl, err := checkPrereqs()
	if err != nil {
		return nil, err
	}
	l := &Lab{
		prefix:    newPrefix(),
		opts:      opts,
		logf:      opts.Logf,
		tools:     tl,
		inodes:    map[uint64]string{},
		procNames: map[string]int{},
		hosts:     map[string]*Host{},
		passwords: newPasswords(),
	}
	if l.logf == nil {
		l.logf = func(string, ...any) {}
	}
	cleanupStale(l.tools, l.logf)
	if err := l.start(ctx); err != nil {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close after failed start: %w", cerr))
		}
		return nil, err
	}
	return l, nil
}

func (l *Lab) start(ctx context.Context) error {
	base := l.opts.TempDir
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, l.prefix+"lab-")
	if err != nil {
		return fmt.Errorf("create lab dir: %w", err)
	}
	l.mu.Lock()
	l.Dir = dir
	l.mu.Unlock()
	if err := os.WriteFile(filepath.Join(dir, markerFile), []byte(l.prefix+"\n"), 0o644); err != nil {
		return fmt.Errorf("write lab marker: %w", err)
	}
	for _, d := range []string{"logs", "pki"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("create %s dir: %w", d, err)
		}
	}
	// The coordinator's NATS speaks TLS, with a certificate for its lab
	// address signed by a CA made for this lab.
	pki, err := testpki.Write(filepath.Join(dir, "pki"), CoordAddr.String())
	if err != nil {
		return fmt.Errorf("lab certificates: %w", err)
	}
	l.mu.Lock()
	l.pki = pki
	l.mu.Unlock()
	l.logf("lab: prefix %s, dir %s", l.prefix, dir)

	if err := l.createNetwork(ctx); err != nil {
		return err
	}
	for _, name := range HostNames() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.startHost(ctx, name); err != nil {
			return fmt.Errorf("start host %s: %w", name, err)
		}
	}
	return nil
}

// createNetwork creates the namespaces, the bridge in sw and one veth pair
// per node, entirely with `ip -n`, so the root namespace never sees a link.
func (l *Lab) createNetwork(ctx context.Context) error {
	for _, n := range topology {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := l.prefix + n.name
		if _, err := l.ip(ctx, "netns", "add", full); err != nil {
			return err
		}
		l.mu.Lock()
		l.created = append(l.created, full)
		l.mu.Unlock()
		ino, err := nsInode(nsPath(full))
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.inodes[ino] = full
		l.mu.Unlock()
		if _, err := l.ip(ctx, "-n", full, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	sw := l.prefix + Switch
	if _, err := l.ip(ctx, "-n", sw, "link", "add", "br0", "type", "bridge"); err != nil {
		return err
	}
	if _, err := l.ip(ctx, "-n", sw, "link", "set", "br0", "up"); err != nil {
		return err
	}
	for _, n := range topology {
		if n.name == Switch {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		full := l.prefix + n.name
		port := "v-" + n.name // at most 15 bytes: "v-attacker"
		steps := [][]string{
			{"-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", full},
			{"-n", sw, "link", "set", port, "master", "br0"},
			{"-n", sw, "link", "set", port, "up"},
			{"-n", full, "addr", "add", fmt.Sprintf("%s/%d", n.addr, LabPrefix), "dev", "eth0"},
			{"-n", full, "link", "set", "eth0", "up"},
		}
		for _, args := range steps {
			if _, err := l.ip(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// ip runs the ip tool with args.
func (l *Lab) ip(ctx context.Context, args ...string) (string, error) {
	return runTool(ctx, l.tools.ip, args...)
}

// Prefix returns the lab's namespace prefix, e.g. "bf1234-".
func (l *Lab) Prefix() string { return l.prefix }

// NS returns the full network namespace name of a lab node ("h1" ->
// "bf1234-h1"), or "" when node is not a node of the lab.
func (l *Lab) NS(node string) string {
	full, err := l.resolveNS(node)
	if err != nil {
		return ""
	}
	return full
}

// NSPath returns the path of a node's namespace file under /run/netns, or ""
// when node is not a node of the lab.
func (l *Lab) NSPath(node string) string {
	full := l.NS(node)
	if full == "" {
		return ""
	}
	return nsPath(full)
}

// Addr returns the address of a lab node, or the invalid Addr for the switch
// and unknown names.
func (l *Lab) Addr(node string) netip.Addr {
	short := strings.TrimPrefix(node, l.prefix)
	for _, n := range topology {
		if n.name == short {
			return n.addr
		}
	}
	return netip.Addr{}
}

// resolveNS maps a short node name ("h1") or a full namespace name of this
// lab ("bf1234-h1") to the full name.
func (l *Lab) resolveNS(name string) (string, error) {
	short := strings.TrimPrefix(name, l.prefix)
	for _, n := range topology {
		if n.name == short {
			return l.prefix + short, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownNode, name)
}

// resolveAddr maps a node name or an IP address to an address.
func (l *Lab) resolveAddr(host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
	}
	if a := l.Addr(host); a.IsValid() {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("%w: %q", ErrUnknownNode, host)
}

// Host returns one of the fleet's hosts (h1, h2, h3), or nil.
func (l *Lab) Host(name string) *Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hosts[strings.TrimPrefix(name, l.prefix)]
}

// Hosts returns the fleet's hosts in order h1, h2, h3.
func (l *Lab) Hosts() []*Host {
	var hs []*Host
	for _, n := range HostNames() {
		if h := l.Host(n); h != nil {
			hs = append(hs, h)
		}
	}
	return hs
}

// Procs returns the processes started by the lab so far, in start order.
func (l *Lab) Procs() []*Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.procs)
}

// Processes returns the pids of all processes living in one of the lab's
// namespaces, whoever started them. It still works after Close (and must
// then return none).
func (l *Lab) Processes() ([]int, error) {
	l.mu.Lock()
	inodes := make(map[uint64]bool, len(l.inodes))
	for ino := range l.inodes {
		inodes[ino] = true
	}
	l.mu.Unlock()
	return pidsInNetns(inodes)
}

// DumpLogs writes the tail of every process log and of every host's
// auth.log to logf. New calls it when a test failed.
func (l *Lab) DumpLogs(logf func(format string, args ...any)) {
	for _, p := range l.Procs() {
		logf("--- tail of %s (%s in %s) ---\n%s", p.LogPath, p.Name, p.NS, tailFile(p.LogPath, 60))
	}
	for _, h := range l.Hosts() {
		logf("--- tail of %s ---\n%s", h.LogPath, tailFile(h.LogPath, 30))
	}
}

// Close stops every lab process (SIGTERM, then SIGKILL after a grace
// period), kills anything else living in the lab's namespaces, deletes the
// namespaces (with their links and nftables tables) and removes the lab
// directory. It is idempotent and safe to call concurrently, e.g. from a
// signal handler; later callers wait for the first to finish.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Lab) close() error {
	l.mu.Lock()
	l.closed = true
	procs := slices.Clone(l.procs)
	hosts := make([]*Host, 0, len(l.hosts))
	for _, h := range l.hosts {
		hosts = append(hosts, h)
	}
	created := slices.Clone(l.created)
	inodes := make(map[uint64]bool, len(l.inodes))
	for ino := range l.inodes {
		inodes[ino] = true
	}
	dir := l.Dir
	l.mu.Unlock()

	var errs []error

	// 1. Our own processes: SIGTERM to each process group, then SIGKILL.
	stopAll(procs, 3*time.Second)

	// 2. Anything else in the lab's namespaces (sshd's per-connection
	// children live in their own sessions; clients a test left behind).
	if err := killInNetns(inodes, 5*time.Second); err != nil {
		errs = append(errs, err)
	}

	// 3. The namespaces: exactly the names this lab created, plus any of its
	// names that exist but were not recorded (a failure between creation
	// and bookkeeping).
	names := created
	for _, n := range topology {
		if !slices.Contains(names, l.prefix+n.name) {
			if _, err := os.Stat(nsPath(l.prefix + n.name)); err == nil {
				names = append(names, l.prefix+n.name)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range slices.Backward(names) {
		if _, err := os.Stat(nsPath(name)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if _, err := runTool(ctx, l.tools.ip, "netns", "delete", name); err != nil {
			errs = append(errs, err)
		}
	}

	// 4. Readers and log files, then the directory.
	for _, h := range hosts {
		if err := h.close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range procs {
		p.closeLog()
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove lab dir: %w", err))
		}
	}
	if len(errs) == 0 {
		l.logf("lab: %s closed", l.prefix)
	}
	return errors.Join(errs...)
}

// isClosed reports whether Close has begun.
func (l *Lab) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// TB is the part of testing.TB the lab needs; *testing.T and *testing.B
// satisfy it.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// New starts a lab for a test: it calls Require, then Start, and registers
// a cleanup that prints the tail of every process log if the test failed
// and closes the lab. Options.Logf defaults to t.Logf.
func New(t TB, opts Options) *Lab {
	t.Helper()
	Require(t)
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	l, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			l.DumpLogs(t.Logf)
		}
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

// WaitFor calls cond until it returns nil and returns nil, or returns the
// last error of cond once timeout has passed. It polls every 25 ms at
// first, slowing to every 250 ms.
func WaitFor(timeout time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return WaitForContext(ctx, cond)
}

// WaitForContext is WaitFor with a context instead of a timeout.
func WaitForContext(ctx context.Context, cond func() error) error {
	interval := 25 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("gave up waiting: %w", last)
		case <-timer.C:
		}
		if last = cond(); last == nil {
			return nil
		}
		timer.Reset(interval)
		interval = min(interval*2, 250*time.Millisecond)
	}
}
