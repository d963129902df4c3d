package taskfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Runner runs the tasks of a File.
type Runner struct {
	File   *File
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr gets the commands' standard error and, before each command,
	// a line "task: [name] command".
	Stderr io.Writer
	// Env is the commands' environment; nil passes this process's on.
	Env []string
	// Dry prints the commands without running them.
	Dry bool
	// Signals, when not nil, are passed on to the running command; after
	// one has arrived no further command starts and Run returns an error.
	Signals <-chan os.Signal
}

// Run runs the named task: its commands in order, each command line with
// bash -c from the Taskfile's folder, stopping at the first that fails
// (an *ExitError).
func (r *Runner) Run(name string) error {
	t, ok := r.File.Tasks[name]
	if !ok {
		return fmt.Errorf("task %q: %w in %s (tasks: %s)", name, ErrUnknownTask, r.File.Path, strings.Join(r.File.Names(), ", "))
	}
	for _, c := range t.Cmds {
		var err error
		if c.Task != "" {
			err = r.Run(c.Task)
		} else {
			err = r.exec(t, c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) exec(t *Task, c Cmd) error {
	fmt.Fprintf(r.Stderr, "task: [%s] %s\n", t.Name, c.Shell)
	if r.Dry {
		return nil
	}
	cmd := exec.Command("bash", "-c", c.Shell)
	cmd.Dir = r.File.Dir
	cmd.Env = r.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.Stdin, r.Stdout, r.Stderr
	fail := func(code int, err error) error {
		return &ExitError{Task: t.Name, Cmd: c.Shell, Line: c.Line, Code: code, Err: err}
	}
	select {
	case s := <-r.Signals: // arrived between commands
		return fail(signalCode(s), fmt.Errorf("%w by %v before the command started", ErrInterrupted, s))
	default:
	}
	if err := cmd.Start(); err != nil {
		return fail(127, err)
	}
	done := make(chan struct{})
	signalled := make(chan os.Signal, 1)
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-r.Signals: // never ready when Signals is nil
				select {
				case signalled <- s:
				default:
				}
				_ = cmd.Process.Signal(s)
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = signalCode(ws.Signal())
		}
		return fail(code, err)
	case err != nil:
		return fail(1, err)
	}
	select {
	case s := <-signalled:
		return fail(signalCode(s), fmt.Errorf("%w by %v", ErrInterrupted, s))
	default:
		return nil
	}
}

// signalCode is the exit status shells give a command that signal s ended.
func signalCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}
