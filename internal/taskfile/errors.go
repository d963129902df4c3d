package taskfile

import (
	"errors"
	"fmt"
)

// ErrUnknownTask is returned (wrapped) by Run for a task name the Taskfile
// does not define.
var ErrUnknownTask = errors.New("no such task")

// ErrInterrupted is returned (wrapped in an *ExitError) by Runner.Run when
// a signal arrived while a command ran and that command still succeeded, or
// arrived between two commands.
var ErrInterrupted = errors.New("interrupted")

// ExitError is a command of a task that failed.
type ExitError struct {
	Task string // the task whose command failed
	Cmd  string // the command line, templated
	Line int    // its line in the Taskfile
	// Code is the command's exit status: 128+n when signal n ended it, as
	// shells report it.
	Code int
	Err  error // what exec reported
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("task %s (line %d): %s: %v", e.Task, e.Line, e.Cmd, e.Err)
}

func (e *ExitError) Unwrap() error { return e.Err }
