package tail

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// modes runs a test with inotify and with polling only.
var modes = []struct {
	name     string
	pollOnly bool
	opts     Options
}{
	{name: "inotify", opts: Options{PollInterval: time.Hour}}, // only inotify can wake it
	{name: "poll", pollOnly: true, opts: Options{PollInterval: 5 * time.Millisecond}},
}

func TestStartingPoint(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the directory before the follower starts and
		// returns the saved position to resume from.
		setup func(t *testing.T, path string) *Position
		// waitOpen: the follower opens a file at start (else it only looks).
		waitOpen bool
		// write runs once the follower has looked.
		write func(t *testing.T, path string)
		want  []string
	}{
		{
			name:     "first run starts at the end",
			setup:    func(t *testing.T, path string) *Position { writeFile(t, path, "old1\nold2\n"); return nil },
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "new1\nnew2\n") },
			want:     []string{"new1", "new2"},
		},
		{
			name:     "first run on an empty file",
			setup:    func(t *testing.T, path string) *Position { writeFile(t, path, ""); return nil },
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "a\n") },
			want:     []string{"a"},
		},
		{
			name:     "first run delivers an unfinished last line whole",
			setup:    func(t *testing.T, path string) *Position { writeFile(t, path, "old\npart"); return nil },
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "ial\nnext\n") },
			want:     []string{"partial", "next"},
		},
		{
			name:     "first run on a file that is one unfinished line",
			setup:    func(t *testing.T, path string) *Position { writeFile(t, path, "part"); return nil },
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "ial\n") },
			want:     []string{"partial"},
		},
		{
			name: "first run drops the rest of an unfinished too-long line uncounted",
			setup: func(t *testing.T, path string) *Position {
				writeFile(t, path, "old\n"+strings.Repeat("x", 2*DefaultMaxLine))
				return nil
			},
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "xxx\nnext\n") },
			want:     []string{"next"},
		},
		{
			name: "resume in the same file",
			setup: func(t *testing.T, path string) *Position {
				writeFile(t, path, "a\nb\nc\n")
				return posAt(t, path, 2)
			},
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "d\n") },
			want:     []string{"b", "c", "d"},
		},
		{
			name: "resume at the end of the same file",
			setup: func(t *testing.T, path string) *Position {
				writeFile(t, path, "a\nb\n")
				return posAt(t, path, 4)
			},
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "c\n") },
			want:     []string{"c"},
		},
		{
			name: "resume, file truncated while stopped",
			setup: func(t *testing.T, path string) *Position {
				writeFile(t, path, "aaaa\nbbbb\n")
				p := posAt(t, path, 10)
				require.NoError(t, os.Truncate(path, 0))
				appendFile(t, path, "c\n")
				return p
			},
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "d\n") },
			want:     []string{"c", "d"},
		},
		{
			name: "resume, file replaced while stopped",
			setup: func(t *testing.T, path string) *Position {
				writeFile(t, path, "a\nb\n")
				p := posAt(t, path, 2)
				// Moved out of sight (and kept, so the inode is not reused).
				require.NoError(t, os.Rename(path, filepath.Join(filepath.Dir(path), "elsewhere")))
				writeFile(t, path, "x\ny\n")
				return p
			},
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "z\n") },
			want:     []string{"x", "y", "z"},
		},
		{
			name: "resume, rotated while stopped: rest of the rotated file first",
			setup: func(t *testing.T, path string) *Position {
				writeFile(t, path, "a\nb\n")
				p := posAt(t, path, 2)
				appendFile(t, path, "c\n")
				require.NoError(t, os.Rename(path, path+".1"))
				writeFile(t, path, "n1\n")
				return p
			},
			waitOpen: true,
			write:    func(t *testing.T, path string) { appendFile(t, path, "n2\n") },
			want:     []string{"b", "c", "n1", "n2"},
		},
		{
			name: "resume, rotated while stopped, new file not there yet",
			setup: func(t *testing.T, path string) *Position {
				writeFile(t, path, "a\nb\n")
				p := posAt(t, path, 2)
				require.NoError(t, os.Rename(path, path+"-20240101"))
				return p
			},
			waitOpen: true,
			write: func(t *testing.T, path string) {
				appendFile(t, path+"-20240101", "c\n") // writer not reopened yet
				appendFile(t, path, "n1\n")
			},
			want: []string{"b", "c", "n1"},
		},
		{
			name:  "missing file is read from the start when it appears",
			setup: func(t *testing.T, path string) *Position { return nil },
			write: func(t *testing.T, path string) { appendFile(t, path, "a\nb\n") },
			want:  []string{"a", "b"},
		},
		{
			name: "missing file with a saved position is read from the start",
			setup: func(t *testing.T, path string) *Position {
				return &Position{Dev: 1, Ino: 1, Offset: 100}
			},
			write: func(t *testing.T, path string) { appendFile(t, path, "a\nb\n") },
			want:  []string{"a", "b"},
		},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "app.log")
					resume := tt.setup(t, path)
					r := startFollower(t, path, resume, m.opts, m.pollOnly)
					// Ready is the promise the agent relies on: once it is
					// closed, the starting point is fixed and anything
					// written after it is delivered.
					r.waitReady(t)
					if tt.waitOpen {
						require.NotZero(t, r.f.Stats().Opens.Load(), "file open when Ready")
					} else {
						require.Zero(t, r.f.Stats().Opens.Load(), "nothing to open when Ready")
					}
					tt.write(t, path)
					r.waitLines(t, len(tt.want))
					r.stop()
					require.Equal(t, tt.want, r.c.lines())
					checkRecords(t, r.c.records())
					recs := r.c.records()
					require.Equal(t, recs[len(recs)-1].pos, r.f.Position(), "Position after the last line")
					require.Zero(t, r.f.Stats().TooLong.Load())
				})
			}
		})
	}
}

