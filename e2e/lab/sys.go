package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// markerFile marks a temporary directory as made by the lab, so that the
// leftovers of a crashed run can be recognised and removed.
const markerFile = ".banfleet-lab"

// netnsDir is where `ip netns` keeps named namespaces.
const netnsDir = "/run/netns"

func nsPath(full string) string { return filepath.Join(netnsDir, full) }

// tools are the absolute paths of the external programs the lab runs.
type tools struct {
	ip, sshd, ssh, sshKeygen, sshpass, nft, sh, mount, rsyslogd string
}

// prereq is one external program the lab needs and its Debian package.
type prereq struct {
	name, pkg string
	path      *string
}

// PrereqError lists what the lab is missing.
type PrereqError struct {
	NotRoot  bool
	Missing  []string // programs not found
	Packages []string // Debian packages that provide them
}

func (e *PrereqError) Error() string {
	var parts []string
	if e.NotRoot {
		parts = append(parts, "the lab must run as root (it creates network namespaces): run the tests with sudo -E")
	}
	if len(e.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing programs: %s; install with: apt-get install -y %s",
			strings.Join(e.Missing, ", "), strings.Join(e.Packages, " ")))
	}
	return "banfleet e2e lab prerequisites not met: " + strings.Join(parts, "; ")
}

// lookTool finds a program on PATH or in the sbin/bin directories, which a
// non-login root shell may lack on PATH.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// checkPrereqs finds the lab's programs; the error is a *PrereqError.
func checkPrereqs() (tools, error) {
	var t tools
	list := []prereq{
		{"ip", "iproute2", &t.ip},
		{"sshd", "openssh-server", &t.sshd},
		{"ssh", "openssh-client", &t.ssh},
		{"ssh-keygen", "openssh-client", &t.sshKeygen},
		{"sshpass", "sshpass", &t.sshpass},
		{"nft", "nftables", &t.nft},
		{"sh", "dash", &t.sh},
		{"mount", "mount", &t.mount},
		{"rsyslogd", "rsyslog", &t.rsyslogd},
	}
	e := &PrereqError{NotRoot: os.Geteuid() != 0}
	for _, p := range list {
		path, err := lookTool(p.name)
		if err != nil {
			e.Missing = append(e.Missing, p.name)
			if !slices.Contains(e.Packages, p.pkg) {
				e.Packages = append(e.Packages, p.pkg)
			}
			continue
		}
		*p.path = path
	}
	if e.NotRoot || len(e.Missing) > 0 {
		return t, e
	}
	return t, nil
}

// CheckPrereqs reports what the lab needs and does not have: root, and the
// programs ip, sshd, ssh, ssh-keygen, sshpass, nft, sh, mount and rsyslogd. The error
// is a *PrereqError naming the packages to install.
func CheckPrereqs() error {
	_, err := checkPrereqs()
	return err
}

// Require skips the test when the lab's prerequisites are missing, or fails
// it when the environment variable BANFLEET_E2E is 1 (as in CI), saying
// what is missing and what to apt-get install.
func Require(t TB) {
	t.Helper()
	err := CheckPrereqs()
	if err == nil {
		return
	}
	if os.Getenv("BANFLEET_E2E") == "1" {
		t.Fatalf("%v", err)
	}
	t.Skipf("%v (set BANFLEET_E2E=1 to fail instead of skipping)", err)
}

// runTool runs a short-lived program in the root namespace and returns its
// standard output; the error carries its standard error.
func runTool(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = childEnv(nil)
	cancelGroup(cmd)
	if err := startCmd(cmd); err != nil {
		return "", fmt.Errorf("%s %s: %w", filepath.Base(path), strings.Join(args, " "), err)
	}
	if err := cmd.Wait(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(path), strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// nsInode returns the inode of a network namespace file, which identifies
// the namespace (it is what /proc/PID/ns/net links to).
func nsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return st.Ino, nil
}

var netnsLink = regexp.MustCompile(`^net:\[(\d+)\]$`)

// pidsInNetns returns the processes (other than this one) whose network
// namespace is one of inodes.
func pidsInNetns(inodes map[uint64]bool) ([]int, error) {
	if len(inodes) == 0 {
		return nil, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net"))
		if err != nil {
			continue // exited, zombie or kernel thread
		}
		m := netnsLink.FindStringSubmatch(link)
		if m == nil {
			continue
		}
		ino, _ := strconv.ParseUint(m[1], 10, 64)
		if inodes[ino] {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killInNetns SIGKILLs every process living in one of the namespaces and
// waits until none is left.
func killInNetns(inodes map[uint64]bool, timeout time.Duration) error {
	err := WaitFor(timeout, func() error {
		pids, err := pidsInNetns(inodes)
		if err != nil {
			return err
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(pids) > 0 {
			return fmt.Errorf("processes still in the lab's namespaces: %v", pids)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kill lab processes: %w", err)
	}
	return nil
}

// staleName matches the namespaces and temporary directories of labs and
// builds: "bf<pid>-…".
var staleName = regexp.MustCompile(`^bf(\d+)-`)

// pidAlive reports whether a process exists.
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// cleanupStale removes what labs of processes that no longer exist left
// behind (after a SIGKILL or a test binary's timeout): their namespaces,
// the processes in them, and their marked temporary directories.
func cleanupStale(t tools, logf func(string, ...any)) {
	if entries, err := os.ReadDir(netnsDir); err == nil {
		inodes := map[uint64]bool{}
		var names []string
		for _, e := range entries {
			m := staleName.FindStringSubmatch(e.Name())
			if m == nil {
				continue
			}
			if pid, _ := strconv.Atoi(m[1]); pid == os.Getpid() || pidAlive(pid) {
				continue
			}
			if ino, err := nsInode(nsPath(e.Name())); err == nil {
				inodes[ino] = true
			}
			names = append(names, e.Name())
		}
		if len(names) > 0 {
			logf("lab: removing stale namespaces of dead labs: %v", names)
			_ = killInNetns(inodes, 5*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			for _, n := range names {
				if _, err := runTool(ctx, t.ip, "netns", "delete", n); err != nil {
					logf("lab: %v", err)
				}
			}
			cancel()
		}
	}
	if entries, err := os.ReadDir(os.TempDir()); err == nil {
		for _, e := range entries {
			m := staleName.FindStringSubmatch(e.Name())
			if m == nil || !e.IsDir() {
				continue
			}
			if pid, _ := strconv.Atoi(m[1]); pid == os.Getpid() || pidAlive(pid) {
				continue
			}
			dir := filepath.Join(os.TempDir(), e.Name())
			if _, err := os.Stat(filepath.Join(dir, markerFile)); err != nil {
				continue
			}
			logf("lab: removing stale directory %s", dir)
			_ = os.RemoveAll(dir)
		}
	}
}

// maxDumpLine is how much of a long line a dump shows.
const maxDumpLine = 300

// tailFile returns the last n lines of a file (each cut at maxDumpLine
// bytes), or a note why it cannot.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("(… %d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	for i, l := range lines {
		if len(l) > maxDumpLine {
			lines[i] = fmt.Sprintf("%q… (%d bytes)", l[:maxDumpLine], len(l))
		}
	}
	return strings.Join(lines, "\n")
}

// OwnNamespaces returns the names of the namespaces in /run/netns that labs
// of this process made ("bf<pid>-…"). After every lab is closed it must be
// empty; TestMain checks it.
func OwnNamespaces() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", netnsDir, err)
	}
	prefix := fmt.Sprintf("bf%d-", os.Getpid())
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
