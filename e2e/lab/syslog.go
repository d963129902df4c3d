package lab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogFormat is the line format of a host's auth.log.
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

// Timestamp layouts of the two formats, in local time as rsyslog uses.
const (
	isoLayout     = "2006-01-02T15:04:05.000000-07:00"
	classicLayout = "Jan _2 15:04:05"
)

// SyslogLine formats one message as rsyslog writes it to a file, without
// the trailing newline.
func SyslogLine(f LogFormat, t time.Time, host, tag string, pid int, msg string) string {
	var ts string
	if f == LogFormatClassic {
		ts = t.Format(classicLayout)
	} else {
		ts = t.Format(isoLayout)
	}
	prog := tag
	if pid > 0 {
		prog = fmt.Sprintf("%s[%d]", tag, pid)
	}
	// RSYSLOG_*FileFormat: "%syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%"
	msg = strings.TrimSuffix(msg, "\n")
	if !strings.HasPrefix(msg, " ") {
		msg = " " + msg
	}
	return ts + " " + host + " " + prog + ":" + msg
}

// sshdStderrMessage turns what sshd -e wrote in one write(2) into the
// message sshd would have passed to syslog(3). On stderr sshd ends each
// message with "\r\n" and encodes it with strnvis(VIS_SAFE|VIS_OCTAL),
// which leaves tab, newline, carriage return, backspace and bell as they
// are; for syslog it uses VIS_CSTYLE|VIS_NL|VIS_TAB|VIS_OCTAL, which writes
// them as \t \n \r \b \a. Every other byte is encoded the same way by both.
func sshdStderrMessage(raw []byte) string {
	s := string(raw)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\a':
			b.WriteString(`\a`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\%03o`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// syslogFile is a host's auth.log as rsyslog keeps it: appended to, and
// rotated by renaming or by copy and truncation.
type syslogFile struct {
	path   string
	host   string
	format LogFormat
	now    func() time.Time

	mu sync.Mutex
	f  *os.File // nil once closed
}

// logMode is the mode Debian gives /var/log/auth.log.
const logMode = 0o640

func openSyslogFile(path, host string, format LogFormat) (*syslogFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, logMode)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &syslogFile{path: path, host: host, format: format, now: time.Now, f: f}, nil
}

// message appends one syslog message, stamped now.
func (s *syslogFile) message(tag string, pid int, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := SyslogLine(s.format, s.now(), s.host, tag, pid, msg)
	return s.writeLocked(line + "\n")
}

// raw appends text as is, adding a final newline when missing.
func (s *syslogFile) raw(text string) error {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked(text)
}

func (s *syslogFile) writeLocked(text string) error {
	if s.f == nil {
		return fmt.Errorf("write %s: %w", s.path, os.ErrClosed)
	}
	// One write per line, with O_APPEND, as rsyslog does: a reader never
	// sees half a line unless it reads in the middle of the write.
	if _, err := io.WriteString(s.f, text); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

// maxRotations is how many rotated files are kept: auth.log.1 … auth.log.N.
const maxRotations = 4

// shiftRotatedLocked renames auth.log.N to auth.log.N+1, oldest first, and
// drops the oldest beyond maxRotations.
func (s *syslogFile) shiftRotatedLocked() error {
	_ = os.Remove(fmt.Sprintf("%s.%d", s.path, maxRotations))
	for i := maxRotations - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", s.path, i)
		if err := os.Rename(from, fmt.Sprintf("%s.%d", s.path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", from, err)
		}
	}
	return nil
}

// rotate does what logrotate (create) and rsyslog's HUP do: auth.log
// becomes auth.log.1, a new empty auth.log is created, and the writer
// reopens it, so later lines go to the new file.
func (s *syslogFile) rotate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("rotate %s: %w", s.path, os.ErrClosed)
	}
	if err := s.shiftRotatedLocked(); err != nil {
		return err
	}
	if err := os.Rename(s.path, s.path+".1"); err != nil {
		return fmt.Errorf("rotate %s: %w", s.path, err)
	}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, logMode)
	if err != nil {
		return fmt.Errorf("rotate %s: create: %w", s.path, err)
	}
	old := s.f
	s.f = f
	return old.Close()
}

// copyTruncate does what logrotate's copytruncate does: auth.log is copied
// to auth.log.1 and then truncated in place; the writer keeps its file
// (opened with O_APPEND, so it continues at the new end).
func (s *syslogFile) copyTruncate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("rotate %s: %w", s.path, os.ErrClosed)
	}
	if err := s.shiftRotatedLocked(); err != nil {
		return err
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", s.path, err)
	}
	if err := os.WriteFile(s.path+".1", data, logMode); err != nil {
		return fmt.Errorf("rotate %s: copy: %w", s.path, err)
	}
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("rotate %s: truncate: %w", s.path, err)
	}
	return nil
}

func (s *syslogFile) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
