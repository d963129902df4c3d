// Package f2bref locates a reference Fail2Ban (Debian's fail2ban package)
// for compatibility tests and benchmarks: its filter.d, its sample logs and
// fail2ban-regex. The package is normally unpacked, not installed, into
// .cache/fail2ban/root of the checkout by e2e/scripts/fail2ban.sh (run by
// `go tool task test` and `bench`); BANFLEET_FAIL2BAN_ROOT can point at
// another unpacked tree. An installed package is used only when
// BANFLEET_FAIL2BAN_ROOT=/ says so.
//
// Whatever tests derive from the reference (its regexes after its config
// reader, its sample lines, what its code decides on them) is made at test
// time from the tree by Fixture and cached under .cache/f2bfixtures; none
// of it is committed.
package f2bref

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Tree is an unpacked (or installed) fail2ban package.
type Tree struct {
	Root       string // "/" for an installed package
	ConfDir    string // etc/fail2ban
	PyPath     string // the directory holding the fail2ban Python package
	RegexBin   string // usr/bin/fail2ban-regex
	SampleLogs string // fail2ban/tests/files/logs
}

// ErrNotFound says no Fail2Ban tree was found.
var ErrNotFound = errors.New("no fail2ban package found (run e2e/scripts/fail2ban.sh, or set BANFLEET_FAIL2BAN_ROOT)")

// Find returns the Fail2Ban tree BANFLEET_FAIL2BAN_ROOT names, or else the
// checkout's .cache/fail2ban/root. It never falls back to an installed
// package: BANFLEET_FAIL2BAN_ROOT=/ asks for one.
func Find() (*Tree, error) {
	var roots []string
	if r := os.Getenv("BANFLEET_FAIL2BAN_ROOT"); r != "" {
		roots = append(roots, r)
	} else if top, err := moduleRoot(); err == nil {
		roots = append(roots, filepath.Join(top, ".cache", "fail2ban", "root"))
	}
	for _, r := range roots {
		t := &Tree{
			Root:     r,
			ConfDir:  filepath.Join(r, "etc", "fail2ban"),
			PyPath:   filepath.Join(r, "usr", "lib", "python3", "dist-packages"),
			RegexBin: filepath.Join(r, "usr", "bin", "fail2ban-regex"),
		}
		t.SampleLogs = filepath.Join(t.PyPath, "fail2ban", "tests", "files", "logs")
		if fileExists(filepath.Join(t.ConfDir, "filter.d", "sshd.conf")) && fileExists(t.RegexBin) && fileExists(t.SampleLogs) {
			return t, nil
		}
	}
	return nil, ErrNotFound
}

// Regex returns a command running this tree's fail2ban-regex with args,
// with Debian's python3 (the one fail2ban is packaged for).
func (t *Tree) Regex(args ...string) *exec.Cmd {
	cmd := exec.Command("/usr/bin/python3", append([]string{t.RegexBin}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+t.PyPath)
	return cmd
}

// Python returns a command running Debian's python3 (the one fail2ban is
// packaged for) on args with this tree's fail2ban importable and its
// configuration as Fail2Ban's tests' CONFIG_DIR. Site packages are left
// out (-s -S), so nothing installed on the machine is imported, and no
// bytecode is written into the tree.
func (t *Tree) Python(args ...string) *exec.Cmd {
	cmd := exec.Command("/usr/bin/python3", append([]string{"-s", "-S"}, args...)...)
	cmd.Env = append(os.Environ(),
		"PYTHONPATH="+t.PyPath,
		"FAIL2BAN_CONFIG_DIR="+t.ConfDir,
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONNOUSERSITE=1",
	)
	return cmd
}

// TB is the part of testing.TB Require needs.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Require returns the tree, or skips the test — or fails it when
// BANFLEET_E2E=1, as CI runs.
func Require(t TB) *Tree {
	t.Helper()
	tr, err := Find()
	if err != nil {
		if os.Getenv("BANFLEET_E2E") == "1" {
			t.Fatalf("%v", err)
		}
		t.Skipf("%v", err)
	}
	return tr
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
