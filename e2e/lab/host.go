package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Host is one of the fleet's hosts (h1, h2, h3): a namespace with an sshd
// whose log goes, through the lab, to the host's auth.log.
type Host struct {
	Name    string     // "h1"
	NS      string     // full namespace name, "bf1234-h1"
	Addr    netip.Addr // 10.77.0.11
	Dir     string     // <lab dir>/h1
	LogPath string     // <lab dir>/h1/auth.log, what the agent follows
	Format  LogFormat  // the format of auth.log
	SSHD    *Proc      // nil with Options.NoSSHD

	log    *syslogFile
	reader *net.UnixConn // sshd's stderr, one datagram per message
	wg     sync.WaitGroup
}

// StateDir returns the agent's state directory, <lab dir>/h1/state.
func (h *Host) StateDir() string { return filepath.Join(h.Dir, "state") }

// AppendLog appends line to auth.log as is (a newline is added when
// missing), for tests that inject lines sshd would not write.
func (h *Host) AppendLog(line string) error { return h.log.raw(line) }

// AppendSyslog appends a message as rsyslog would have written it for
// program tag with pid (no "[pid]" when pid is 0), stamped now.
func (h *Host) AppendSyslog(tag string, pid int, msg string) error {
	return h.log.message(tag, pid, msg)
}

// RotateLog rotates auth.log as logrotate (create) followed by rsyslog's
// HUP does: auth.log becomes auth.log.1 (older files shift to .2 … .4) and
// later lines go to a new auth.log.
func (h *Host) RotateLog() error { return h.log.rotate() }

// RotateCopyTruncate rotates auth.log as logrotate's copytruncate does:
// its content is copied to auth.log.1, then auth.log is truncated in place
// and later lines are appended to it from offset 0.
func (h *Host) RotateCopyTruncate() error { return h.log.copyTruncate() }

// ReadLog returns the current content of auth.log.
func (h *Host) ReadLog() (string, error) {
	b, err := os.ReadFile(h.LogPath)
	return string(b), err
}

// close stops the stderr reader and closes auth.log. The sshd must be dead.
func (h *Host) close() error {
	if h.reader != nil {
		_ = h.reader.Close()
	}
	h.wg.Wait()
	return h.log.close()
}

// defaultLogFormat: h2 writes the classic format, h1 and h3 the ISO one.
func defaultLogFormat(host string) LogFormat {
	if host == H2 {
		return LogFormatClassic
	}
	return LogFormatISO
}

