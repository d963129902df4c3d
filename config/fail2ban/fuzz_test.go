package fail2ban

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// seedFiles returns the configuration files of testdata/conf and, when
// present, of the reference Fail2Ban tree.
func seedFiles(f *testing.F) []string {
	var files []string
	dirs := []string{"testdata/conf", "testdata/fixture"}
	if tree, err := f2bref.Find(); err == nil {
		dirs = append(dirs, tree.ConfDir)
	}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && (strings.HasSuffix(p, ".conf") || strings.HasSuffix(p, ".local")) {
				files = append(files, p)
			}
			return nil
		})
	}
	return files
}

// FuzzINI feeds any bytes to the INI parser and, when they parse, through
// both interpolation passes: errors are fine, panics and hangs are not.
func FuzzINI(f *testing.F) {
	for _, p := range seedFiles(f) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("[Definition]\nfailregex = <a>\na = <b><b>\nb = %(c)s\nc = %%<a>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := parseINI("fuzz.conf", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is not an *Error: %v", err)
			}
			return
		}
		st := newStore()
		st.merge(pf)
		st.merge(pf) // as when a file is included twice: fills KNOWN/
		for _, s := range append([]*section{pf.defaults}, pf.sections...) {
			for _, k := range s.keys {
				if k != pyLower(k) || strings.ContainsAny(k, "\r\n") {
					t.Fatalf("key %q", k)
				}
				v := s.vals[k].s
				if strings.ContainsRune(v, '\r') || v != pyRStrip(v) {
					t.Fatalf("value %q", v)
				}
			}
		}
		for _, name := range st.order {
			for _, k := range st.secs[name].keys {
				_, _ = st.get(name, k, nil)
				_, _ = st.getEx(name, "known/"+k, nil)
			}
		}
		// pass 2 over [Definition] as a filter would do it
		if def := st.secs["Definition"]; def != nil {
			fr := &filterReader{name: "fuzz", st: st, initOpts: newSection(""), defCache: map[string]*value{}}
			fr.applyAutoOptions("auto")
			if fr.getOptions(nil, true) == nil {
				_, _, _ = fr.convert()
			}
		}
	})
}

// FuzzExtractOptions checks ExtractOptions never panics and that what it
// accepts survives being written back as name[k="v", ...].
func FuzzExtractOptions(f *testing.F) {
	for _, s := range []string{"sshd", "sshd[mode=aggressive]", `name[k=v, k2="v 2"]`, "a[x='y,z'][b=c]",
		`apache-pass[knocking_url="/knocking/"]`, "postfix[mode=auth]", "a[k=v]\n[j=w]", `a[k="x,y]z"]`, "a[k=v,,j=w]",
		"%(__name__)s[mode=%(mode)s]", "t-init[port=2222, name=\"big world\"]"} {
		f.Add(s)
	}
	for _, p := range seedFiles(f) {
		data, _ := os.ReadFile(p)
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "filter" {
				f.Add(strings.TrimSpace(v))
			}
		}
	}
	f.Fuzz(func(t *testing.T, spec string) {
		name, opts, err := extractOptions(spec)
		if err != nil {
			return
		}
		if strings.Contains(name, "[") || name == "" {
			t.Fatalf("name %q", name)
		}
		var b strings.Builder
		b.WriteString(name)
		sep := "["
		for _, k := range opts.keys {
			v := opts.vals[k].s
			if strings.Contains(v, `"`) || strings.ContainsAny(k, "[]=,") {
				return
			}
			b.WriteString(sep + k + `="` + v + `"`)
			sep = ", "
		}
		if sep == "[" {
			return
		}
		b.WriteString("]")
		name2, opts2, err := extractOptions(b.String())
		if err != nil {
			t.Fatalf("%q -> %q: %v", spec, b.String(), err)
		}
		if name2 != name || len(opts2.keys) != len(opts.keys) {
			t.Fatalf("%q -> %q: %q %v", spec, b.String(), name2, opts2.keys)
		}
		for _, k := range opts.keys {
			if opts2.vals[k].s != opts.vals[k].s {
				t.Fatalf("%q -> %q: %s=%q, want %q", spec, b.String(), k, opts2.vals[k].s, opts.vals[k].s)
			}
		}
	})
}

// FuzzParseTime checks ParseTime and shlexSplit never panic.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"10m", "1h", "600", "1d 2h", "-1", "1year-6mo", "(1+2)*60", "2**3**2", "1 2 3", "-- -1",
		"_SYSTEMD_UNIT=sshd.service + _COMM=sshd", `"a\"b" 'c'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseTime(s)
		_, _ = shlexSplit(s)
	})
}
