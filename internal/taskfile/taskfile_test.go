package taskfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// write puts a Taskfile.yml with body in a new folder and returns its path.
func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Taskfile.yml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestLoad(t *testing.T) {
	p := write(t, `version: '3'

# a comment
vars:
  BIN: '{{.ROOT_DIR}}/bin'
  OUT: '{{.BIN}}/out'
  N: 3

tasks:
  default:
    desc: all
    cmds:
      - task: build
      # a comment between commands
      - echo {{.TASK}} {{.N}}
  build:
    desc: build it
    cmds:
      - go build -o {{.OUT}} ./...
      - |
        echo "two
        lines"
  quiet:
    cmds: []
`)
	f, err := Load(p)
	require.NoError(t, err)
	dir := filepath.Dir(p)
	require.Equal(t, dir, f.Dir)
	require.Equal(t, p, f.Path)
	if d := cmp.Diff(map[string]string{
		"ROOT_DIR": dir, "TASKFILE_DIR": dir, "TASKFILE": p,
		"BIN": dir + "/bin", "OUT": dir + "/bin/out", "N": "3",
	}, f.Vars); d != "" {
		t.Errorf("vars (-want +got):\n%s", d)
	}
	want := map[string]*Task{
		"default": {Name: "default", Desc: "all", Line: 10, Cmds: []Cmd{
			{Task: "build", Line: 13},
			{Shell: "echo default 3", Line: 15},
		}},
		"build": {Name: "build", Desc: "build it", Line: 16, Cmds: []Cmd{
			{Shell: "go build -o " + dir + "/bin/out ./...", Line: 19},
			{Shell: "echo \"two\nlines\"\n", Line: 20},
		}},
		"quiet": {Name: "quiet", Line: 23},
	}
	if d := cmp.Diff(want, f.Tasks); d != "" {
		t.Errorf("tasks (-want +got):\n%s", d)
	}
	require.Equal(t, []string{"build", "default", "quiet"}, f.Names())
}

