//go:build !linux

package tail

import (
	"errors"
	"log/slog"
	"os"
)

// watcher is a stub where inotify does not exist: followers only poll.
type watcher struct{}

func newWatcher(dir, base string, log *slog.Logger) (*watcher, error) {
	return nil, errors.ErrUnsupported
}

func (w *watcher) wakeC() <-chan struct{} { return nil }
func (w *watcher) watchDir()              {}
func (w *watcher) watchFile(*os.File)     {}
func (w *watcher) unwatchFile()           {}
func (w *watcher) close()                 {}
