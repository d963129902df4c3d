package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// DefaultJournalctl is the default for [Options.Journalctl].
	DefaultJournalctl = "journalctl"
	// DefaultPollInterval is the default for [Options.PollInterval].
	DefaultPollInterval = time.Second

	// outputFields are the only fields journalctl is asked for (it adds
	// __CURSOR, __REALTIME_TIMESTAMP, __MONOTONIC_TIMESTAMP and _BOOT_ID).
	outputFields = "MESSAGE,_HOSTNAME,SYSLOG_IDENTIFIER,_COMM,SYSLOG_PID,_PID," +
		"_SOURCE_REALTIME_TIMESTAMP,_SOURCE_MONOTONIC_TIMESTAMP"
)

// Entry is one journal entry as Fail2Ban's systemd backend sees it.
type Entry struct {
	// Time is the entry's _SOURCE_REALTIME_TIMESTAMP, or its
	// __REALTIME_TIMESTAMP when there is none: the time Fail2Ban uses.
	Time time.Time
	// Cursor identifies the entry; pass it as [Options.Cursor] to resume
	// after it.
	Cursor string
	// Line is the entry formatted by [FormatEntry]: "HOST IDENT[PID]: MSG".
	// It points into a buffer reused for the next entry.
	Line []byte
}

// Options configures a [Source]. The zero value follows the system journal
// from now, every entry.
type Options struct {
	// Match is the journalmatch: OR of AND-lists of FIELD=value terms, as
	// [ParseMatch] returns. Empty matches every entry.
	Match [][]string
	// Directory is a journal directory (journalctl --directory); "" with no
	// Files reads the system journal (journalctl --system, Fail2Ban's
	// default of system-only journal files).
	Directory string
	// Files are journal file globs (journalctl --file), an alternative to
	// Directory. journalctl cannot follow explicit files, so they are
	// re-read from the last cursor every PollInterval.
	Files []string
	// Cursor resumes after this entry (a cursor from [Entry] or
	// [Source.Cursor]). "" is a first start, which reads from Since ago.
	// A cursor journalctl would refuse is logged and treated as "".
	Cursor string
	// Since is how far back a first start reads: entries from now-Since
	// on (Fail2Ban's systemd backend starts at now - findtime). 0 reads
	// only entries written from now on.
	Since time.Duration
	// Journalctl is the journalctl binary; "" means DefaultJournalctl
	// looked up in PATH.
	Journalctl string
	// PollInterval is the pause between two reads of Files; 0 means
	// DefaultPollInterval. Unused with Directory or the system journal.
	PollInterval time.Duration
	// MaxField is the longest field value kept, in bytes; longer values
	// (a huge MESSAGE) are cut and counted in Stats.Truncated. 0 means
	// DefaultMaxField.
	MaxField int
	// Logger receives journalctl's stderr and restart reports. nil discards.
	Logger *slog.Logger
	// Stats, if not nil, is updated atomically while running.
	Stats *Stats
}

// Stats counts what a [Source] did. Read it with the atomic methods.
type Stats struct {
	// Entries is the number of entries delivered to the handler.
	Entries atomic.Uint64
	// Starts is the number of journalctl processes started.
	Starts atomic.Uint64
	// Failures is the number of journalctl runs that ended unexpectedly
	// (exit, malformed output) and were restarted.
	Failures atomic.Uint64
	// Truncated is the number of field values cut to MaxField.
	Truncated atomic.Uint64
}

// Validate checks o for contradictions and bad match terms.
func (o *Options) Validate() error {
	if o.Directory != "" && len(o.Files) > 0 {
		return fmt.Errorf("%w: both Directory and Files are set", ErrInvalidOptions)
	}
	for _, f := range o.Files {
		if f == "" {
			return fmt.Errorf("%w: empty Files entry", ErrInvalidOptions)
		}
	}
	if o.Since < 0 {
		return fmt.Errorf("%w: negative Since %v", ErrInvalidOptions, o.Since)
	}
	for _, g := range o.Match {
		for _, term := range g {
			if err := ValidMatchTerm(term); err != nil {
				return err
			}
		}
	}
	return nil
}

