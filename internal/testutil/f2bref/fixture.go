package f2bref

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// stampFile, inside a fixture's directory, holds the key it was made for.
const stampFile = ".f2bref-stamp"

// Fixture returns the directory holding the fixture name, derived from the
// reference tree by generate: generate writes its files into the (empty)
// directory it is given. The result is cached under .cache/f2bfixtures/name
// of the checkout and made again when it is missing, or when the reference
// tree or one of inputs (the generator's own files, e.g. its Python script,
// relative to the test's directory) has changed since.
//
// Without a reference tree the test is skipped, or fails under
// BANFLEET_E2E=1 (see Require); a generator error fails it.
func Fixture(t TB, name string, inputs []string, generate func(tr *Tree, dir string) error) string {
	t.Helper()
	tr := Require(t)
	dir, err := tr.fixture(name, inputs, generate)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return dir
}

func (tr *Tree) fixture(name string, inputs []string, generate func(tr *Tree, dir string) error) (string, error) {
	top, err := moduleRoot()
	if err != nil {
		return "", err
	}
	key, err := tr.key(name, inputs)
	if err != nil {
		return "", err
	}
	cache := filepath.Join(top, ".cache", "f2bfixtures")
	dir := filepath.Join(cache, name)
	// fresh: the cached fixture was made from these very inputs (checked
	// again after generating: another test may have made it meanwhile).
	fresh := func() bool {
		b, err := os.ReadFile(filepath.Join(dir, stampFile))
		return err == nil && string(b) == key
	}
	if fresh() {
		return dir, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cache, name+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := generate(tr, tmp); err != nil {
		return "", fmt.Errorf("generate from %s: %w", tr.Root, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, stampFile), []byte(key), 0o644); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if fresh() {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if fresh() { // another test process made it at the same time
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}

// key identifies what a fixture is made from: the tree (every file of its
// configuration and of its Python package, by name, size and time) and
// the generator's inputs (by content).
func (tr *Tree) key(name string, inputs []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "fixture %s\nroot %s\n", name, tr.Root)
	for _, d := range []string{tr.ConfDir, filepath.Join(tr.PyPath, "fail2ban")} {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if e.Name() == "__pycache__" {
					return filepath.SkipDir
				}
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("fingerprint reference tree: %w", err)
		}
	}
	for _, in := range inputs {
		f, err := os.Open(in)
		if err != nil {
			return "", fmt.Errorf("fixture input: %w", err)
		}
		fmt.Fprintf(h, "input %s\n", in)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("fixture input %s: %w", in, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RunPython runs t.Python(args...) and writes its standard output to the
// file stdout ("" discards it). The error holds Python's standard error.
func (tr *Tree) RunPython(stdout string, args ...string) error {
	cmd := tr.Python(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdout != "" {
		f, err := os.Create(stdout)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout = f
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	return nil
}
