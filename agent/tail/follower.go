package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// DefaultMaxLine is the default for [Options.MaxLine].
	DefaultMaxLine = 64 << 10
	// DefaultPollInterval is the default for [Options.PollInterval].
	DefaultPollInterval = time.Second

	// readChunk is the least a single read asks for.
	readChunk = 64 << 10
)

// Position identifies a byte offset in one file incarnation.
type Position struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// Offset is the offset of the first byte after the line just delivered:
	// the point to resume from.
	Offset int64 `json:"offset"`
}

// Handler is called synchronously for each complete line, without its
// trailing "\n" or "\r\n". line points into a reused buffer and is valid only
// during the call. start is the offset of the line's first byte in the file
// identified by (pos.Dev, pos.Ino); pos.Offset is the offset just after the
// line's newline. A Handler must not call methods of its Follower other than
// Position.
type Handler func(line []byte, start int64, pos Position)

// Options tunes a [Follower]. The zero value is usable.
type Options struct {
	// MaxLine is the longest line delivered, in bytes before the '\n' (a
	// '\r' before it counts); longer lines are skipped whole and counted
	// in Stats.TooLong. 0 means DefaultMaxLine.
	MaxLine int
	// PollInterval is how often the file is looked at without being woken
	// up by inotify: the safety net, or the only mechanism when inotify is
	// unavailable. 0 means DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives rotation, truncation and error reports. nil discards.
	Logger *slog.Logger
	// Stats, if not nil, is updated atomically while following.
	Stats *Stats
}

// Stats counts what a [Follower] did. All fields are updated atomically and
// may be read at any time, for example by a Prometheus collector.
type Stats struct {
	Lines       atomic.Uint64 // lines delivered to the handler
	Bytes       atomic.Uint64 // bytes read from files
	TooLong     atomic.Uint64 // lines skipped for being longer than MaxLine
	Rotations   atomic.Uint64 // switches to a new file incarnation at the path
	Truncations atomic.Uint64 // restarts from offset 0 because the file shrank
	Opens       atomic.Uint64 // files opened for following
	ReadErrors  atomic.Uint64 // failed reads or stats of an open file
	Wakeups     atomic.Uint64 // looks at the file (inotify wake-ups and polls)
}

// Follower follows one path. Create it with [New]; run it with [Follower.Run].
type Follower struct {
	path, dir, base string
	maxLine         int
	poll            time.Duration
	log             *slog.Logger
	stats           *Stats

	running atomic.Bool
	ready   chan struct{} // closed once the first look at the path is done
	once    sync.Once

	mu  sync.Mutex
	pub Position // last published resume point, guarded by mu

	// Everything below is owned by the goroutine in Run.

	resume      *Position // saved position to honour at the next open
	atEnd       bool      // first open: start at the end of the file
	triedRotate bool      // looked for the rotated incarnation of resume

	file     *os.File
	dev, ino uint64
	readOff  int64 // file offset of buf[w]
	pos      Position

	buf        []byte
	r, w, scan int  // buf[r:w] is unconsumed; buf[r:scan] holds no '\n'
	skipping   bool // discarding the rest of a too-long line
	quiet      bool // ...that is a fragment, not to be counted

	watch     *watcher
	noInotify bool   // tests: poll only
	openErr   string // last open error logged, to log each kind once
}

// New makes a follower for path; it does not touch the file system.
//
// If resume is non-nil and names the file incarnation (dev+ino) that is at
// path when Run starts, with a size >= resume.Offset, following starts at
// resume.Offset. If path holds another incarnation, following starts at
// offset 0 of it, after reading the remainder of the rotated incarnation if
// it is found beside it. With resume nil following starts at the end of the
// file. A missing file is waited for and read from offset 0.
func New(path string, resume *Position, opts Options) *Follower {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stats == nil {
		opts.Stats = new(Stats)
	}
	f := &Follower{
		path:    path,
		dir:     filepath.Dir(path),
		base:    filepath.Base(path),
		maxLine: opts.MaxLine,
		poll:    opts.PollInterval,
		log:     opts.Logger.With("path", path),
		stats:   opts.Stats,
		atEnd:   resume == nil,
		ready:   make(chan struct{}),
	}
	if resume != nil {
		r := *resume
		f.resume = &r
		f.pub = r
	}
	return f
}