// checkRecords checks what any sequence of deliveries must satisfy: the
// position is just after the line (after its "\n", "\r\n", or, for the last
// line of a file left behind, its last byte), and within one file
// incarnation starts only grow, so (ino, start) is unique there. (Inode
// numbers are reused once a deleted file is closed, so across incarnations
// it is not.)
func checkRecords(t *testing.T, recs []record) {
	t.Helper()
	for i, r := range recs {
		if d := r.pos.Offset - r.start - int64(len(r.line)); d < 0 || d > 2 {
			t.Fatalf("record %d %q: start %d, pos %+v: not just after the line", i, r.line, r.start, r.pos)
		}
		if i == 0 {
			continue
		}
		prev := recs[i-1]
		if prev.pos.Dev == r.pos.Dev && prev.pos.Ino == r.pos.Ino && r.start < prev.pos.Offset {
			t.Fatalf("record %d %q starts at %d, before the end of record %d (%+v)", i, r.line, r.start, i-1, prev.pos)
		}
	}
}

func TestLinesAsBytes(t *testing.T) {
	tests := []struct {
		name string
		raw  string // as written
		want string // as delivered
	}{
		{"plain", "hello\n", "hello"},
		{"crlf trimmed", "hello\r\n", "hello"},
		{"only the last cr trimmed", "a\r\r\n", "a\r"},
		{"cr inside kept", "a\rb\n", "a\rb"},
		{"empty line", "\n", ""},
		{"empty crlf line", "\r\n", ""},
		{"nul bytes", "a\x00b\x00\n", "a\x00b\x00"},
		{"invalid utf-8", "\xff\xfe\xc3\x28 login\n", "\xff\xfe\xc3\x28 login"},
		{"all byte values but newline", allBytesButNewline() + "\n", allBytesButNewline()},
	}
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, "")
	r := startFollower(t, path, nil, Options{}, false)
	r.waitOpened(t, 1)
	var raw strings.Builder
	for _, tt := range tests {
		raw.WriteString(tt.raw)
	}
	appendFile(t, path, raw.String())
	r.waitLines(t, len(tests))
	r.stop()

	recs := r.c.records()
	require.Len(t, recs, len(tests))
	dev, ino := fileID(t, path)
	off := int64(0)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, recs[i].line)
			require.Equal(t, off, recs[i].start, "start")
			require.Equal(t, Position{Dev: dev, Ino: ino, Offset: off + int64(len(tt.raw))}, recs[i].pos)
		})
		off += int64(len(tt.raw))
	}
	require.Equal(t, uint64(len(tests)), r.f.Stats().Lines.Load())
	require.Equal(t, uint64(off), r.f.Stats().Bytes.Load())
}

