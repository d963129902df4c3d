package fail2ban

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// maxIncludeFiles bounds the include expansion (Fail2Ban has no bound; a
// configuration whose includes fan out this far is certainly a mistake).
const maxIncludeFiles = 10000

// loader reads configuration files, each once: Fail2Ban shares parsed files
// between readers the same way.
type loader struct {
	parsed map[string]*iniFile // nil value: the file cannot be read
	// fsys, when set, holds the files instead of the operating system
	// (paths are then relative to its root).
	fsys fs.FS
	// builtin, when set, is a configuration directory (holding filter.d)
	// that filters missing from the one being read are taken from.
	builtin fs.FS
}

func newLoader() *loader { return &loader{parsed: map[string]*iniFile{}} }

// fsPath turns a loader path into an fs.FS name.
func fsPath(p string) string { return path.Clean(strings.TrimPrefix(p, "/")) }

func (l *loader) readFile(p string) ([]byte, error) {
	if l.fsys != nil {
		return fs.ReadFile(l.fsys, fsPath(p))
	}
	return os.ReadFile(p)
}

func (l *loader) stat(p string) (fs.FileInfo, error) {
	if l.fsys != nil {
		return fs.Stat(l.fsys, fsPath(p))
	}
	return os.Stat(p)
}

func (l *loader) readDir(p string) ([]fs.DirEntry, error) {
	if l.fsys != nil {
		return fs.ReadDir(l.fsys, fsPath(p))
	}
	return os.ReadDir(p)
}

// parse returns the parsed file, or nil if it does not exist or is not a
// regular file (configparser's read skips those silently).
func (l *loader) parse(path string) (*iniFile, error) {
	if f, ok := l.parsed[path]; ok {
		return f, nil
	}
	data, err := l.readFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.Is(err, fs.ErrNotExist) || l.isDir(path) || (errors.As(err, &pe) && pe.Op == "read") {
			l.parsed[path] = nil
			return nil, nil
		}
		return nil, &Error{File: path, Err: ErrSyntax, Detail: err.Error()}
	}
	f, err := parseINI(path, data)
	if err != nil {
		return nil, err
	}
	l.parsed[path] = f
	return f, nil
}

func (l *loader) isDir(path string) bool {
	fi, err := l.stat(path)
	return err == nil && fi.IsDir()
}

// configFiles lists the files of configuration basename the way
// ConfigReaderUnshared.read does: X.conf, X.d/*.conf, X.local, X.d/*.local,
// those that exist.
func (l *loader) configFiles(basename string) []string {
	var files []string
	add := func(p string) {
		if _, err := l.stat(p); err == nil {
			files = append(files, p)
		}
	}
	globDir := func(ext string) {
		dir := basename + ".d"
		ents, err := l.readDir(dir)
		if err != nil {
			return
		}
		var names []string
		for _, e := range ents {
			// glob's "*" skips hidden files
			if n := e.Name(); !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ext) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			add(dir + "/" + n)
		}
	}
	add(basename + ".conf")
	globDir(".conf")
	add(basename + ".local")
	globDir(".local")
	return files
}

// read reads configuration basename (a path without extension): its files
// with their [INCLUDES], merged in order. It returns nil when none of the
// files exists.
func (l *loader) read(basename string) (*store, []string, error) {
	files := l.configFiles(basename)
	if len(files) == 0 {
		return nil, nil, nil
	}
	var n int
	full, err := l.includes(files, nil, &n)
	if err != nil {
		return nil, nil, err
	}
	st := newStore()
	var read []string
	for _, p := range full {
		f, err := l.parse(p)
		if err != nil {
			return nil, nil, err
		}
		if f == nil {
			continue
		}
		read = append(read, p)
		st.merge(f)
	}
	if len(read) == 0 {
		return nil, nil, nil
	}
	return st, read, nil
}

// includes is SafeConfigParserWithIncludes._getIncludes: each file preceded
// by its "before" includes and followed by its "after" includes,
// recursively, each include followed by its .local.
func (l *loader) includes(filenames, seen []string, n *int) ([]string, error) {
	var out []string
	for _, f := range l.expandWithLocal(filenames) {
		list, err := l.includesOf(f, seen, n)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

func (l *loader) expandWithLocal(filenames []string) []string {
	var out []string
	for _, f := range filenames {
		out = append(out, f)
		local := pySplitextRoot(f) + ".local"
		if !slices.Contains(filenames, local) {
			if fi, err := l.stat(local); err == nil && fi.Mode().IsRegular() {
				out = append(out, local)
			}
		}
	}
	return out
}

func (l *loader) includesOf(resource string, seen []string, n *int) ([]string, error) {
	f, err := l.parse(resource)
	if err != nil || f == nil {
		return nil, err
	}
	if *n++; *n > maxIncludeFiles {
		return nil, &Error{File: resource, Err: ErrSyntax, Detail: fmt.Sprintf("more than %d included files", maxIncludeFiles)}
	}
	dir := pyDirname(resource)
	var before, after []string
	if inc := f.section("INCLUDES"); inc != nil {
		single := storeOf(f)
		for _, name := range []string{"before", "after"} {
			if !inc.has(name) && !f.defaults.has(name) {
				continue
			}
			v, err := single.get("INCLUDES", name, nil)
			if err != nil {
				return nil, err
			}
			for _, r := range strings.Split(v.s, "\n") {
				if !strings.HasPrefix(r, "/") {
					r = pyJoin(dir, r)
				}
				if slices.Contains(seen, r) {
					continue
				}
				s := append(slices.Clip(seen), resource)
				list, err := l.includes([]string{r}, s, n)
				if err != nil {
					return nil, err
				}
				if name == "before" {
					before = append(before, list...)
				} else {
					after = append(after, list...)
				}
			}
		}
	}
	out := append(before, resource)
	return append(out, after...), nil
}

// absPath is os.path.abspath for names starting with "./".
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
