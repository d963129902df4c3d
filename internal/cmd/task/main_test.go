package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testTaskfile = `version: '3'
tasks:
  default:
    desc: the default
    cmds:
      - echo default-ran
  fail:
    desc: exits 5
    cmds:
      - exit 5
      - echo not-reached
  second:
    cmds:
      - echo second-ran
`

// taskDir makes a folder with the Taskfile above and returns it.
func taskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Taskfile.yml"), []byte(testTaskfile), 0o644))
	return dir
}

func TestRun(t *testing.T) {
	dir := taskDir(t)
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	tf := filepath.Join(dir, "Taskfile.yml")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		out, err string // contained in stdout, stderr; "" checks nothing
		notOut   string
	}{
		{name: "default, found above", args: nil, out: "default-ran\n", err: "task: [default] echo default-ran\n"},
		{name: "several in order", args: []string{"second", "default"}, out: "second-ran\ndefault-ran\n"},
		{name: "exit code", args: []string{"fail", "default"}, code: 5, err: "exit status 5", notOut: "ran"},
		{name: "list", args: []string{"--list"}, out: "* default:      the default\n* fail:         exits 5\n", notOut: "second"},
		{name: "list all", args: []string{"-a"}, out: "* second:"},
		{name: "dry", args: []string{"-n", "fail"}, err: "task: [fail] echo not-reached\n", notOut: "ran"},
		{name: "taskfile flag", args: []string{"-t", tf, "second"}, out: "second-ran\n"},
		{name: "taskfile flag =", args: []string{"second", "--taskfile=" + tf}, out: "second-ran\n"},
		{name: "unknown task", args: []string{"default", "nope"}, code: 2, err: `task "nope" does not exist`, notOut: "ran"},
		{name: "unknown flag", args: []string{"--watch"}, code: 2, err: "unknown flag --watch"},
		{name: "variables", args: []string{"X=1"}, code: 2, err: "X=1: setting variables"},
		{name: "taskfile flag alone", args: []string{"-t"}, code: 2, err: "-t needs a file"},
		{name: "missing taskfile", args: []string{"-t", filepath.Join(dir, "none.yml")}, code: 1, err: "none.yml"},
		{name: "help", args: []string{"-h"}, out: "usage: task"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(sub)
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr, nil)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
			require.Contains(t, stdout.String(), tc.out)
			require.Contains(t, stderr.String(), tc.err)
			if tc.notOut != "" {
				require.NotContains(t, stdout.String(), tc.notOut)
			}
		})
	}
}

func TestRunNoTaskfile(t *testing.T) {
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run(nil, strings.NewReader(""), &stdout, &stderr, nil))
	require.Contains(t, stderr.String(), "no Taskfile.yml in")
}

func TestRunBadTaskfile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Taskfile.yml"), []byte("version: '3'\ntasks:\n  a:\n    deps: [b]\n"), 0o644))
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run([]string{"a"}, strings.NewReader(""), &stdout, &stderr, nil))
	require.Contains(t, stderr.String(), "Taskfile.yml:4: tasks.a.deps: unknown key")
}