func allBytesButNewline() string {
	var b []byte
	for c := range 256 {
		if c != '\n' {
			b = append(b, byte(c))
		}
	}
	return string(b)
}

func TestTooLongLines(t *testing.T) {
	tests := []struct {
		name    string
		maxLine int
		chunks  []string // written one after the other, each waited for
		want    []string
		tooLong uint64
	}{
		{
			name:   "1 MiB line skipped while the next line arrives",
			chunks: []string{"before\n", strings.Repeat("x", 256<<10), strings.Repeat("y", 512<<10), strings.Repeat("z", 256<<10) + "\nafter\n"},
			want:   []string{"before", "after"},
			// default MaxLine (64 KiB)
			tooLong: 1,
		},
		{
			name:    "1 MiB line in one write",
			chunks:  []string{"before\n" + strings.Repeat("x", 1<<20) + "\nafter\n"},
			want:    []string{"before", "after"},
			tooLong: 1,
		},
		{
			name:    "exactly MaxLine is delivered, one more is skipped",
			maxLine: 10,
			chunks:  []string{"0123456789\n", "0123456789a\n", "ok\n"},
			want:    []string{"0123456789", "ok"},
			tooLong: 1,
		},
		{
			name:    "partial line grows past MaxLine",
			maxLine: 10,
			chunks:  []string{"01234", "56789", "abc", "def\nok\n"},
			want:    []string{"ok"},
			tooLong: 1,
		},
		{
			name:    "several long lines in a row",
			maxLine: 10,
			chunks:  []string{strings.Repeat("x", 50) + "\n" + strings.Repeat("y", 11) + "\n" + "a\n" + strings.Repeat("z", 30), "\nb\n"},
			want:    []string{"a", "b"},
			tooLong: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			writeFile(t, path, "")
			r := startFollower(t, path, nil, Options{MaxLine: tt.maxLine}, false)
			r.waitOpened(t, 1)
			var written uint64
			for _, c := range tt.chunks {
				appendFile(t, path, c)
				written += uint64(len(c))
				eventually(t, "chunk to be read", func() bool { return r.f.Stats().Bytes.Load() >= written })
			}
			r.waitLines(t, len(tt.want))
			eventually(t, "too-long count", func() bool { return r.f.Stats().TooLong.Load() >= tt.tooLong })
			r.stop()
			require.Equal(t, tt.want, r.c.lines())
			require.Equal(t, tt.tooLong, r.f.Stats().TooLong.Load())
			checkRecords(t, r.c.records())
			maxLine := orDefault(tt.maxLine, DefaultMaxLine)
			require.Equal(t, maxLine+1+readChunk, cap(r.f.buf), "the buffer never grows")
			require.Equal(t, int64(written), r.f.Position().Offset, "the resume point is past the skipped lines")
		})
	}
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// numbered is a line of about 120 bytes carrying n.
func numbered(n int) string {
	return fmt.Sprintf("%08d 2024-01-02T03:04:05Z host sshd[4242]: Failed password for invalid user admin from 203.0.113.7 port 2222\n", n)
}

