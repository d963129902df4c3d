package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LogFormat is the line format of a host's auth.log: which of rsyslog's
// file templates the host's rsyslogd writes it with.
type LogFormat int

const (
	// LogFormatISO is what Debian 12's rsyslog writes by default
	// (RSYSLOG_FileFormat): an RFC 3339 timestamp with microseconds and a
	// numeric offset, then host, tag and message:
	//	2026-11-26T06:35:46.123456+00:00 h1 sshd[1234]: Failed password for root from 10.77.0.66 port 41348 ssh2
	LogFormatISO LogFormat = iota
	// LogFormatClassic is RSYSLOG_TraditionalFileFormat (older Debian and
	// Ubuntu, and many VPS images): an RFC 3164 timestamp whose day of month
	// is padded with a space:
	//	Nov  6 06:35:46 h2 sshd[1234]: Failed password for root from 10.77.0.66 port 41348 ssh2
	LogFormatClassic
)

func (f LogFormat) String() string {
	switch f {
	case LogFormatISO:
		return "iso"
	case LogFormatClassic:
		return "classic"
	}
	return "LogFormat(" + strconv.Itoa(int(f)) + ")"
}

// template is the rsyslog template that writes f.
func (f LogFormat) template() string {
	if f == LogFormatClassic {
		return "RSYSLOG_TraditionalFileFormat"
	}
	return "RSYSLOG_FileFormat"
}

// rsyslogConfig is a host's rsyslog.conf: as Debian's for auth and authpriv
// (to auth.log, mode 0640), with the host's name, a socket of its own in
// place of /dev/log, no rate limit (tests log hundreds of lines at once),
// and rsyslogd's own messages (start, HUP) in a file of their own, which
// the lab watches.
func rsyslogConfig(h *Host) string {
	return fmt.Sprintf(`# written by the banfleet lab for %[1]s
global(workDirectory=%[2]q localHostName=%[1]q processInternalMessages="on" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=%[3]q RateLimit.Interval="0")
auth,authpriv.* action(type="omfile" file=%[4]q template=%[5]q fileCreateMode="0640")
syslog.* action(type="omfile" file=%[6]q)
`, h.Name, h.syslogDir(), h.sock(), h.LogPath, h.Format.template(), h.rsyslogLog())
}

func (h *Host) syslogDir() string  { return filepath.Join(h.Dir, "syslog") }
func (h *Host) sock() string       { return filepath.Join(h.syslogDir(), "log.sock") }
func (h *Host) rsyslogLog() string { return filepath.Join(h.syslogDir(), "rsyslogd.log") }

// maxSockPath is the longest path a unix socket address holds.
const maxSockPath = 107

// startSyslog starts the host's rsyslogd, in the host's namespace, and
// waits until it has started and connects to its socket.
func (l *Lab) startSyslog(ctx context.Context, h *Host) error {
	if len(h.sock()) > maxSockPath {
		return fmt.Errorf("%s: socket path longer than %d bytes: use a shorter Options.TempDir", h.sock(), maxSockPath)
	}
	if strings.ContainsAny(h.Dir, "\"\\") {
		return fmt.Errorf("%s: the lab directory may not hold quotes or backslashes (rsyslog.conf)", h.Dir)
	}
	if err := os.MkdirAll(h.syslogDir(), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", h.syslogDir(), err)
	}
	// As the package creates it; rsyslogd appends.
	if err := os.WriteFile(h.LogPath, nil, logMode); err != nil {
		return fmt.Errorf("create %s: %w", h.LogPath, err)
	}
	conf := filepath.Join(h.syslogDir(), "rsyslog.conf")
	if err := os.WriteFile(conf, []byte(rsyslogConfig(h)), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", conf, err)
	}
	// The machine's rsyslogd, run from a copy in the lab directory: Ubuntu
	// confines /usr/sbin/rsyslogd with an AppArmor profile that allows the
	// system's log paths only, not a lab's socket and files.
	bin := filepath.Join(h.syslogDir(), "rsyslogd")
	if err := copyFile(l.tools.rsyslogd, bin, 0o755); err != nil {
		return err
	}
	p, err := l.startProc(h.Name, "rsyslogd-"+h.Name, []string{bin, "-n", "-f", conf, "-i", filepath.Join(h.syslogDir(), "rsyslogd.pid")}, nil)
	if err != nil {
		return err
	}
	h.Syslog = p
	if err := h.waitRsyslog(ctx, "] start", 1); err != nil {
		return err
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: h.sock(), Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("connect to %s's syslog: %w", h.Name, err)
	}
	h.conn = c
	return nil
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return nil
}