// Source follows the systemd journal through a journalctl subprocess and
// delivers entries formatted as Fail2Ban formats them. Create it with [New].
type Source struct {
	opts  Options
	log   *slog.Logger
	stats *Stats

	running atomic.Bool
	mu      sync.Mutex
	cursor  string

	// Tunables, shortened by tests.
	minBackoff  time.Duration
	maxBackoff  time.Duration
	stableAfter time.Duration // a run this long resets the backoff
	waitDelay   time.Duration // after a kill, how long Wait waits for stderr
	now         func() time.Time
	onPass      func() // called after each complete read of Files

	reader *exportReader
	line   []byte
}

// New returns a Source for o. It does not start anything; see [Source.Run].
func New(o Options) *Source {
	s := &Source{
		opts:        o,
		log:         o.Logger,
		stats:       o.Stats,
		cursor:      o.Cursor,
		minBackoff:  250 * time.Millisecond,
		maxBackoff:  30 * time.Second,
		stableAfter: time.Minute,
		waitDelay:   2 * time.Second,
		now:         time.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.stats == nil {
		s.stats = new(Stats)
	}
	if s.opts.Journalctl == "" {
		s.opts.Journalctl = DefaultJournalctl
	}
	if s.opts.PollInterval <= 0 {
		s.opts.PollInterval = DefaultPollInterval
	}
	return s
}

// Cursor returns the cursor of the last entry the handler returned from
// (or Options.Cursor before any): save it to resume after that entry. It is
// safe to call from any goroutine.
func (s *Source) Cursor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor
}

func (s *Source) setCursor(c string) {
	s.mu.Lock()
	s.cursor = c
	s.mu.Unlock()
}

// Run starts journalctl and calls h for every entry, in journal order, until
// ctx ends; it then kills journalctl, waits for it and returns nil. h is
// called synchronously from Run's goroutine; Entry.Line is reused after h
// returns. When journalctl exits or its output cannot be decoded, it is
// restarted from the last cursor after a backoff (250ms doubling to 30s).
//
// Run returns an error at once for invalid Options (ErrInvalidOptions,
// ErrInvalidMatch), when the first journalctl cannot be started (ErrStart),
// when h is nil or when the Source is already running.
func (s *Source) Run(ctx context.Context, h func(Entry)) error {
	if h == nil {
		return ErrNilHandler
	}
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	if err := s.opts.Validate(); err != nil {
		return err
	}
	if c := s.Cursor(); c != "" {
		if err := ValidCursor(c); err != nil {
			s.log.Warn("journal: ignoring saved cursor, starting from the lookback",
				"err", err, "since", s.opts.Since)
			s.setCursor("")
		}
	}
	if s.reader == nil {
		s.reader = newExportReader(nil, s.opts.MaxField)
	}
	// Fixed once: a restart before the first entry must not move it.
	start := s.now().Add(-s.opts.Since)
	follow := len(s.opts.Files) == 0
	backoff := s.minBackoff
	everStarted := false
	for {
		began := s.now()
		n, err := s.runOnce(ctx, s.args(s.Cursor(), start, follow), h)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrStart) {
			if !everStarted {
				return err
			}
		} else {
			everStarted = true
		}
		var wait time.Duration
		if err == nil && !follow {
			if s.onPass != nil {
				s.onPass()
			}
			wait, backoff = s.opts.PollInterval, s.minBackoff
		} else {
			if err == nil {
				err = errors.New("journalctl exited while following")
			}
			s.stats.Failures.Add(1)
			if n > 0 || s.now().Sub(began) >= s.stableAfter {
				backoff = s.minBackoff
			}
			wait, backoff = backoff, min(2*backoff, s.maxBackoff)
			s.log.Warn("journal: journalctl stopped, restarting",
				"err", err, "delay", wait, "delivered", n)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// args builds journalctl's command line.
func (s *Source) args(cursor string, start time.Time, follow bool) []string {
	// --merge: without it --follow implies --boot (only the newest boot
	// in the journal, and an error while the journal is empty) and the
	// system journal is opened local-only; Fail2Ban does neither.
	a := []string{"--output=export", "--output-fields=" + outputFields,
		"--no-pager", "--quiet", "--no-tail", "--merge"}
	if follow {
		a = append(a, "--follow")
	}
	switch {
	case s.opts.Directory != "":
		a = append(a, "--directory="+s.opts.Directory)
	case len(s.opts.Files) > 0:
		for _, f := range s.opts.Files {
			a = append(a, "--file="+f)
		}
	default:
		a = append(a, "--system")
	}
	switch {
	case cursor != "":
		// Inclusive seek, and runOnce skips the entry itself: with
		// --after-cursor journalctl skips one more entry when the
		// cursor's entry has been vacuumed.
		a = append(a, "--cursor="+cursor)
	case start.Unix() > 0:
		us := start.UnixMicro()
		a = append(a, fmt.Sprintf("--since=@%d.%06d", us/1e6, us%1e6))
	}
	sep := false
	for _, g := range s.opts.Match {
		if len(g) == 0 {
			continue
		}
		if !sep {
			a = append(a, "--")
			sep = true
		} else {
			a = append(a, "+")
		}
		a = append(a, g...)
	}
	return a
}

// runOnce runs one journalctl and delivers its entries, skipping the first
// one when it is the entry of the resume cursor. It returns the number of
// entries delivered and why journalctl stopped (nil for a clean exit; also
// nil when ctx ended).
func (s *Source) runOnce(ctx context.Context, args []string, h func(Entry)) (int, error) {
	resume := s.Cursor()
	cmd := exec.CommandContext(ctx, s.opts.Journalctl, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // terminal signals are for the agent, which stops us
		Pdeathsig: syscall.SIGKILL, // do not outlive an agent that dies
	}
	cmd.WaitDelay = s.waitDelay
	stderr := &stderrLog{log: s.log}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStart, err)
	}
	s.log.Debug("journal: starting journalctl", "args", args)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrStart, s.opts.Journalctl, err)
	}
	s.stats.Starts.Add(1)
	waited := false
	defer func() { // h panicked: do not leave journalctl behind
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	er := s.reader
	er.reset(stdout)
	n, rerr := s.pump(ctx, er, resume, h)
	s.stats.Truncated.Add(er.truncated)
	er.truncated = 0
	eof := rerr == nil || errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF)
	if !eof {
		_ = cmd.Process.Kill() // out of step, or our read failed: start over
	}
	werr := cmd.Wait()
	waited = true
	er.reset(nil)
	switch {
	case ctx.Err() != nil:
		return n, nil
	case werr != nil:
		return n, fmt.Errorf("journalctl: %w%s", werr, stderr.last())
	case !eof:
		return n, fmt.Errorf("read journalctl output: %w", rerr)
	case errors.Is(rerr, io.ErrUnexpectedEOF):
		return n, fmt.Errorf("%w: output ended inside an entry", ErrMalformedExport)
	}
	return n, nil
}