func lineNumber(t *testing.T, line string) int {
	t.Helper()
	n, err := strconv.Atoi(line[:8])
	require.NoError(t, err, "line %q", line)
	return n
}

// checkSequence checks the lines are numbered 0..n-1, each once, in order.
func checkSequence(t *testing.T, lines []string, n int) {
	t.Helper()
	for i, l := range lines {
		if got := lineNumber(t, l); got != i {
			t.Fatalf("line %d is number %d (%d lines delivered, want %d)", i, got, len(lines), n)
		}
	}
	require.Len(t, lines, n)
}

func TestRotationWhileWriting(t *testing.T) {
	const (
		total     = 12000
		rotations = 4
		every     = total / (rotations + 1)
	)
	// rotate performs one rotation and returns the file the writer uses next.
	type rotateFunc func(t *testing.T, path string, k int, old *os.File, write func(*os.File)) *os.File
	create := func(t *testing.T, path string) *os.File {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			panic(err)
		}
		return f
	}
	rename := func(path string, k int) string {
		to := path + "." + strconv.Itoa(k)
		if err := os.Rename(path, to); err != nil {
			panic(err)
		}
		return to
	}
	tests := []struct {
		name   string
		rotate rotateFunc
	}{
		{"rename and create", func(t *testing.T, path string, k int, old *os.File, write func(*os.File)) *os.File {
			rename(path, k)
			f := create(t, path)
			old.Close()
			return f
		}},
		{"rename, writer keeps writing to the old file, then create", func(t *testing.T, path string, k int, old *os.File, write func(*os.File)) *os.File {
			rename(path, k)
			for range 50 {
				write(old)
			}
			f := create(t, path)
			old.Close()
			return f
		}},
		{"create, writer keeps writing to the old file until HUP", func(t *testing.T, path string, k int, old *os.File, write func(*os.File)) *os.File {
			rename(path, k)
			f := create(t, path) // empty: the follower must stay on the old file
			for range 50 {
				write(old)
			}
			old.Close()
			return f
		}},
		{"rotated file deleted at once", func(t *testing.T, path string, k int, old *os.File, write func(*os.File)) *os.File {
			to := rename(path, k)
			f := create(t, path)
			old.Close()
			if err := os.Remove(to); err != nil {
				panic(err)
			}
			return f
		}},
		{"deleted and recreated", func(t *testing.T, path string, k int, old *os.File, write func(*os.File)) *os.File {
			if err := os.Remove(path); err != nil {
				panic(err)
			}
			f := create(t, path)
			old.Close()
			return f
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "app.log")
					writeFile(t, path, "before the follower started\n")
					r := startFollower(t, path, nil, m.opts, m.pollOnly)
					r.waitOpened(t, 1)

					n := 0
					write := func(f *os.File) {
						if _, err := f.WriteString(numbered(n)); err != nil {
							panic(err)
						}
						n++
					}
					writerDone := make(chan error, 1)
					go func() {
						f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
						if err != nil {
							writerDone <- err
							return
						}
						k := 0
						for n < total {
							if n > 0 && n%every == 0 && k < rotations {
								// Rotations are hours apart in real life: the
								// follower has switched to (opened) the current
								// file before the next one.
								if !waitUntil(waitTimeout, func() bool { return r.f.Stats().Opens.Load() >= uint64(k+1) }) {
									writerDone <- fmt.Errorf("rotation %d not seen", k)
									return
								}
								k++
								f = tt.rotate(t, path, k, f, write)
							}
							write(f)
						}
						writerDone <- f.Close()
					}()
					select {
					case err := <-writerDone:
						require.NoError(t, err)
					case <-time.After(2 * waitTimeout):
						t.Fatal("writer stuck")
					}
					r.waitLines(t, total)
					r.stop()
					checkSequence(t, r.c.lines(), total)
					checkRecords(t, r.c.records())
					require.Equal(t, uint64(rotations), r.f.Stats().Rotations.Load())
					require.Zero(t, r.f.Stats().Truncations.Load())
				})
			}
		})
	}
}