// startHost makes a host's directory and auth.log and starts its sshd.
func (l *Lab) startHost(ctx context.Context, name string) error {
	format, ok := l.opts.LogFormats[name]
	if !ok {
		format = defaultLogFormat(name)
	}
	h := &Host{
		Name:   name,
		NS:     l.prefix + name,
		Addr:   l.Addr(name),
		Dir:    filepath.Join(l.Dir, name),
		Format: format,
	}
	h.LogPath = filepath.Join(h.Dir, "auth.log")
	for _, d := range []string{h.Dir, h.StateDir(), filepath.Join(h.Dir, "sshd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	log, err := openSyslogFile(h.LogPath, name, format)
	if err != nil {
		return err
	}
	h.log = log
	l.mu.Lock()
	l.hosts[name] = h
	l.mu.Unlock()
	if l.opts.NoSSHD {
		return nil
	}
	return l.startSSHD(ctx, h)
}

// sshdWrapper runs in the private mount namespace `ip netns exec` creates
// (its mounts do not propagate to the machine): it gives sshd an empty
// /run with the privilege separation directory /run/sshd, binds the lab's
// own btmp, wtmp and lastlog over the system's, hides a /dev/log socket
// (PAM would otherwise log to the machine's syslog), and execs sshd.
// mount -n keeps libmount from creating /run/mount/utab on the real /run.
const sshdWrapper = `set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
dir=$1; shift
mount -n -t tmpfs -o mode=0755,size=1m,nosuid,nodev banfleet-run /run
mkdir -m 0755 /run/sshd
for f in btmp wtmp lastlog; do
	if [ -e "/var/log/$f" ]; then mount -n --bind "$dir/$f" "/var/log/$f"; fi
done
if [ -e /dev/log ]; then mount -n --bind /dev/null /dev/log; fi
exec "$@"
`

// sshdConfig is the host's sshd_config; every path is in the lab directory.
func sshdConfig(h *Host, sshdDir, extra string) string {
	return fmt.Sprintf(`# written by the banfleet lab for %[1]s
Port 22
ListenAddress %[2]s
AddressFamily inet
HostKey %[3]s/ssh_host_ed25519_key
PidFile %[3]s/sshd.pid
SyslogFacility AUTH
LogLevel INFO
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
PermitRootLogin prohibit-password
MaxAuthTries 6
LoginGraceTime 10
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
%[4]s
`, h.Name, h.Addr, sshdDir, extra)
}

// startSSHD generates the host key and config, starts sshd -D -e in the
// host's namespace with its stderr on a datagram socket the lab reads, and
// waits until it listens.
func (l *Lab) startSSHD(ctx context.Context, h *Host) error {
	sshdDir := filepath.Join(h.Dir, "sshd")
	key := filepath.Join(sshdDir, "ssh_host_ed25519_key")
	if _, err := runTool(ctx, l.tools.sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", h.Name, "-f", key); err != nil {
		return err
	}
	for _, f := range []string{"btmp", "wtmp", "lastlog"} {
		// sshd refuses a btmp readable by others ("Excess permission").
		if err := os.WriteFile(filepath.Join(sshdDir, f), nil, 0o600); err != nil {
			return fmt.Errorf("create %s: %w", f, err)
		}
	}
	cfg := filepath.Join(sshdDir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(sshdConfig(h, sshdDir, l.opts.SSHDConfigExtra)), 0o600); err != nil {
		return fmt.Errorf("write sshd_config: %w", err)
	}

	// sshd's stderr is one end of a datagram socketpair: each log message
	// is one write(2), so one datagram, and SO_PASSCRED tells the writer's
	// pid, which is the pid rsyslog would show (the per-connection sshd
	// process, not the listener).
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return fmt.Errorf("SO_PASSCRED: %w", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "sshd-stderr-reader")
	theirs := os.NewFile(uintptr(fds[1]), "sshd-stderr")
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return fmt.Errorf("sshd stderr reader: %w", err)
	}
	h.reader = fc.(*net.UnixConn)

	args := []string{l.tools.sh, "-c", sshdWrapper, "sshd-wrapper", sshdDir, l.tools.sshd, "-D", "-e", "-f", cfg}
	p, err := l.startProc(h.Name, "sshd-"+h.Name, args, nil, theirs)
	theirs.Close()
	if err != nil {
		return err
	}
	h.SSHD = p
	ready := make(chan struct{})
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.readSSHD(p, ready)
	}()
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-p.Done():
		// Let the reader drain what sshd said before dying.
		_ = h.reader.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		h.wg.Wait()
		return fmt.Errorf("sshd exited: %v:\n%s", p.err, tailFile(p.LogPath, 20))
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("sshd did not report listening within 15s: %s", tailFile(p.LogPath, 20))
	}
}

// readSSHD turns sshd's stderr datagrams into auth.log lines, keeping a raw
// copy in sshd's process log, until the reader is closed.
func (h *Host) readSSHD(p *Proc, ready chan struct{}) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	signalled := false
	failures := 0
	for {
		n, oobn, _, _, err := h.reader.ReadMsgUnix(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			// A transient error must not stop the log, a persistent one
			// must not spin.
			if failures++; failures > 100 {
				fmt.Fprintf(p.logFile, "[lab] reading sshd's stderr: %v; giving up\n", err)
				return
			}
			continue
		}
		failures = 0
		pid := senderPid(oob[:oobn])
		if pid <= 0 {
			pid = p.Pid()
		}
		raw := buf[:n]
		fmt.Fprintf(p.logFile, "[pid %d] %s\n", pid, bytes.TrimRight(raw, "\r\n"))
		msg := sshdStderrMessage(raw)
		_ = h.log.message("sshd", pid, msg)
		if !signalled && strings.HasPrefix(msg, "Server listening on ") {
			signalled = true
			close(ready)
		}
	}
}

// senderPid extracts the pid from SCM_CREDENTIALS, or returns 0.
func senderPid(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			return int(cred.Pid)
		}
	}
	return 0
}
