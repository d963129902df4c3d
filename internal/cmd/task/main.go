// Command task runs the tasks of this repository's Taskfile.yml: the subset
// of go-task's format that package taskfile reads. It is a tool of the
// module, so
//
//	go tool task            # the default task
//	go tool task test bench # tasks in order
//	go tool task --list     # tasks with a desc
//
// work without go-task in the module graph. The Taskfile is the first of
// Taskfile.yml (and taskfile.yml, Taskfile.yaml, taskfile.yaml) in the
// working folder or the nearest folder above it, or the one -t names.
// Commands run with bash -c from the Taskfile's folder. The exit status is
// that of the first command that failed; 2 for a usage error, 1 for a
// Taskfile that does not load.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/banfleet/banfleet/internal/taskfile"
)

func main() {
	// Ctrl-C reaches the running command through the terminal as well; the
	// runner passes signals on and starts nothing after one.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, sig))
}

const usage = `usage: task [flags] [task...]

Runs the tasks named (the task "default" when none is) from the Taskfile.

flags:
  -l, --list       list the tasks that have a desc
  -a, --list-all   list every task
  -n, --dry        print the commands without running them
  -t, --taskfile FILE
                   the Taskfile (default: Taskfile.yml here or above)
  -h, --help       this text
`

// run is the command; it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, sig <-chan os.Signal) int {
	var (
		list, listAll, dry bool
		path               string
		names              []string
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-l" || a == "--list":
			list = true
		case a == "-a" || a == "--list-all":
			listAll = true
		case a == "-n" || a == "--dry":
			dry = true
		case a == "-h" || a == "--help":
			fmt.Fprint(stdout, usage)
			return 0
		case a == "-t" || a == "--taskfile":
			if i+1 == len(args) {
				return usageError(stderr, "%s needs a file", a)
			}
			i++
			path = args[i]
		case strings.HasPrefix(a, "--taskfile="):
			path = strings.TrimPrefix(a, "--taskfile=")
		case strings.HasPrefix(a, "-"):
			return usageError(stderr, "unknown flag %s", a)
		case strings.Contains(a, "="):
			return usageError(stderr, "%s: setting variables on the command line is not supported", a)
		default:
			names = append(names, a)
		}
	}
	if path == "" {
		p, err := taskfile.Find(".")
		if err != nil {
			fmt.Fprintln(stderr, "task:", err)
			return 1
		}
		path = p
	}
	f, err := taskfile.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, "task:", err)
		return 1
	}
	if list || listAll {
		if err := f.List(stdout, listAll); err != nil {
			fmt.Fprintln(stderr, "task:", err)
			return 1
		}
		return 0
	}
	if len(names) == 0 {
		names = []string{"default"}
	}
	for _, n := range names {
		if _, ok := f.Tasks[n]; !ok {
			fmt.Fprintf(stderr, "task: task %q does not exist in %s (tasks: %s)\n", n, f.Path, strings.Join(f.Names(), ", "))
			return 2
		}
	}
	r := &taskfile.Runner{File: f, Stdin: stdin, Stdout: stdout, Stderr: stderr, Dry: dry, Signals: sig}
	for _, n := range names {
		if err := r.Run(n); err != nil {
			fmt.Fprintln(stderr, "task:", err)
			var ee *taskfile.ExitError
			if errors.As(err, &ee) {
				return ee.Code
			}
			return 1
		}
	}
	return 0
}

func usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "task: "+format+"\n\n", args...)
	fmt.Fprint(stderr, usage)
	return 2
}