func TestCopyTruncate(t *testing.T) {
	tests := []struct {
		name       string
		before     string
		waitDetect bool // wait for the truncation to be seen before writing again
		after      string
		want       []string
	}{
		{"truncated, then written", "1\n2\n3\n", true, "4\n5\n", []string{"1", "2", "3", "4", "5"}},
		{"truncated and rewritten shorter at once", "1111\n2222\n3333\n", false, "4\n", []string{"1111", "2222", "3333", "4"}},
		{"unfinished line dropped with the old content", "1\n2\npart", true, "3\n", []string{"1", "2", "3"}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "app.log")
					writeFile(t, path, "")
					r := startFollower(t, path, nil, m.opts, m.pollOnly)
					r.waitOpened(t, 1)
					appendFile(t, path, tt.before)
					eventually(t, "first content read", func() bool {
						return r.f.Stats().Bytes.Load() == uint64(len(tt.before))
					})
					// copytruncate: copy, then truncate in place.
					data, err := os.ReadFile(path)
					require.NoError(t, err)
					writeFile(t, path+".1", string(data))
					require.NoError(t, os.Truncate(path, 0))
					if tt.waitDetect {
						eventually(t, "truncation seen", func() bool { return r.f.Stats().Truncations.Load() == 1 })
					}
					appendFile(t, path, tt.after)
					r.waitLines(t, len(tt.want))
					r.stop()
					require.Equal(t, tt.want, r.c.lines())
					require.Equal(t, uint64(1), r.f.Stats().Truncations.Load())
					require.Zero(t, r.f.Stats().Rotations.Load())
					require.Equal(t, int64(len(tt.after)), r.f.Position().Offset)
				})
			}
		})
	}
}

func TestAppearsAndReappears(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, r *running, path string)
		want []string
	}{
		{
			name: "file appears later",
			run: func(t *testing.T, r *running, path string) {
				r.waitLooked(t, 1)
				appendFile(t, path, "a\nb\n")
			},
			want: []string{"a", "b"},
		},
		{
			name: "directory and file appear later",
			run: func(t *testing.T, r *running, path string) {
				looked := r.f.Stats().Wakeups.Load()
				require.NoError(t, os.Remove(filepath.Dir(path)))
				r.waitLooked(t, looked+1)
				require.NoError(t, os.Mkdir(filepath.Dir(path), 0o755))
				appendFile(t, path, "a\nb\n")
			},
			want: []string{"a", "b"},
		},
		{
			name: "deleted, recreated empty, written later",
			run: func(t *testing.T, r *running, path string) {
				writeFile(t, path, "")
				r.waitOpened(t, 1)
				appendFile(t, path, "a\n")
				r.waitLines(t, 1)
				looked := r.f.Stats().Wakeups.Load()
				require.NoError(t, os.Remove(path))
				writeFile(t, path, "")
				r.waitLooked(t, looked+1)
				appendFile(t, path, "b\nc\n")
			},
			want: []string{"a", "b", "c"},
		},
		{
			name: "deleted, recreated much later",
			run: func(t *testing.T, r *running, path string) {
				writeFile(t, path, "")
				r.waitOpened(t, 1)
				appendFile(t, path, "a\nlast")
				r.waitLines(t, 1)
				looked := r.f.Stats().Wakeups.Load()
				require.NoError(t, os.Remove(path))
				r.waitLooked(t, looked+1)
				appendFile(t, path, "b\n")
			},
			want: []string{"a", "last", "b"},
		},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					path := filepath.Join(t.TempDir(), "logs", "app.log")
					require.NoError(t, os.Mkdir(filepath.Dir(path), 0o755))
					opts := m.opts
					if strings.Contains(tt.name, "directory") {
						// No directory to watch: only polling can see it come.
						opts.PollInterval = 5 * time.Millisecond
					}
					r := startFollower(t, path, nil, opts, m.pollOnly)
					tt.run(t, r, path)
					r.waitLines(t, len(tt.want))
					r.stop()
					require.Equal(t, tt.want, r.c.lines())
					checkRecords(t, r.c.records())
				})
			}
		})
	}
}