// TestLoadVarsAfterTasks: vars apply to every task wherever vars: stands.
func TestLoadVarsAfterTasks(t *testing.T) {
	f, err := Load(write(t, "version: 3\ntasks:\n  a:\n    cmds: ['echo {{.X}}']\nvars:\n  X: x\n"))
	require.NoError(t, err)
	require.Equal(t, "echo x", f.Tasks["a"].Cmds[0].Shell)
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string // the error names this, after "Taskfile.yml:"
	}{
		{"empty", "", "empty Taskfile"},
		{"not yaml", "version: '3'\ntasks: [", "yaml:"},
		{"top unknown", "version: '3'\nincludes: {}\ntasks: {}\n", `2: includes: unknown key`},
		{"no version", "tasks: {}\n", "version: missing"},
		{"version 2", "version: '2'\ntasks: {}\n", `1: version: want '3', have "2"`},
		{"no tasks", "version: '3'\n", "tasks: missing"},
		{"tasks list", "version: '3'\ntasks: [a]\n", "2: tasks: want a mapping, have a list"},
		{"task unknown key", "version: '3'\ntasks:\n  a:\n    desc: x\n    deps: [b]\n", `5: tasks.a.deps: unknown key`},
		{"task twice", "version: '3'\ntasks:\n  a: {}\n  a: {}\n", "4: tasks.a: given twice"},
		{"key twice", "version: '3'\ntasks:\n  a:\n    desc: x\n    desc: y\n", "5: tasks.a.desc: given twice"},
		{"task shorthand", "version: '3'\ntasks:\n  a: [echo]\n", "3: tasks.a: want a mapping, have a list"},
		{"cmds string", "version: '3'\ntasks:\n  a:\n    cmds: echo\n", `4: tasks.a.cmds: want a list, have "echo"`},
		{"cmd unknown key", "version: '3'\ntasks:\n  a:\n    cmds:\n      - cmd: echo\n", "5: tasks.a.cmds[0].cmd: unknown key"},
		{"cmd silent", "version: '3'\ntasks:\n  a:\n    cmds:\n      - task: b\n        silent: true\n  b: {}\n", "6: tasks.a.cmds[0].silent: unknown key"},
		{"cmd list", "version: '3'\ntasks:\n  a:\n    cmds:\n      - [echo]\n", "5: tasks.a.cmds[0]: want a command string or task: NAME, have a list"},
		{"cmd empty", "version: '3'\ntasks:\n  a:\n    cmds: ['  ']\n", "4: tasks.a.cmds[0]: empty command"},
		{"unknown task", "version: '3'\ntasks:\n  a:\n    cmds:\n      - task: b\n", `5: tasks.a.cmds[0]: task "b": no such task (tasks: a)`},
		{"loop", "version: '3'\ntasks:\n  a:\n    cmds: [{task: b}]\n  b:\n    cmds: [{task: c}]\n  c:\n    cmds: [{task: a}]\n", "tasks call each other in a loop: a -> b -> c -> a"},
		{"self", "version: '3'\ntasks:\n  a:\n    cmds: [{task: a}]\n", "loop: a -> a"},
		{"missing var", "version: '3'\ntasks:\n  a:\n    cmds: ['echo {{.NOPE}}']\n", `4: tasks.a.cmds[0]: template:`},
		{"var later", "version: '3'\nvars:\n  A: '{{.B}}'\n  B: b\ntasks: {}\n", `3: vars.A: template:`},
		{"bad template", "version: '3'\ntasks:\n  a:\n    cmds: ['echo {{.X']\n", `4: tasks.a.cmds[0]: template:`},
		{"template func", "version: '3'\ntasks:\n  a:\n    cmds: ['echo {{ OS }}']\n", `function "OS" not defined`},
		{"dynamic var", "version: '3'\nvars:\n  V:\n    sh: date\ntasks: {}\n", "4: vars.V: want a string, have a mapping (dynamic vars such as sh: are not supported)"},
		{"special var", "version: '3'\nvars:\n  ROOT_DIR: /x\ntasks: {}\n", "3: vars.ROOT_DIR: a variable the runner sets itself"},
		{"bad name", "version: '3'\ntasks:\n  'a b': {}\n", "3: tasks.a b: not a usable task name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.body)
			_, err := Load(p)
			require.Error(t, err)
			require.Contains(t, err.Error(), p)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "Taskfile.yml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(deep, 0o755))

	_, err := Find(deep)
	require.ErrorContains(t, err, "no Taskfile.yml in "+deep)

	require.NoError(t, os.WriteFile(filepath.Join(root, "Taskfile.yaml"), nil, 0o644))
	got, err := Find(deep)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "Taskfile.yaml"), got)

	// Taskfile.yml is taken before Taskfile.yaml, and the nearest folder first.
	require.NoError(t, os.WriteFile(filepath.Join(root, "Taskfile.yml"), nil, 0o644))
	got, err = Find(deep)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "Taskfile.yml"), got)
	require.NoError(t, os.WriteFile(filepath.Join(root, "a", "taskfile.yml"), nil, 0o644))
	got, err = Find(deep)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "a", "taskfile.yml"), got)

	// A folder by that name is no Taskfile.
	require.NoError(t, os.Mkdir(filepath.Join(deep, "Taskfile.yml"), 0o755))
	got, err = Find(deep)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "a", "taskfile.yml"), got)
}

func TestList(t *testing.T) {
	f, err := Load(write(t, "version: '3'\ntasks:\n  zz:\n    desc: last\n  a:\n    desc: first one\n  hidden: {}\n"))
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, f.List(&b, false))
	require.Equal(t, "task: Available tasks for this project:\n* a:       first one\n* zz:      last\n", b.String())
	b.Reset()
	require.NoError(t, f.List(&b, true))
	require.Equal(t, "task: Available tasks for this project:\n* a:           first one\n* hidden:      \n* zz:          last\n", b.String())

	f, err = Load(write(t, "version: '3'\ntasks:\n  hidden: {}\n"))
	require.NoError(t, err)
	b.Reset()
	require.NoError(t, f.List(&b, false))
	require.Contains(t, b.String(), "No tasks with description")
}

// TestRepoTaskfile loads this repository's own Taskfile: the runner reads
// all of it, and the tasks README and .ci/run name are there.
func TestRepoTaskfile(t *testing.T) {
	f, err := Load("../../Taskfile.yml")
	require.NoError(t, err)
	for _, name := range []string{"default", "lint", "test", "race", "bench", "build", "demo", "e2e", "deps"} {
		require.Contains(t, f.Tasks, name)
		require.NotEmpty(t, f.Tasks[name].Desc, name)
	}
	// go build -o {{.BIN}}/ wrote into the repository's bin/.
	require.Contains(t, f.Tasks["build"].Cmds[0].Shell, "-o "+filepath.Join(f.Dir, "bin")+"/ ")
}
