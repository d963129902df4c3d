package f2bref

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// systemPath matches an absolute path of an installed Fail2Ban: its
// configuration, its Python package (or the directory holding it) and
// fail2ban-regex. A path inside a tree (root/usr/bin/..., ../etc/...) is
// not one. The names are put together so that this file names none.
var systemPath = regexp.MustCompile(`(^|[^\w./$}-])(` + strings.Join([]string{
	regexp.QuoteMeta("/etc" + "/fail2ban"),
	regexp.QuoteMeta("/usr/lib/python3" + "/dist-packages"),
	regexp.QuoteMeta("/usr/bin" + "/fail2ban-regex"),
}, "|") + `)\b`)

// TestNoSystemFail2BanPaths fails when a test or a script of the
// repository names a system path of Fail2Ban: tests and the generators of
// their fixtures use the reference tree Find returns and nothing installed
// on the machine. Only a line documenting BANFLEET_FAIL2BAN_ROOT=/ (asking
// for an installed package) may name one.
func TestNoSystemFail2BanPaths(t *testing.T) {
	top, err := moduleRoot()
	require.NoError(t, err)
	checked := 0
	err = filepath.WalkDir(top, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			switch e.Name() {
			case ".git", ".cache", "bin", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !isScriptOrTest(e.Name()) {
			return nil
		}
		checked++
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<22)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if m := systemPath.FindStringSubmatch(line); m != nil && !strings.Contains(line, "BANFLEET_FAIL2BAN_ROOT=/") {
				rel, _ := filepath.Rel(top, p)
				t.Errorf("%s:%d names %s, a system path of Fail2Ban: use the reference tree (internal/testutil/f2bref)", rel, n, m[2])
			}
		}
		return sc.Err()
	})
	require.NoError(t, err)
	require.NotZero(t, checked)
}

func isScriptOrTest(name string) bool {
	if strings.HasSuffix(name, "_test.go") || name == "Taskfile.yml" {
		return true
	}
	switch filepath.Ext(name) {
	case ".sh", ".bash", ".py":
		return true
	}
	return false
}

func TestSystemPathPattern(t *testing.T) {
	for line, want := range map[string]bool{
		`basedir="` + "/etc" + `/fail2ban")`:                             true,
		`sys.path.insert(0, '` + "/usr/lib/python3" + `/dist-packages')`: true,
		"cp " + "/usr/bin" + "/fail2ban-regex x":                         true,
		`[ -x "$dest/root/usr/bin/fail2ban-regex" ]`:                     false,
		"ln -s ../../../etc/fail2ban/filter.d/common.conf x":             false,
		`filepath.Join(r, "etc", "fail2ban")`:                            false,
	} {
		require.Equal(t, want, systemPath.MatchString(line), line)
	}
}
