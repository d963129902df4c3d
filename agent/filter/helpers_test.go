package filter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// Files of Debian's fail2ban 1.0.2 package that the tests compare against,
// found by f2bref (unpacked into .cache by `go tool task test`, or installed).
const f2bPython = "/usr/bin/python3" // the pyenv python3 cannot import fail2ban

var (
	f2bTree *f2bref.Tree
	// Only from the reference tree: never a system-wide Fail2Ban.
	f2bConfigDir  = ".no-fail2ban-reference"
	f2bSSHDConf   = ".no-fail2ban-reference/filter.d/sshd.conf"
	f2bSampleSSHD = ".no-fail2ban-reference/sshd"
)

func init() {
	if tr, err := f2bref.Find(); err == nil {
		f2bTree = tr
		f2bConfigDir = tr.ConfDir
		f2bSSHDConf = filepath.Join(tr.ConfDir, "filter.d", "sshd.conf")
		f2bSampleSSHD = filepath.Join(tr.SampleLogs, "sshd")
	}
}

// f2bPythonCmd runs python3 with the reference fail2ban importable.
func f2bPythonCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(f2bPython, args...)
	if f2bTree != nil {
		cmd.Env = append(os.Environ(), "PYTHONPATH="+f2bTree.PyPath)
	}
	return cmd
}

// f2bNow is Fail2Ban's sample-test "now" (2005-08-14 10:00:00 UTC), so that
// year inference of the sample file's dates matches its expectations.
var f2bNow = time.Unix(1124013600, 0)

// requireFail2Ban skips the test when Fail2Ban is not installed, or fails it
// when BANFLEET_E2E=1 (CI) says the prerequisites must be there.
func requireFail2Ban(t testing.TB, needPython bool) {
	t.Helper()
	missing := ""
	for _, p := range []string{f2bSSHDConf, f2bSampleSSHD} {
		if _, err := os.Stat(p); err != nil {
			missing = p
		}
	}
	if missing == "" && needPython {
		if err := f2bPythonCmd("-c", "import fail2ban.server.failregex").Run(); err != nil {
			missing = f2bPython + " with the fail2ban module"
		}
	}
	if missing == "" {
		return
	}
	msg := fmt.Sprintf("fail2ban 1.0.2 not found (missing %s; run e2e/scripts/fail2ban.sh)", missing)
	if os.Getenv("BANFLEET_E2E") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// oracleResult is one line of testdata/f2b_oracle.py's output: Fail2Ban's
// single-line regex result.
type oracleResult struct {
	Rule    int      `json:"rule"`
	Nofail  bool     `json:"nofail"`
	IP      *string  `json:"ip"`
	DNS     *string  `json:"dns"`
	User    *string  `json:"user"`
	Date    *float64 `json:"date"`
	Content *string  `json:"content"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// runOracle asks Fail2Ban (mode normal, usedns no) about each line, with
// "now" pinned and classic timestamps read in UTC.
func runOracle(t *testing.T, lines []string, now time.Time) []oracleResult {
	t.Helper()
	var in bytes.Buffer
	for _, l := range lines {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := f2bPythonCmd("testdata/f2b_oracle.py", f2bConfigDir, "normal", "no")
	cmd.Env = append(cmd.Environ(), "TZ=UTC", "BANFLEET_NOW="+strconv.FormatInt(now.Unix(), 10))
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("f2b_oracle.py: %v\n%s", err, stderr.String())
	}
	var res []oracleResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r oracleResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("oracle output %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	if len(res) != len(lines) {
		t.Fatalf("oracle answered %d of %d lines\n%s", len(res), len(lines), stderr.String())
	}
	return res
}

func mustSSHD(t testing.TB, loc *time.Location) *sshdFilter {
	t.Helper()
	f, err := Builtin("sshd", Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	return f.(*sshdFilter)
}
