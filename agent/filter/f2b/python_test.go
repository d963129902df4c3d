package f2b

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// pythonRe runs Python 3.11's re (the one Fail2Ban uses) as an oracle. It
// skips the test when /usr/bin/python3 is missing, unless BANFLEET_E2E=1.
func pythonRe(t *testing.T, script string, in any) json.RawMessage {
	t.Helper()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("BANFLEET_E2E") == "1" {
			t.Fatalf("python oracle: %v", err)
		}
		t.Skipf("python oracle: %v", err)
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	return out
}

type pyCase struct {
	Re  string `json:"re"`
	Ml  bool   `json:"ml"`
	Buf string `json:"buf"`
}

type pyRes struct {
	M bool              `json:"m"`
	G map[string]string `json:"g"`
}

const pySearch = `
import re, sys, json
out = []
for c in json.load(sys.stdin):
    m = re.compile(c['re'], re.M if c['ml'] else 0).search(c['buf'])
    out.append({'m': bool(m), 'g': {k: v for k, v in m.groupdict().items() if v is not None} if m else {}})
json.dump(out, sys.stdout)
`

// TestNonASCIIAgainstPython runs regexes with \s \S \d \w \b, case folding
// and Fail2Ban's tags on lines with non-ASCII characters through both
// engines and Python.
func TestNonASCIIAgainstPython(t *testing.T) {
	d := loadSSHD(t, "aggressive")
	regexes := append([]string{}, d.FailRegex...)
	regexes = append(regexes,
		`^user (?P<user>\w+) from <HOST>\b`,
		`(?P<w>\w+)\s+(?P<d>\d+)\b`,
		`\bfoo\b`,
		`(?i)^login failed for (?P<user>\S+)`,
		`^(?i:failed) (?P<x>[\w.-]+)$`,
		`(?P<a>\W+)(?P<b>\D+)(?P<c>\S+)`,
		`^(?P<u>[^\s]+)\s+<ADDR>`,
		`client (?P<x>.+?)\b<HOST>`,
		`(?i)(?P<x>admin)`,
		`(?i)(?P<x>[a-z]+)`,
		`(?i)(?P<x>[^a-z ]+)`,
		`(?i:s)(?P<x>k)`,
		`(?i)(?P<x>[sk]+)`,
		`(?ai)(?P<x>admin|[a-z]+)`,
		`(?i)(?P<x>[\w]+)x`,
		`(?i)(?P<x>ǆ|σ+|µ)`,
		`(?i)(?P<x>[ǅ-ǆ]|[Σσ]+)`,
		`(?i)(?P<x>\d+|[0-9A-F]{2,})`,
	)
	lines := []string{
		"Failed password for invalid user jörg from 192.0.2.1 port 22 ssh2",
		"Failed password for invalid user Ωmega from 2001:db8::1 port 22 ssh2",
		"Invalid user müller from 192.0.2.7 port 4242",
		"Invalid user\u00a0nbsp from 192.0.2.7 port 4242",
		"Invalid user x from ١٢٣.١.١.١ port 1",
		"Invalid user x from münchen.example port 1",
		"Invalid user x from host_名前 port 1",
		"Connection closed by authenticating user żółw 192.0.2.9 port 22 [preauth]",
		"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=\u3000 rhost=192.0.2.3  user=δ",
		"user ǅungla from 192.0.2.4é",
		"user abc from 192.0.2.4 x",
		"ｆｏｏ 123 foo bar",
		"LOGIN FAILED FOR İstanbul",
		"login failed for ıi",
		"FAILED ſtraße.example",
		"  é\u2003x٣4",
		"x\u2028y 192.0.2.1",
		"client name\u00e9192.0.2.5",
		"Accepted publickey for ünïcödé from 192.0.2.8 port 22 ssh2: RSA SHA256:x",
		"ADMİN admın ADMIN ſK\u212a Kelvin",
		"ǅungla ǄU ΣΑΣ ςσ µΜμ ΐ ẞß ﬅﬆ ᲀв 1F ٣٤",
		"xɐⱯ ǈǇ İ",
		"Disconnecting authenticating user Ŧ 192.0.2.10 port 22: Change of username or service not allowed: (x,ssh-connection) -> (y,ssh-connection) [preauth]",
	}
	var cases []pyCase
	var rxs []*regex
	for _, re := range regexes {
		r, err := compileRegex("failregex", 0, re, "yes", false, false, 0)
		require.NoError(t, err, re)
		for _, l := range lines {
			cases = append(cases, pyCase{Re: r.src, Buf: l + "\n"})
			rxs = append(rxs, r)
		}
	}
	var py []pyRes
	require.NoError(t, json.Unmarshal(pythonRe(t, pySearch, cases), &py))
	var st searchState
	matched := 0
	for i, c := range cases {
		r := rxs[i]
		buf := []byte(c.Buf)
		check := func(engine string, spans []int, ok bool) {
			require.Equal(t, py[i].M, ok, "%s: %q on %q", engine, r.src, c.Buf)
			if !ok {
				return
			}
			g := map[string]string{}
			for n := 1; n <= r.ngroups; n++ {
				if name := r.names[n]; name != "" && spans[2*n] >= 0 {
					g[name] = c.Buf[spans[2*n]:spans[2*n+1]]
				}
			}
			want := py[i].G
			if want == nil {
				want = map[string]string{}
			}
			require.Equal(t, want, g, "%s: %q on %q", engine, r.src, c.Buf)
		}
		if r.progs != nil {
			spans, ok, err := r.search(&st, buf, nil)
			require.NoError(t, err)
			check("re2", spans, ok)
		}
		spans := make([]int, 2*(r.ngroups+1))
		ok, err := r.searchBT(&st, buf, spans)
		require.NoError(t, err)
		check("backtrack", spans, ok)
		if py[i].M {
			matched++
		}
	}
	t.Logf("%d searches (%d matches) identical to Python on both engines", len(cases), matched)
}
