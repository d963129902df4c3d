package taskfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// Names are the file names Find looks for, in this order, as go-task does.
var Names = []string{"Taskfile.yml", "taskfile.yml", "Taskfile.yaml", "taskfile.yaml"}

// specialVars are the variables the runner sets itself.
var specialVars = []string{"ROOT_DIR", "TASKFILE_DIR", "TASKFILE", "TASK"}

// File is a loaded Taskfile with every template already expanded.
type File struct {
	Path  string            // the Taskfile, absolute
	Dir   string            // its folder: ROOT_DIR, and where commands run
	Vars  map[string]string // the variables, expanded (specials included)
	Tasks map[string]*Task
}

// Task is one entry of tasks:.
type Task struct {
	Name string
	Desc string
	Cmds []Cmd
	Line int
}

// Cmd is one entry of a task's cmds: either a command line or a call of
// another task.
type Cmd struct {
	Shell string // the command line, templated; empty when Task is set
	Task  string // the task to run
	Line  int
}

// Find returns the first Taskfile (see Names) in dir or the nearest folder
// above it.
func Find(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find Taskfile: %w", err)
	}
	for d := dir; ; {
		for _, n := range Names {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p, nil
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("find Taskfile: %w", err)
			}
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no %s in %s or any folder above it", Names[0], dir)
		}
		d = up
	}
}

// Load reads and checks the Taskfile at path.
func Load(path string) (*File, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load Taskfile: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load Taskfile: %w", err)
	}
	return Parse(path, data)
}

// Parse checks data as the Taskfile at path (absolute) and expands its
// templates. Errors name the file, the line and the key.
func Parse(path string, data []byte) (*File, error) {
	p := parser{path: path}
	return p.file(data)
}

type parser struct{ path string }

// errorf makes an error at node n: "path:line: key: message".
func (p *parser) errorf(n *yaml.Node, key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		msg = key + ": " + msg
	}
	if n != nil {
		return fmt.Errorf("%s:%d: %s", p.path, n.Line, msg)
	}
	return fmt.Errorf("%s: %s", p.path, msg)
}

// pairs returns a mapping's keys and values in file order; a key that is not
// a plain scalar, or one given twice, is an error.
func (p *parser) pairs(n *yaml.Node, where string) ([]*yaml.Node, []*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nil, p.errorf(n, where, "want a mapping, have %s", kind(n))
	}
	var keys, vals []*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, nil, p.errorf(k, where, "a key must be a plain name, have %s", kind(k))
		}
		if seen[k.Value] {
			return nil, nil, p.errorf(k, join(where, k.Value), "given twice")
		}
		seen[k.Value] = true
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, nil
}

func (p *parser) file(data []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, p.errorf(nil, "", "empty Taskfile")
	}
	keys, vals, err := p.pairs(doc.Content[0], "")
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p.path)
	f := &File{
		Path:  p.path,
		Dir:   dir,
		Vars:  map[string]string{"ROOT_DIR": dir, "TASKFILE_DIR": dir, "TASKFILE": p.path},
		Tasks: map[string]*Task{},
	}
	var version, tasks *yaml.Node
	for i, k := range keys {
		switch v := vals[i]; k.Value {
		case "version":
			version = v
		case "vars":
			if err := p.vars(v, f.Vars); err != nil {
				return nil, err
			}
		case "tasks":
			tasks = v
		default:
			return nil, p.errorf(k, k.Value, "unknown key (this runner reads version, vars and tasks)")
		}
	}
	if version == nil {
		return nil, p.errorf(nil, "version", "missing (want '3')")
	}
	if version.Kind != yaml.ScalarNode || strings.SplitN(version.Value, ".", 2)[0] != "3" {
		return nil, p.errorf(version, "version", "want '3', have %q", version.Value)
	}
	if tasks == nil {
		return nil, p.errorf(nil, "tasks", "missing")
	}
	// Vars are read in full before any task, wherever tasks: stands.
	if err := p.tasks(tasks, f); err != nil {
		return nil, err
	}
	if err := f.checkCalls(); err != nil {
		return nil, err
	}
	return f, nil
}

// vars reads vars: into into, each value templated with the ones before it.
func (p *parser) vars(n *yaml.Node, into map[string]string) error {
	keys, vals, err := p.pairs(n, "vars")
	if err != nil {
		return err
	}
	for i, k := range keys {
		where := join("vars", k.Value)
		v := vals[i]
		if v.Kind != yaml.ScalarNode {
			return p.errorf(v, where, "want a string, have %s (dynamic vars such as sh: are not supported)", kind(v))
		}
		if slices.Contains(specialVars, k.Value) {
			return p.errorf(k, where, "a variable the runner sets itself")
		}
		s, err := p.expand(v, where, v.Value, into)
		if err != nil {
			return err
		}
		into[k.Value] = s
	}
	return nil
}

