package tail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

const (
	// On the directory: the followed name appearing, disappearing, being
	// written to.
	dirMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB |
		unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
	// On the open file, whatever its name now (it may have been rotated to
	// auth.log.1 and still be written to).
	fileMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
)

// watcher wakes a Follower up through inotify. A nil *watcher is valid and
// never wakes anyone: the follower then only polls.
//
// watchDir, watchFile, unwatchFile and close are called from the Run
// goroutine only; the reading goroutine shares dirWd with them.
type watcher struct {
	fd   int
	file *os.File // owns fd; closing it stops the reading goroutine
	dir  string
	base string
	log  *slog.Logger

	dirWd  atomic.Int32 // -1 while the directory is not watched
	fileWd int          // -1 while no file is watched

	wake chan struct{} // capacity 1: wake-ups coalesce
	done sync.WaitGroup
}

func newWatcher(dir, base string, log *slog.Logger) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify init: %w", err)
	}
	w := &watcher{
		fd:     fd,
		file:   os.NewFile(uintptr(fd), "inotify"),
		dir:    dir,
		base:   base,
		log:    log,
		fileWd: -1,
		wake:   make(chan struct{}, 1),
	}
	w.dirWd.Store(-1)
	w.watchDir()
	w.done.Add(1)
	go w.loop()
	return w, nil
}

// wakeC returns the channel that receives a value when something relevant
// happened.
func (w *watcher) wakeC() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.wake
}

// watchDir (re)establishes the watch on the directory; cheap when it is
// already in place. A missing directory is retried at the next call.
func (w *watcher) watchDir() {
	if w == nil || w.dirWd.Load() >= 0 {
		return
	}
	wd, err := unix.InotifyAddWatch(w.fd, w.dir, dirMask)
	if err != nil {
		return
	}
	w.dirWd.Store(int32(wd))
}

// watchFile watches the open file itself, by its descriptor so that it is
// exactly this incarnation whatever its name.
func (w *watcher) watchFile(f *os.File) {
	if w == nil {
		return
	}
	w.unwatchFile()
	wd, err := unix.InotifyAddWatch(w.fd, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), fileMask)
	if err != nil {
		// No /proc: the directory watch and polling still see the file.
		w.log.Debug("inotify watch on open file", "err", err)
		return
	}
	w.fileWd = wd
}

func (w *watcher) unwatchFile() {
	if w == nil || w.fileWd < 0 {
		return
	}
	// Fails harmlessly when the kernel already dropped the watch (file gone).
	_, _ = unix.InotifyRmWatch(w.fd, uint32(w.fileWd))
	w.fileWd = -1
}

func (w *watcher) close() {
	if w == nil {
		return
	}
	w.file.Close() // unblocks the Read in loop
	w.done.Wait()
}

func (w *watcher) loop() {
	defer w.done.Done()
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.log.Warn("read inotify events, falling back to polling", "err", err)
			}
			return
		}
		if w.relevant(buf[:n]) {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// relevant reports whether a batch of events concerns the followed file.
func (w *watcher) relevant(b []byte) bool {
	hit := false
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		nameLen := int(binary.NativeEndian.Uint32(b[12:]))
		end := min(len(b), unix.SizeofInotifyEvent+nameLen)
		name := b[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		b = b[end:]

		dirWd := w.dirWd.Load()
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			hit = true // events were lost: look
		case wd == dirWd && mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
			// The directory itself went away: watch the path's directory
			// again once it is back (watchDir, from the Run goroutine).
			if mask&unix.IN_MOVE_SELF != 0 {
				_, _ = unix.InotifyRmWatch(w.fd, uint32(wd))
			}
			w.dirWd.CompareAndSwap(dirWd, -1)
			hit = true
		case wd == dirWd:
			if string(name) == w.base {
				hit = true
			}
		default:
			hit = true // the open file's own watch
		}
	}
	return hit
}
