package tail

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// waitTimeout bounds every wait in these tests; generous for -race on a
// loaded machine, never slept through when things work.
const waitTimeout = 15 * time.Second

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// eventually fails the test if cond does not hold before the deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !waitUntil(waitTimeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
	}
}

type record struct {
	line  string
	start int64
	pos   Position
}

// collector is a Handler that keeps copies of what it is given.
type collector struct {
	mu   sync.Mutex
	recs []record
}

func (c *collector) handle(line []byte, start int64, pos Position) {
	c.mu.Lock()
	c.recs = append(c.recs, record{string(line), start, pos})
	c.mu.Unlock()
}

func (c *collector) records() []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]record(nil), c.recs...)
}

func (c *collector) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.recs))
	for i, r := range c.recs {
		out[i] = r.line
	}
	return out
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

// running is a Follower running in the background.
type running struct {
	f    *Follower
	c    *collector
	stop func() // cancels Run, waits for it, checks it returned nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startFollower runs a follower with a collector until stop or the end of
// the test. pollOnly disables inotify.
func startFollower(t testing.TB, path string, resume *Position, opts Options, pollOnly bool) *running {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	f := New(path, resume, opts)
	f.noInotify = pollOnly
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, c.handle) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err, "Run")
			case <-time.After(waitTimeout):
				t.Fatalf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return &running{f: f, c: c, stop: stop}
}

// waitLooked waits until the follower has looked at the file at least n
// times (so that, for example, its first look is behind us).
func (r *running) waitLooked(t testing.TB, n uint64) {
	t.Helper()
	eventually(t, "follower to look at the file", func() bool { return r.f.Stats().Wakeups.Load() >= n })
}

func (r *running) waitReady(t testing.TB) {
	t.Helper()
	select {
	case <-r.f.Ready():
	case <-time.After(waitTimeout):
		t.Fatalf("follower not ready after %v", waitTimeout)
	}
}

func (r *running) waitOpened(t testing.TB, n uint64) {
	t.Helper()
	eventually(t, "follower to open the file", func() bool { return r.f.Stats().Opens.Load() >= n })
}

func (r *running) waitLines(t testing.TB, n int) {
	t.Helper()
	eventually(t, "lines to be delivered", func() bool { return r.c.count() >= n })
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
}

// fileID returns the device and inode of path.
func fileID(t testing.TB, path string) (dev, ino uint64) {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return uint64(st.Dev), uint64(st.Ino)
}

func posAt(t testing.TB, path string, off int64) *Position {
	t.Helper()
	dev, ino := fileID(t, path)
	return &Position{Dev: dev, Ino: ino, Offset: off}
}
