// Package atomicfile writes the agent's state files so that after a crash
// each holds either its previous or its new content, never a mix.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data: a temporary file (mode 0600) in the same
// directory, fsync, rename over path, fsync of the directory.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed = true
	if d, err := os.Open(dir); err == nil {
		// Make the rename itself durable. Some file systems refuse to
		// fsync a directory; the file is still consistent then.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// SetAside moves an unreadable state file out of the way (to path + ".bad",
// kept for a person to look at) so the agent can start without it, and
// returns where it went.
func SetAside(path string) (string, error) {
	bad := path + ".bad"
	if err := os.Rename(path, bad); err != nil {
		return "", fmt.Errorf("set aside %s: %w", path, err)
	}
	return bad, nil
}
