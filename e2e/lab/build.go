package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// Binaries are the paths of the banfleet programs the lab runs.
type Binaries struct {
	Agent string // banfleet-agent
	Coord string // coord (daemon with `serve`, and the admin CLI)
}

// IsZero reports whether no binary is set.
func (b Binaries) IsZero() bool { return b.Agent == "" && b.Coord == "" }

// The binaries are built once per process (one `go test` package binary or
// one demo run), into a directory removed by RemoveBuild.
var built struct {
	once sync.Once
	dir  string
	bins Binaries
	err  error
}

// Build builds banfleet-agent and coord once per process and returns their
// paths; a build failure fails the test. Call RemoveBuild from TestMain to
// delete them afterwards.
func Build(t TB) Binaries {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", fmt.Sprintf("bf%d-bin-", os.Getpid()))
		if err != nil {
			built.err = fmt.Errorf("create build dir: %w", err)
			return
		}
		built.dir = dir
		if err := os.WriteFile(filepath.Join(dir, markerFile), nil, 0o644); err != nil {
			built.err = fmt.Errorf("write build marker: %w", err)
			return
		}
		start := time.Now()
		built.bins, built.err = BuildBinaries(dir)
		if built.err == nil {
			t.Logf("lab: built banfleet binaries in %s (%s)", dir, time.Since(start).Round(time.Millisecond))
		}
	})
	if built.err != nil {
		t.Fatalf("build banfleet binaries: %v", built.err)
	}
	return built.bins
}

// RemoveBuild deletes the directory Build built into, if any.
func RemoveBuild() error {
	if built.dir == "" {
		return nil
	}
	return os.RemoveAll(built.dir)
}

// BuildBinaries builds ./agent/cmd/banfleet-agent and
// ./coordinator/cmd/coord of the module into dir with `go build`.
func BuildBinaries(dir string) (Binaries, error) {
	root, err := ModuleRoot()
	if err != nil {
		return Binaries{}, err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return Binaries{}, fmt.Errorf("find the go command: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-buildvcs=auto", "-o", dir+string(filepath.Separator),
		"./agent/cmd/banfleet-agent", "./coordinator/cmd/coord")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Binaries{}, fmt.Errorf("go build in %s: %w\n%s", root, err, out)
	}
	bins := Binaries{
		Agent: filepath.Join(dir, "banfleet-agent"),
		Coord: filepath.Join(dir, "coord"),
	}
	for _, p := range []string{bins.Agent, bins.Coord} {
		if _, err := os.Stat(p); err != nil {
			return Binaries{}, fmt.Errorf("go build: %w", err)
		}
	}
	return bins, nil
}

// ModuleRoot finds the banfleet module's root: the first directory with a
// go.mod, walking up from the working directory, then from this source
// file's directory (for a program run from elsewhere).
func ModuleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("module root not found: no go.mod above the working directory")
}
