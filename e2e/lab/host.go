package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Host is one of the fleet's hosts (h1, h2, h3): a namespace with an sshd
// that logs through the host's own rsyslogd to the host's auth.log.
type Host struct {
	Name    string     // "h1"
	NS      string     // full namespace name, "bf1234-h1"
	Addr    netip.Addr // 10.77.0.11
	Dir     string     // <lab dir>/h1
	LogPath string     // <lab dir>/h1/auth.log, what the agent follows
	Format  LogFormat  // the format of auth.log
	SSHD    *Proc      // nil with Options.NoSSHD
	Syslog  *Proc      // the host's rsyslogd

	mu   sync.Mutex    // orders appends and rotations
	conn *net.UnixConn // to rsyslogd's socket, for AppendSyslog
	hups int           // SIGHUPs sent to rsyslogd
}

// StateDir returns the agent's state directory, <lab dir>/h1/state.
func (h *Host) StateDir() string { return filepath.Join(h.Dir, "state") }

// defaultLogFormat: h2 writes the classic format, h1 and h3 the ISO one.
func defaultLogFormat(host string) LogFormat {
	if host == H2 {
		return LogFormatClassic
	}
	return LogFormatISO
}

// startHost makes a host's directory and auth.log and starts its rsyslogd
// and sshd.
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
	l.mu.Lock()
	l.hosts[name] = h
	l.mu.Unlock()
	if err := l.startSyslog(ctx, h); err != nil {
		return err
	}
	if l.opts.NoSSHD {
		return nil
	}
	return l.startSSHD(ctx, h)
}

// sshdWrapper runs in the private mount namespace `ip netns exec` creates
// (its mounts do not propagate to the machine): it gives sshd an empty
// /run with the privilege separation directory /run/sshd, binds the lab's
// own btmp, wtmp and lastlog over the system's, gives it a /dev of its own
// (a tmpfs with the machine's null, zero, random, urandom, tty, ptmx, pts
// and shm bound in) whose /dev/log is the host's rsyslogd socket, so that
// sshd and PAM log through syslog(3) to the host's rsyslogd, and execs sshd.
// mount -n keeps libmount from creating /run/mount/utab on the real /run.
const sshdWrapper = `set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
dir=$1; sock=$2; shift 2
mount -n -t tmpfs -o mode=0755,size=1m,nosuid,nodev banfleet-run /run
mkdir -m 0755 /run/sshd /run/dev
for f in btmp wtmp lastlog; do
	if [ -e "/var/log/$f" ]; then mount -n --bind "$dir/$f" "/var/log/$f"; fi
done
mount -n --bind /dev /run/dev
mount -n -t tmpfs -o mode=0755,size=64k,nosuid banfleet-dev /dev
for n in null zero full random urandom tty ptmx; do
	if [ -e "/run/dev/$n" ]; then : > "/dev/$n"; mount -n --bind "/run/dev/$n" "/dev/$n"; fi
done
for d in pts shm; do
	if [ -d "/run/dev/$d" ]; then mkdir "/dev/$d"; mount -n --bind "/run/dev/$d" "/dev/$d"; fi
done
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
ln -s "$sock" /dev/log
umount -n -l /run/dev
rmdir /run/dev
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

// startSSHD generates the host key and config, starts sshd -D in the
// host's namespace, and waits until it logs that it listens.
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
	args := []string{l.tools.sh, "-c", sshdWrapper, "sshd-wrapper", sshdDir, h.sock(), l.tools.sshd, "-D", "-f", cfg}
	p, err := l.startProc(h.Name, "sshd-"+h.Name, args, nil)
	if err != nil {
		return err
	}
	h.SSHD = p
	// sshd -D does not fork: its pid is the wrapper's.
	listening := fmt.Sprintf(" sshd[%d]: Server listening on %s port 22.", p.Pid(), h.Addr)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		b, _ := os.ReadFile(h.LogPath)
		if bytes.Contains(b, []byte(listening)) {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("sshd exited: %v:\n%s", p.err, tailFile(p.LogPath, 20))
		case <-ctx.Done():
			return fmt.Errorf("sshd did not log %q within 15s: %w:\n%s", listening, ctx.Err(), tailFile(p.LogPath, 20))
		case <-time.After(10 * time.Millisecond):
		}
	}
}