func (p *parser) tasks(n *yaml.Node, f *File) error {
	keys, vals, err := p.pairs(n, "tasks")
	if err != nil {
		return err
	}
	for i, k := range keys {
		t, err := p.task(k, vals[i], f.Vars)
		if err != nil {
			return err
		}
		f.Tasks[t.Name] = t
	}
	return nil
}

func (p *parser) task(name, n *yaml.Node, vars map[string]string) (*Task, error) {
	where := join("tasks", name.Value)
	if name.Value == "" || strings.ContainsAny(name.Value, " \t=") || strings.HasPrefix(name.Value, "-") {
		return nil, p.errorf(name, where, "not a usable task name")
	}
	t := &Task{Name: name.Value, Line: name.Line}
	keys, vals, err := p.pairs(n, where)
	if err != nil {
		return nil, err
	}
	// The task's own name is a variable of its commands.
	tv := make(map[string]string, len(vars)+1)
	for k, v := range vars {
		tv[k] = v
	}
	tv["TASK"] = t.Name
	for i, k := range keys {
		v := vals[i]
		switch k.Value {
		case "desc":
			if v.Kind != yaml.ScalarNode {
				return nil, p.errorf(v, join(where, "desc"), "want a string, have %s", kind(v))
			}
			t.Desc = v.Value
		case "cmds":
			if v.Kind != yaml.SequenceNode {
				return nil, p.errorf(v, join(where, "cmds"), "want a list, have %s", kind(v))
			}
			for j, c := range v.Content {
				cmd, err := p.cmd(c, fmt.Sprintf("%s.cmds[%d]", where, j), tv)
				if err != nil {
					return nil, err
				}
				t.Cmds = append(t.Cmds, cmd)
			}
		default:
			return nil, p.errorf(k, join(where, k.Value), "unknown key (a task has desc and cmds)")
		}
	}
	return t, nil
}

func (p *parser) cmd(n *yaml.Node, where string, vars map[string]string) (Cmd, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		s, err := p.expand(n, where, n.Value, vars)
		if err != nil {
			return Cmd{}, err
		}
		if strings.TrimSpace(s) == "" {
			return Cmd{}, p.errorf(n, where, "empty command")
		}
		return Cmd{Shell: s, Line: n.Line}, nil
	case yaml.MappingNode:
		keys, vals, err := p.pairs(n, where)
		if err != nil {
			return Cmd{}, err
		}
		c := Cmd{Line: n.Line}
		for i, k := range keys {
			if k.Value != "task" {
				return Cmd{}, p.errorf(k, join(where, k.Value), "unknown key (a command is a string or task: NAME)")
			}
			v := vals[i]
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return Cmd{}, p.errorf(v, join(where, "task"), "want a task name")
			}
			c.Task = v.Value
		}
		return c, nil
	}
	return Cmd{}, p.errorf(n, where, "want a command string or task: NAME, have %s", kind(n))
}

// expand runs s as a template over vars; a missing variable is an error.
func (p *parser) expand(n *yaml.Node, where, s string, vars map[string]string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	tpl, err := template.New(where).Option("missingkey=error").Parse(s)
	if err != nil {
		return "", p.errorf(n, where, "template: %v", err)
	}
	var b strings.Builder
	if err := tpl.Execute(&b, vars); err != nil {
		return "", p.errorf(n, where, "template: %v (variables: %s)", err, strings.Join(sortedKeys(vars), ", "))
	}
	return b.String(), nil
}

// checkCalls checks that every task: names a task and that no task calls
// itself, directly or through others.
func (f *File) checkCalls() error {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case visiting:
			return fmt.Errorf("%s: tasks call each other in a loop: %s", f.Path, strings.Join(append(path, name), " -> "))
		case done:
			return nil
		}
		state[name] = visiting
		t := f.Tasks[name]
		for i, c := range t.Cmds {
			if c.Task == "" {
				continue
			}
			if _, ok := f.Tasks[c.Task]; !ok {
				return fmt.Errorf("%s:%d: tasks.%s.cmds[%d]: task %q: %w (tasks: %s)",
					f.Path, c.Line, name, i, c.Task, ErrUnknownTask, strings.Join(f.Names(), ", "))
			}
			if err := visit(c.Task, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		return nil
	}
	for _, name := range f.Names() {
		if err := visit(name, nil); err != nil {
			return err
		}
	}
	return nil
}

// Names returns the task names, sorted.
func (f *File) Names() []string { return sortedKeys(f.Tasks) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}