// pump delivers the entries er decodes until it fails or ctx ends,
// skipping the first entry if it is the resume cursor's.
func (s *Source) pump(ctx context.Context, er *exportReader, resume string, h func(Entry)) (int, error) {
	skip := resume != ""
	n := 0
	for {
		if err := er.next(); err != nil {
			return n, err
		}
		rec := &er.rec
		cur := rec.get(fCursor)
		if skip {
			skip = false
			if string(cur) == resume {
				continue
			}
		}
		if ctx.Err() != nil {
			return n, nil
		}
		s.line = formatRecord(s.line[:0], rec)
		e := Entry{Time: entryTime(rec), Line: s.line}
		if len(cur) > 0 {
			e.Cursor = string(cur)
		}
		h(e)
		if e.Cursor != "" {
			s.setCursor(e.Cursor)
		}
		n++
		s.stats.Entries.Add(1)
	}
}

// stderrLog logs journalctl's stderr line by line (the first few of each
// run) and remembers the last line for the exit error.
type stderrLog struct {
	log     *slog.Logger
	mu      sync.Mutex
	partial []byte
	lastMsg string
	lines   int
}

const (
	stderrMaxLines = 20
	stderrMaxLine  = 512
)

func (w *stderrLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			if len(w.partial) > stderrMaxLine {
				w.emit(w.partial)
				w.partial = w.partial[:0]
			}
			return len(p), nil
		}
		w.emit(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
}

func (w *stderrLog) emit(line []byte) {
	if len(line) > stderrMaxLine {
		line = line[:stderrMaxLine]
	}
	if len(line) == 0 {
		return
	}
	w.lastMsg = string(line)
	w.lines++
	if w.lines <= stderrMaxLines {
		w.log.Warn("journal: journalctl stderr", "line", w.lastMsg)
	}
}

// last returns ": <last stderr line>" or "".
func (w *stderrLog) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.emit(w.partial)
		w.partial = w.partial[:0]
	}
	if w.lastMsg == "" {
		return ""
	}
	return ": " + w.lastMsg
}