// TestRestartResumes stops and restarts a follower, through a saved State,
// while lines are being written and while it is down: every line is
// delivered exactly once.
func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	stateFile := filepath.Join(dir, "state.json")
	writeFile(t, path, "history, before the first run\n")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	defer w.Close()
	n := 0
	writeN := func(k int) {
		for range k {
			if _, err := w.WriteString(numbered(n)); err != nil {
				panic(err)
			}
			n++
		}
	}

	var got []string
	for run := range 4 {
		st, err := LoadState(stateFile)
		require.NoError(t, err)
		if run == 0 {
			require.Nil(t, st.Get(path), "first run")
		}
		r := startFollower(t, path, st.Get(path), Options{}, false)
		r.waitOpened(t, 1)
		if run == 3 {
			r.waitLines(t, n-len(got))
			r.stop()
			got = append(got, r.c.lines()...)
			break
		}
		backlog := n - len(got) // written while stopped
		writeN(1000)
		r.waitLines(t, backlog+500)
		// Stop while a writer is busy.
		done := make(chan struct{})
		go func() { writeN(5000); close(done) }()
		r.waitLines(t, backlog+1100)
		r.stop()
		<-done
		got = append(got, r.c.lines()...)
		st.Set(path, r.f.Position())
		require.NoError(t, st.Save())
		writeN(300) // while stopped
	}
	checkSequence(t, got, n)
}

func TestRunReturnsWhenCancelled(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, path string) *Position
		pollOnly bool
		// cancelIn: the handler cancels on its first line; else the test
		// cancels once the follower has looked.
		cancelIn bool
	}{
		{name: "following an idle file", setup: func(t *testing.T, path string) *Position { writeFile(t, path, "a\n"); return nil }},
		{name: "waiting for a missing file", setup: func(t *testing.T, path string) *Position { return nil }},
		{name: "polling only", pollOnly: true, setup: func(t *testing.T, path string) *Position { writeFile(t, path, "a\n"); return nil }},
		{
			name: "in the middle of a large backlog",
			setup: func(t *testing.T, path string) *Position {
				writeFile(t, path, strings.Repeat(numbered(1), 200_000))
				return posAt(t, path, 0)
			},
			cancelIn: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			f := New(path, tt.setup(t, path), Options{PollInterval: time.Hour, Logger: testLogger(t)})
			f.noInotify = tt.pollOnly
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			lines := 0
			done := make(chan error, 1)
			go func() {
				done <- f.Run(ctx, func([]byte, int64, Position) {
					lines++
					if tt.cancelIn {
						cancel()
					}
				})
			}()
			if !tt.cancelIn {
				eventually(t, "follower to look", func() bool { return f.Stats().Wakeups.Load() >= 1 })
				cancel()
			}
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			if tt.cancelIn {
				require.Less(t, lines, 200_000, "Run stopped before the end of the backlog")
				require.Equal(t, int64(lines*len(numbered(1))), f.Position().Offset)
			}
		})
	}
}

func TestRunMisuse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	f := New(path, nil, Options{})
	err := f.Run(context.Background(), nil)
	require.ErrorIs(t, err, ErrNilHandler)

	r := startFollower(t, path, nil, Options{}, false)
	r.waitLooked(t, 1)
	err = r.f.Run(context.Background(), func([]byte, int64, Position) {})
	require.ErrorIs(t, err, ErrRunning)
	require.ErrorContains(t, err, path)
}