// waitRsyslog waits until rsyslogd's own log holds its message ending in
// suffix n times (rsyslogd writes "… start" once started and "… rsyslogd was
// HUPed" on each SIGHUP).
func (h *Host) waitRsyslog(ctx context.Context, suffix string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		b, _ := os.ReadFile(h.rsyslogLog())
		if strings.Count(string(b), suffix+"\n") >= n {
			return nil
		}
		select {
		case <-h.Syslog.Done():
			return fmt.Errorf("rsyslogd of %s exited: %v:\n%s", h.Name, h.Syslog.err, tailFile(h.Syslog.LogPath, 20))
		case <-ctx.Done():
			return fmt.Errorf("rsyslogd of %s: no %q message within 15s: %w; it logged:\n%s", h.Name, suffix, ctx.Err(), b)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// logMode is the mode Debian gives /var/log/auth.log.
const logMode = 0o640

// AppendLog appends line to auth.log as is (a newline is added when
// missing), for tests that inject lines no syslog daemon would write.
func (h *Host) AppendLog(line string) error {
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := os.OpenFile(h.LogPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("append to %s: %w", h.LogPath, err)
	}
	// One write with O_APPEND, as rsyslog does: it never splits a line of
	// rsyslog's.
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("append to %s: %w", h.LogPath, err)
	}
	return nil
}

// AppendSyslog logs a message through the host's rsyslogd, as syslog(3)
// sends it for program tag with pid (no "[pid]" when pid is 0) at facility
// auth: rsyslogd stamps it and writes it to auth.log shortly after.
func (h *Host) AppendSyslog(tag string, pid int, msg string) error {
	prog := tag
	if pid > 0 {
		prog += "[" + strconv.Itoa(pid) + "]"
	}
	// <38> = auth.info; the timestamp is syslog(3)'s (rsyslog uses the
	// time of reception).
	dgram := "<38>" + time.Now().Format(time.Stamp) + " " + prog + ": " + msg
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn == nil {
		return fmt.Errorf("syslog of %s: %w", h.Name, os.ErrClosed)
	}
	if _, err := h.conn.Write([]byte(dgram)); err != nil {
		return fmt.Errorf("syslog of %s: %w", h.Name, err)
	}
	return nil
}

// maxRotations is how many rotated files are kept: auth.log.1 … auth.log.N.
const maxRotations = 4

// shiftRotatedLocked renames auth.log.N to auth.log.N+1, oldest first, and
// drops the oldest beyond maxRotations.
func (h *Host) shiftRotatedLocked() error {
	_ = os.Remove(fmt.Sprintf("%s.%d", h.LogPath, maxRotations))
	for i := maxRotations - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", h.LogPath, i)
		if err := os.Rename(from, fmt.Sprintf("%s.%d", h.LogPath, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", from, err)
		}
	}
	return nil
}

// RotateLog rotates auth.log as Debian's logrotate rule for rsyslog does
// (create): auth.log becomes auth.log.1 (older files shift to .2 … .4), a
// new empty auth.log is created, and rsyslogd gets SIGHUP (the postrotate
// script) and reopens it. It returns once rsyslogd has taken the HUP: what
// it logs later goes to the new file (what it had queued before may still
// land in the old one, as on any host).
func (h *Host) RotateLog() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.shiftRotatedLocked(); err != nil {
		return err
	}
	if err := os.Rename(h.LogPath, h.LogPath+".1"); err != nil {
		return fmt.Errorf("rotate %s: %w", h.LogPath, err)
	}
	f, err := os.OpenFile(h.LogPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, logMode)
	if err != nil {
		return fmt.Errorf("rotate %s: create: %w", h.LogPath, err)
	}
	f.Close()
	if err := h.Syslog.Signal(syscall.SIGHUP); err != nil {
		return fmt.Errorf("rotate %s: HUP rsyslogd: %w", h.LogPath, err)
	}
	h.hups++
	return h.waitRsyslog(context.Background(), "] rsyslogd was HUPed", h.hups)
}

// RotateCopyTruncate rotates auth.log as logrotate's copytruncate does:
// its content is copied to auth.log.1, then auth.log is truncated in place;
// rsyslogd keeps its file (opened with O_APPEND, so it continues at the new
// end).
func (h *Host) RotateCopyTruncate() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.shiftRotatedLocked(); err != nil {
		return err
	}
	data, err := os.ReadFile(h.LogPath)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", h.LogPath, err)
	}
	if err := os.WriteFile(h.LogPath+".1", data, logMode); err != nil {
		return fmt.Errorf("rotate %s: copy: %w", h.LogPath, err)
	}
	if err := os.Truncate(h.LogPath, 0); err != nil {
		return fmt.Errorf("rotate %s: truncate: %w", h.LogPath, err)
	}
	return nil
}

// ReadLog returns the current content of auth.log.
func (h *Host) ReadLog() (string, error) {
	b, err := os.ReadFile(h.LogPath)
	return string(b), err
}

// close closes the connection to rsyslogd (which Close stops with the
// other processes).
func (h *Host) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn == nil {
		return nil
	}
	err := h.conn.Close()
	h.conn = nil
	return err
}