// Position returns the resume point after the last delivered line. It is
// safe to call from any goroutine. While Run is delivering a burst it may lag
// behind the handler by up to one read chunk (lines after it would be
// delivered again after a restart, with the same ids); it is exact once Run is
// idle or has returned.
func (f *Follower) Position() Position {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pub
}

// Ready is closed once Run has taken its first look at the path: the file is
// open at its starting point (so a line appended afterwards will be read,
// even on a first run that starts at the end), or it is missing and watched
// for. It does not wait for a backlog (lines after a saved position) to be
// read. It stays open if Run never starts.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

func (f *Follower) markReady() { f.once.Do(func() { close(f.ready) }) }

// Stats returns the counters the follower updates (Options.Stats if one was
// given).
func (f *Follower) Stats() *Stats { return f.stats }

func (f *Follower) publish() {
	f.mu.Lock()
	f.pub = f.pos
	f.mu.Unlock()
}

// Run follows the file until ctx ends and then returns nil. Problems with the
// file (missing, unreadable, rotated, truncated) are logged and retried, not
// returned. Run returns an error only when it cannot run at all: no handler,
// or the follower is already running. Run may be called again after it
// returns; it then resumes from Position.
func (f *Follower) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return fmt.Errorf("follow %s: %w", f.path, ErrNilHandler)
	}
	if !f.running.CompareAndSwap(false, true) {
		return fmt.Errorf("follow %s: %w", f.path, ErrRunning)
	}
	defer f.running.Store(false)

	if f.buf == nil {
		// A whole line of MaxLine bytes plus its newline, and room for one
		// full read after it.
		f.buf = make([]byte, f.maxLine+1+readChunk)
	}
	if !f.noInotify {
		w, err := newWatcher(f.dir, f.base, f.log)
		if err != nil {
			f.log.Info("inotify unavailable, polling", "interval", f.poll, "err", err)
		}
		f.watch = w
	}
	defer func() {
		f.watch.close()
		f.watch = nil
		f.stop()
	}()

	ticker := time.NewTicker(f.poll)
	defer ticker.Stop()
	for {
		f.watch.watchDir()
		f.step(ctx, h)
		f.markReady() // also when step returned early (ctx ended)
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.watch.wakeC():
		case <-ticker.C:
		}
	}
}

// stop closes the open file at the end of Run, remembering where to resume.
func (f *Follower) stop() {
	if f.file == nil {
		return
	}
	f.publish()
	p := f.pos
	f.resume = &p
	f.triedRotate = false
	f.closeFile()
}

// step opens the file if needed, reads everything available, and deals with
// truncation and rotation.
func (f *Follower) step(ctx context.Context, h Handler) {
	defer f.stats.Wakeups.Add(1) // counted once the look is done (tests wait on it)
	if f.file == nil && !f.open() {
		f.markReady()
		return
	}
	// The starting point is fixed: ready, before a backlog is read.
	f.markReady()
	for ctx.Err() == nil {
		if err := f.drain(ctx, h); err != nil {
			f.readFailed(err)
			return
		}
		if ctx.Err() != nil {
			return
		}
		switch f.check() {
		case stay:
			return
		case truncated:
			f.stats.Truncations.Add(1)
			f.log.Info("file truncated, reading it again from the start",
				"ino", f.ino, "offset", f.readOff)
			f.reset(0)
			f.publish()
		case rotated:
			// The path names a new incarnation that has data: the writer
			// has moved on, so whatever it wrote to the old file is there
			// by now. Read it to the end, then switch.
			if err := f.drain(ctx, h); err != nil {
				f.readFailed(err)
				return
			}
			if ctx.Err() != nil {
				return
			}
			f.flushPartial(h)
			f.publish()
			f.stats.Rotations.Add(1)
			f.log.Info("file rotated, switching to the new file",
				"old_ino", f.ino, "old_offset", f.readOff)
			f.closeFile()
			if !f.open() {
				return
			}
		}
	}
}

type verdict int

const (
	stay verdict = iota
	truncated
	rotated
)

// check looks at the open file and at what the path names now.
func (f *Follower) check() verdict {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.file.Fd()), &st); err != nil {
		f.stats.ReadErrors.Add(1)
		f.log.Warn("stat open file", "err", err)
		return stay
	}
	if st.Size < f.readOff {
		return truncated
	}
	if err := unix.Stat(f.path, &st); err != nil {
		// Missing (renamed or deleted, the new one not there yet): the
		// writer may still write to the old file, keep following it.
		return stay
	}
	if uint64(st.Dev) == f.dev && uint64(st.Ino) == f.ino {
		return stay
	}
	if st.Size == 0 {
		// A new file is there but still empty: the writer may not have
		// reopened yet (logrotate creates the file, then signals), so
		// lines may still land in the old one.
		return stay
	}
	return rotated
}

