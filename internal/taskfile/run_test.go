package taskfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// runner loads body as a Taskfile and returns a runner writing into out
// (stdout and stderr together).
func runner(t *testing.T, body string, out *bytes.Buffer) *Runner {
	t.Helper()
	f, err := Load(write(t, body))
	require.NoError(t, err)
	return &Runner{File: f, Stdin: strings.NewReader(""), Stdout: out, Stderr: out}
}

func TestRunOrderDirAndVars(t *testing.T) {
	var out bytes.Buffer
	r := runner(t, `version: '3'
vars:
  LOG: '{{.ROOT_DIR}}/log'
tasks:
  default:
    cmds:
      - echo start >> {{.LOG}}
      - task: inner
      - pwd >> {{.LOG}}
      - task: inner
  inner:
    cmds:
      - echo "inner $((1+1))" >> log    # bash syntax; relative to the Taskfile's folder
`, &out)
	// Run from somewhere else: commands still run in the Taskfile's folder.
	t.Chdir(t.TempDir())
	require.NoError(t, r.Run("default"))
	got, err := os.ReadFile(filepath.Join(r.File.Dir, "log"))
	require.NoError(t, err)
	require.Equal(t, "start\ninner 2\n"+r.File.Dir+"\ninner 2\n", string(got))
	require.Equal(t, strings.Join([]string{
		"task: [default] echo start >> " + r.File.Dir + "/log",
		`task: [inner] echo "inner $((1+1))" >> log`,
		"task: [default] pwd >> " + r.File.Dir + "/log",
		`task: [inner] echo "inner $((1+1))" >> log`,
	}, "\n")+"\n", out.String())
}

func TestRunEnvironment(t *testing.T) {
	var out bytes.Buffer
	r := runner(t, "version: '3'\ntasks:\n  a:\n    cmds: ['echo \"[$BANFLEET_TASK_TEST]\"']\n", &out)

	t.Setenv("BANFLEET_TASK_TEST", "from the process")
	require.NoError(t, r.Run("a"))
	require.Contains(t, out.String(), "\n[from the process]\n")

	out.Reset()
	r.Env = []string{"BANFLEET_TASK_TEST=given"}
	require.NoError(t, r.Run("a"))
	require.Contains(t, out.String(), "\n[given]\n")
}

func TestRunStopsAtFirstFailure(t *testing.T) {
	var out bytes.Buffer
	r := runner(t, `version: '3'
tasks:
  default:
    cmds:
      - task: fails
      - touch after-default
  fails:
    cmds:
      - touch before
      - echo oops >&2; exit 7
      - touch after
`, &out)
	err := r.Run("default")
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 7, ee.Code)
	require.Equal(t, "fails", ee.Task)
	require.Equal(t, "echo oops >&2; exit 7", ee.Cmd)
	require.Equal(t, 10, ee.Line)
	require.Contains(t, out.String(), "oops\n")
	require.FileExists(t, filepath.Join(r.File.Dir, "before"))
	require.NoFileExists(t, filepath.Join(r.File.Dir, "after"))
	require.NoFileExists(t, filepath.Join(r.File.Dir, "after-default"))
}

func TestRunSignalledCommand(t *testing.T) {
	var out bytes.Buffer
	r := runner(t, "version: '3'\ntasks:\n  a:\n    cmds: ['kill -TERM $$']\n", &out)
	var ee *ExitError
	require.ErrorAs(t, r.Run("a"), &ee)
	require.Equal(t, 128+int(syscall.SIGTERM), ee.Code)
}

// TestRunPassesSignals: a signal given to the runner reaches the running
// command, and nothing runs after it even when the command survives it.
func TestRunPassesSignals(t *testing.T) {
	var out bytes.Buffer
	r := runner(t, `version: '3'
tasks:
  a:
    cmds:
      # a fifo so the signal is sent only once the trap is set
      - |
        trap 'echo got-hup; exit 0' HUP
        echo ready > fifo
        while :; do sleep 0.05; done
      - touch after
`, &out)
	fifo := filepath.Join(r.File.Dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	sig := make(chan os.Signal, 1)
	r.Signals = sig
	go func() {
		b, err := os.ReadFile(fifo) // returns once the command wrote and closed it
		if err == nil && string(b) == "ready\n" {
			sig <- syscall.SIGHUP
		}
	}()
	err := r.Run("a")
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.ErrorIs(t, err, ErrInterrupted)
	require.Equal(t, 128+int(syscall.SIGHUP), ee.Code)
	require.Contains(t, out.String(), "got-hup\n")
	require.NoFileExists(t, filepath.Join(r.File.Dir, "after"))
}

func TestRunSignalBetweenCommands(t *testing.T) {
	var out bytes.Buffer
	r := runner(t, "version: '3'\ntasks:\n  a:\n    cmds: ['touch first']\n", &out)
	sig := make(chan os.Signal, 1)
	sig <- syscall.SIGINT
	r.Signals = sig
	err := r.Run("a")
	require.ErrorIs(t, err, ErrInterrupted)
	require.NoFileExists(t, filepath.Join(r.File.Dir, "first"))
}

func TestRunDry(t *testing.T) {
	var out bytes.Buffer
	r := runner(t, "version: '3'\ntasks:\n  a:\n    cmds: ['touch x', {task: b}]\n  b:\n    cmds: ['exit 3']\n", &out)
	r.Dry = true
	require.NoError(t, r.Run("a"))
	require.Equal(t, "task: [a] touch x\ntask: [b] exit 3\n", out.String())
	require.NoFileExists(t, filepath.Join(r.File.Dir, "x"))
}

func TestRunUnknownTask(t *testing.T) {
	var out bytes.Buffer
	r := runner(t, "version: '3'\ntasks:\n  a: {}\n", &out)
	err := r.Run("b")
	require.ErrorIs(t, err, ErrUnknownTask)
	require.ErrorContains(t, err, `task "b"`)
}