// TestRunAgain checks that a follower can be run again after Run returned
// and resumes where it stopped.
func TestRunAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, "old\n")
	f := New(path, nil, Options{Logger: testLogger(t)})
	c := &collector{}
	for i, line := range []string{"a", "b"} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		opened := f.Stats().Opens.Load()
		go func() { done <- f.Run(ctx, c.handle) }()
		eventually(t, "open", func() bool { return f.Stats().Opens.Load() > opened })
		if i == 1 {
			appendFile(t, path, "between\n") // written while stopped
		}
		appendFile(t, path, line+"\n")
		eventually(t, "line", func() bool { return c.count() == 2*i+1 })
		cancel()
		require.NoError(t, <-done)
	}
	require.Equal(t, []string{"a", "between", "b"}, c.lines())
}

// TestLatency checks that inotify, not polling, delivers lines: with an hour
// between polls every line must arrive within a fraction of a second.
func TestLatency(t *testing.T) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("no inotify here: %v", err)
	}
	unix.Close(fd)

	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, "")
	r := startFollower(t, path, nil, Options{PollInterval: time.Hour}, false)
	r.waitOpened(t, 1)
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	defer w.Close()

	const n = 200
	var worst, sum time.Duration
	for i := range n {
		t0 := time.Now()
		_, err := w.WriteString(numbered(i))
		require.NoError(t, err)
		eventually(t, "line delivered", func() bool { return r.c.count() == i+1 })
		d := time.Since(t0)
		sum += d
		worst = max(worst, d)
	}
	t.Logf("latency over %d lines: mean %v, worst %v", n, sum/n, worst)
	require.Less(t, worst, 2*time.Second, "lines are delivered by inotify, not the hourly poll")
}

// TestHotPathDoesNotAllocate reads a file region through drain (read,
// split, handler call, stats, publish) and requires zero allocations.
func TestHotPathDoesNotAllocate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	var content bytes.Buffer
	for i := range 2000 {
		content.WriteString(numbered(i))
		if i%100 == 0 {
			content.WriteString(strings.Repeat("x", 200) + "\n") // too long
		}
	}
	writeFile(t, path, content.String())
	file, err := os.Open(path)
	require.NoError(t, err)
	defer file.Close()

	f := New(path, nil, Options{MaxLine: 150})
	f.buf = make([]byte, f.maxLine+1+readChunk)
	f.file = file
	var sink int64
	h := func(line []byte, start int64, pos Position) { sink += int64(len(line)) + start + pos.Offset }
	ctx := context.Background()
	allocs := testing.AllocsPerRun(20, func() {
		f.reset(0)
		if err := f.drain(ctx, h); err != nil {
			panic(err)
		}
	})
	require.Zero(t, allocs, "allocations per pass over %d lines", 2000)
	require.Equal(t, int64(content.Len()), f.Position().Offset)
	require.NotZero(t, sink)
}

func TestReadErrorsAreRetried(t *testing.T) {
	// A directory at the path cannot be read as a log; it is reported and
	// retried, and a real file replacing it is then followed from 0.
	path := filepath.Join(t.TempDir(), "app.log")
	require.NoError(t, os.Mkdir(path, 0o755))
	r := startFollower(t, path, nil, Options{PollInterval: 5 * time.Millisecond}, false)
	r.waitLooked(t, 2)
	require.NoError(t, os.Remove(path))
	appendFile(t, path, "a\n")
	r.waitLines(t, 1)
	r.stop()
	require.Equal(t, []string{"a"}, r.c.lines())
}

// Ready does not wait for a backlog: with the handler stuck on the first
// line of what a saved position left to read, the follower is ready.
func TestReadyBeforeBacklog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, "a\nb\nc\n")
	f := New(path, posAt(t, path, 0), Options{Logger: testLogger(t)})
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, func([]byte, int64, Position) { <-release })
	}()
	select {
	case <-f.Ready():
	case <-time.After(waitTimeout):
		t.Fatal("not ready while the backlog is being handled")
	}
	close(release)
	cancel()
	require.NoError(t, <-done)
}