// open opens the path and decides where to start reading. It reports
// whether a file is now open.
func (f *Follower) open() bool {
	atEnd := f.atEnd
	f.atEnd = false // only the file found at the very first look is read from its end

	file, err := os.Open(f.path)
	if err != nil {
		if f.resume != nil && !f.triedRotate {
			// Rotated away while we were down and not recreated yet?
			f.triedRotate = true
			if f.openRotated(*f.resume) {
				return true
			}
		}
		f.openFailed(err)
		return false
	}
	f.openErr = ""
	var st unix.Stat_t
	if err := unix.Fstat(int(file.Fd()), &st); err != nil {
		file.Close()
		f.openFailed(fmt.Errorf("stat: %w", err))
		return false
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		file.Close()
		f.openFailed(fmt.Errorf("%s is a directory", f.path))
		return false
	}
	dev, ino, size := uint64(st.Dev), uint64(st.Ino), st.Size

	var off int64
	var skip bool
	switch {
	case f.resume != nil:
		r := *f.resume
		f.resume = nil
		switch {
		case r.Dev == dev && r.Ino == ino && size >= r.Offset:
			off = r.Offset
		case r.Dev == dev && r.Ino == ino:
			f.stats.Truncations.Add(1)
			f.log.Info("file shorter than the saved position, reading it from the start",
				"ino", ino, "size", size, "saved_offset", r.Offset)
		default:
			if !f.triedRotate {
				f.triedRotate = true
				if f.openRotated(r) {
					file.Close()
					return true
				}
			}
			f.log.Info("file replaced since the saved position, reading the new one from the start",
				"ino", ino, "saved_ino", r.Ino)
		}
	case atEnd:
		off, skip = f.lastLineStart(file, size)
	}
	f.setFile(file, dev, ino, off, skip)
	return true
}

// openRotated looks beside the path for the incarnation r names (auth.log.1,
// auth.log-20240101, ...) and, if it is there, makes it the open file at
// r.Offset. The usual rotation check then drains it and switches to the
// file at the path.
func (f *Follower) openRotated(r Position) bool {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		name := e.Name()
		if name == f.base || !strings.HasPrefix(name, f.base) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(f.dir, name)
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil || uint64(st.Dev) != r.Dev || uint64(st.Ino) != r.Ino {
			continue
		}
		file, err := os.Open(p)
		if err != nil {
			f.log.Warn("open rotated file", "rotated", p, "err", err)
			return false
		}
		if unix.Fstat(int(file.Fd()), &st) != nil || uint64(st.Dev) != r.Dev || uint64(st.Ino) != r.Ino || st.Size < r.Offset {
			file.Close()
			return false
		}
		f.log.Info("file rotated while stopped, reading the rest of the rotated file first",
			"rotated", p, "ino", r.Ino, "offset", r.Offset)
		f.resume = nil
		f.setFile(file, r.Dev, r.Ino, r.Offset, false)
		return true
	}
	return false
}

// lastLineStart returns where to start when starting at the end of a file of
// the given size: the size itself, or the start of an unfinished last line
// (no newline yet) so that it is delivered whole once written. skip reports
// that the start is inside an unfinished line too long to deliver, whose
// rest must be dropped without counting it.
func (f *Follower) lastLineStart(file *os.File, size int64) (off int64, skip bool) {
	if size == 0 {
		return 0, false
	}
	n := int64(min(len(f.buf), f.maxLine+1))
	from := max(0, size-n)
	tail := f.buf[:size-from]
	if n, err := file.ReadAt(tail, from); n < len(tail) || (err != nil && !errors.Is(err, io.EOF)) {
		return size, false
	}
	if tail[len(tail)-1] == '\n' {
		return size, false
	}
	if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
		return from + int64(i) + 1, false
	}
	if from == 0 {
		return 0, false // one unfinished line that is the whole file
	}
	// An unfinished line longer than MaxLine: start after it.
	return size, true
}

