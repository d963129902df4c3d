// Package taskfile reads and runs the subset of the Taskfile format
// (taskfile.dev, version 3) that this repository's Taskfile.yml uses, so
// that `go tool task` needs no dependency outside the module graph.
//
// The subset:
//
//	version: '3'
//	vars:                  # strings, templated in order: {{.ROOT_DIR}}, earlier vars
//	  BIN: '{{.ROOT_DIR}}/bin'
//	tasks:
//	  name:
//	    desc: one line for --list
//	    cmds:
//	      - go build -o {{.BIN}}/ ./...   # run with bash -c from the Taskfile's folder
//	      - task: other                   # run another task here
//
// Any other key is an error that names the key and its line, so a Taskfile
// written for the full go-task fails loudly here instead of running
// differently. Templates are Go's text/template over the variables
// (ROOT_DIR and TASKFILE_DIR: the Taskfile's folder; TASKFILE: its path;
// TASK: the running task's name; then the Taskfile's vars); a missing
// variable is an error. Every template and every `task:` reference is
// checked when the file is loaded, before anything runs.
//
// Running a task runs its commands in order, each with the environment
// passed through, and stops at the first that fails; the failure (an
// *ExitError) carries the command's exit status.
package taskfile
