// Package spool keeps, on disk, the offences an agent could not queue
// while NATS was away, so that it can read on (and decide alone) instead of
// pausing; the publisher sends them once NATS is back.
//
// The spool is one file of JSON lines (wire.Offence) in the agent's state
// directory and a small file with the offset of the next one to send. An
// offence is durable once Sync has returned: the agent syncs the spool
// before it saves log positions past the offence's line, so a crash loses
// nothing. Entries are sent in order; when all are sent the file is emptied.
// A torn or garbled entry (a crash in the middle of a write) is counted and
// skipped. The spool refuses entries beyond its size limit (ErrFull): the
// agent then waits for room in its queue, as without a spool.
package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/banfleet/banfleet/agent/internal/atomicfile"
	"github.com/banfleet/banfleet/shared/wire"
)

// ErrFull is returned by Append when the spool holds its limit.
var ErrFull = errors.New("spool full")

// DefaultMax is the default size limit: about 150,000 offences.
const DefaultMax = 64 << 20

// Stats counts what a spool did; read them with Spool.Stats.
type Stats struct {
	Appended, Sent, Bad uint64
	Entries             int   // waiting to be sent
	Bytes               int64 // waiting to be sent
}

// Spool is an open spool, safe for concurrent use.
type Spool struct {
	path, posPath string
	max           int64

	mu       sync.Mutex
	f        *os.File
	size     int64 // bytes in the file
	read     int64 // offset of the next entry to send
	entries  int   // entries from read on
	synced   bool  // nothing appended or sent since the last Sync
	appended uint64
	sent     uint64
	bad      uint64
}

// Open opens (or creates) the spool at path (its read offset is kept in
// path + ".pos"), refusing entries beyond max bytes (0: DefaultMax).
func Open(path string, max int64) (*Spool, error) {
	if max <= 0 {
		max = DefaultMax
	}
	s := &Spool{path: path, posPath: path + ".pos", max: max, synced: true}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s.f = f
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("spool %s: %w", path, err)
	}
	s.size = st.Size()
	if data, err := os.ReadFile(s.posPath); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil && n >= 0 && n <= s.size {
			s.read = n
		}
	}
	if s.entries, err = s.count(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// count counts the entries from the read offset on (a last one without its
// newline included).
func (s *Spool) count() (int, error) {
	r := io.NewSectionReader(s.f, s.read, s.size-s.read)
	buf := make([]byte, 64<<10)
	n, last := 0, byte('\n')
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if k > 0 {
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("spool %s: %w", s.path, err)
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

// Append adds an offence. It is durable after the next Sync.
func (s *Spool) Append(o *wire.Offence) error {
	data, err := wire.Encode(o)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	data = append(data, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.size+int64(len(data)) > s.max {
		return ErrFull
	}
	if s.size > 0 {
		// A torn last entry (a crash while writing it) must not swallow
		// this one.
		var last [1]byte
		if _, err := s.f.ReadAt(last[:], s.size-1); err == nil && last[0] != '\n' {
			data = append([]byte{'\n'}, data...)
		}
	}
	n, err := s.f.Write(data)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("spool %s: %w", s.path, err)
	}
	s.entries++
	s.appended++
	s.synced = false
	return nil
}

// Pending reports whether entries wait to be sent.
func (s *Spool) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read < s.size
}

// Next returns the next entry to send and the offset after it, to pass to
// Done once it is sent. A bad entry comes back as nil (and is counted): pass
// its offset to Done all the same. ok is false when nothing is pending.
func (s *Spool) Next() (o *wire.Offence, next int64, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.read >= s.size {
		return nil, s.read, false, nil
	}
	line, err := s.lineAt(s.read)
	if err != nil {
		return nil, s.read, false, err
	}
	next = s.read + int64(len(line))
	var e wire.Offence
	if err := wire.Decode(bytes.TrimSuffix(line, []byte{'\n'}), &e); err != nil {
		s.bad++
		return nil, next, true, nil
	}
	return &e, next, true, nil
}

// lineAt reads the entry starting at off, with its newline if it has one.
func (s *Spool) lineAt(off int64) ([]byte, error) {
	var line []byte
	buf := make([]byte, 4096)
	for off < s.size {
		n, err := s.f.ReadAt(buf[:min(int64(len(buf)), s.size-off)], off)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return append(line, buf[:i+1]...), nil
		}
		line = append(line, buf[:n]...)
		off += int64(n)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("spool %s: %w", s.path, err)
		}
		if len(line) > wire.MaxMessage+1 {
			return line, nil // garbage: skipped as one bad entry
		}
	}
	return line, nil
}

// Done marks the entries before next as sent. When none is left the file
// is emptied.
func (s *Spool) Done(next int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if next <= s.read || next > s.size {
		return
	}
	s.read = next
	s.entries = max(0, s.entries-1)
	s.sent++
	s.synced = false
	if s.read == s.size {
		// Emptied: the recorded offset goes back to 0 first, so that a
		// crash cannot leave it pointing into entries appended afterwards.
		if atomicfile.Write(s.posPath, []byte("0\n")) == nil && s.f.Truncate(0) == nil {
			s.read, s.size, s.entries = 0, 0, 0
		}
	}
}

// Sync makes what was appended durable and records how far entries were
// sent.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.synced {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("spool %s: %w", s.path, err)
	}
	if err := atomicfile.Write(s.posPath, []byte(strconv.FormatInt(s.read, 10)+"\n")); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.synced = true
	return nil
}

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Appended: s.appended, Sent: s.sent, Bad: s.bad, Entries: s.entries, Bytes: s.size - s.read}
}

// Close syncs and closes the spool.
func (s *Spool) Close() error {
	err := s.Sync()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