// setFile makes file the followed file, reading from off; skip drops the
// unfinished line at off uncounted.
func (f *Follower) setFile(file *os.File, dev, ino uint64, off int64, skip bool) {
	f.file, f.dev, f.ino = file, dev, ino
	f.reset(off)
	f.skipping, f.quiet = skip, skip
	f.publish()
	f.watch.watchFile(file)
	f.stats.Opens.Add(1)
	f.log.Debug("following file", "ino", ino, "offset", off)
}

// reset forgets buffered data and continues at offset off of the open file.
func (f *Follower) reset(off int64) {
	f.readOff = off
	f.r, f.w, f.scan = 0, 0, 0
	f.skipping, f.quiet = false, false
	f.pos = Position{Dev: f.dev, Ino: f.ino, Offset: off}
}

func (f *Follower) closeFile() {
	f.watch.unwatchFile()
	if f.file != nil {
		f.file.Close()
		f.file = nil
	}
	f.r, f.w, f.scan = 0, 0, 0
	f.skipping, f.quiet = false, false
}

func (f *Follower) openFailed(err error) {
	if errors.Is(err, fs.ErrNotExist) {
		return // waiting for the file to appear is normal
	}
	if msg := err.Error(); msg != f.openErr {
		f.openErr = msg
		f.log.Warn("open file to follow, will retry", "err", err)
	}
}

// readFailed gives up the open file after a read error; the next step
// reopens the path and resumes at the current position if it is still the
// same file.
func (f *Follower) readFailed(err error) {
	f.stats.ReadErrors.Add(1)
	f.log.Warn("read followed file, will reopen", "ino", f.ino, "offset", f.pos.Offset, "err", err)
	f.publish()
	p := f.pos
	f.resume = &p
	f.triedRotate = false
	f.closeFile()
}

// drain reads the open file to its current end, delivering complete lines.
func (f *Follower) drain(ctx context.Context, h Handler) error {
	defer f.publish()
	for {
		if f.r > 0 && len(f.buf)-f.w < readChunk {
			n := copy(f.buf, f.buf[f.r:f.w])
			f.scan -= f.r
			f.r, f.w = 0, n
		}
		n, err := f.file.ReadAt(f.buf[f.w:], f.readOff)
		if n > 0 {
			f.w += n
			f.readOff += int64(n)
			f.stats.Bytes.Add(uint64(n))
			f.split(h)
			f.publish()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read at offset %d: %w", f.readOff, err)
		}
		if n == 0 || ctx.Err() != nil {
			return nil
		}
	}
}

// split delivers the complete lines in buf[r:w]. This is the hot path: it
// must not allocate.
func (f *Follower) split(h Handler) {
	var lines, tooLong uint64
	for {
		i := bytes.IndexByte(f.buf[f.scan:f.w], '\n')
		if i < 0 {
			f.scan = f.w
			if !f.skipping && f.w-f.r > f.maxLine {
				f.skipping = true
			}
			if f.skipping {
				f.r = f.w // drop what is buffered of the long line
			}
			break
		}
		nl := f.scan + i
		end := f.readOff - int64(f.w-nl-1) // offset just after the '\n'
		switch {
		case f.skipping:
			f.skipping = false
			if f.quiet {
				f.quiet = false
			} else {
				tooLong++
			}
		case nl-f.r > f.maxLine:
			tooLong++
		default:
			line := f.buf[f.r:nl]
			start := end - int64(len(line)) - 1
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			f.pos.Offset = end
			lines++
			h(line, start, f.pos)
		}
		f.pos.Offset = end
		f.r, f.scan = nl+1, nl+1
	}
	if f.r == f.w {
		f.r, f.w, f.scan = 0, 0, 0
	}
	if lines > 0 {
		f.stats.Lines.Add(lines)
	}
	if tooLong > 0 {
		f.stats.TooLong.Add(tooLong)
		f.log.Debug("skipped lines longer than the maximum", "count", tooLong, "max_line", f.maxLine)
	}
}

// flushPartial delivers a last line without a newline of a file that is
// being left (the writer has moved on to a new file).
func (f *Follower) flushPartial(h Handler) {
	switch {
	case f.skipping:
		if !f.quiet {
			f.stats.TooLong.Add(1)
		}
	case f.w > f.r:
		line := f.buf[f.r:f.w]
		start := f.readOff - int64(len(line))
		if line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		f.pos.Offset = f.readOff
		f.stats.Lines.Add(1)
		h(line, start, f.pos)
	}
	f.pos.Offset = f.readOff
	f.r, f.w, f.scan = 0, 0, 0
	f.skipping, f.quiet = false, false
}
