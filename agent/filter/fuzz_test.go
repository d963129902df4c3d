package filter

import (
	"bytes"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func FuzzParseSyslogPrefix(f *testing.F) {
	for _, l := range noiseLines {
		f.Add(l)
	}
	for _, c := range sshdCases {
		f.Add(c.line)
	}
	f.Add("Feb 29 12:00:00 h sshd[1]: x")
	f.Add("2026-11-26T06:35:46.999999999999-23:59 h [sshd] x")
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		b := []byte(line)
		p, ok := ParseSyslogPrefix(b, now, time.UTC)
		if !ok {
			if (p.Time != time.Time{}) || p.Host != nil || p.Daemon != nil || p.Msg != nil || p.PID != 0 {
				t.Fatalf("not ok but fields set: %+v", p)
			}
			return
		}
		if p.Time.IsZero() || p.Time.Location() != time.UTC {
			t.Fatalf("bad time %v", p.Time)
		}
		if p.Time.After(now.Add(24*time.Hour)) && !(len(b) > 4 && b[4] == '-') {
			t.Fatalf("classic time %v more than a day after now", p.Time)
		}
		if !bytes.HasSuffix(b, p.Msg) || !bytes.Contains(b, p.Daemon) || !bytes.Contains(b, p.Host) {
			t.Fatalf("fields are not parts of the line: %+v", p)
		}
		if p.PID < 0 {
			t.Fatalf("negative pid %d", p.PID)
		}
	})
}

// fuzzSuffix is, per rule, what must follow the blamed address in the line:
// the part of the rule after <HOST>.
var fuzzSuffix = func() map[int]*regexp.Regexp {
	after := map[int]string{
		0:  `^\]?( via \S+)?<SUFF>$`,
		1:  `^\]?<SUFF>$`,
		2:  `^\]?<ONP>(?: ssh\d*)?(?:: |<NFT>$)`,
		3:  `^\]?<ONP>(?: ssh\d*)?(?:: |<NFT>$)`,
		4:  `^`,
		5:  `^\]?<SUFF>$`,
		6:  `^\]? not allowed because not listed in AllowUsers<SUFF>$`,
		7:  `^\]? not allowed because listed in DenyUsers<SUFF>$`,
		8:  `^\]? not allowed because not in any group<SUFF>$`,
		9:  `^\]?\)`,
		10: `^\]?<ONP>:\s*3: .*: Auth fail<SUFF>$`,
		11: `^\]? not allowed because a group is listed in DenyGroups<SUFF>$`,
		12: `^\]? not allowed because none of user's groups are listed in AllowGroups<SUFF>$`,
		13: `^\]?(?:\s+user=\S*)?<SUFF>$`,
		14: `^\]?<ONP>(?: ssh\d*)?<SUFF>$`,
		16: `^\]?<ONP>:\s*Change of username or service not allowed:\s*.*\[preauth\]\s*$`,
		18: `^\]?<ONP>:\s*11:`,
		19: `^\]?(?:<SUFF>|\s*)$`,
		21: `^`,
	}
	m := map[int]*regexp.Regexp{}
	for k, v := range after {
		m[k] = compileRule(v, sshdRepl)
	}
	return m
}()

var addrRun = regexp.MustCompile(`[0-9A-Fa-f:.]+`)

// addrFollowedBy reports whether some address text in line that denotes addr
// is followed by text matching suffix.
func addrFollowedBy(line []byte, addr netip.Addr, suffix *regexp.Regexp) bool {
	for _, loc := range addrRun.FindAllIndex(line, -1) {
		run := line[loc[0]:loc[1]]
		// An IPv4-mapped "::ffff:1.2.3.4" or a run glued to a ':' suffix:
		// try every start and end inside the run.
		for s := 0; s < len(run); s++ {
			for e := min(len(run), s+45); e > s; e-- { // 45: longest address text
				a, err := netip.ParseAddr(string(run[s:e]))
				if err == nil && a.Unmap() == addr && suffix.Match(line[loc[0]+e:]) {
					return true
				}
			}
		}
	}
	return false
}

func FuzzSSHD(f *testing.F) {
	for _, c := range sshdCases {
		f.Add(c.line)
	}
	for _, c := range injectionCases {
		f.Add(c.line)
	}
	for _, l := range append(append(noiseLines, failureLines...), ignoredLines...) {
		f.Add(l)
	}
	if data, err := os.ReadFile(f2bSampleSSHD); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				f.Add(l)
			}
		}
	}
	flt := mustSSHD(f, time.UTC)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		b := []byte(line)
		fail, v := flt.Match(b, now)
		switch v {
		case NoMatch, BadLine:
			if fail != (Failure{}) {
				t.Fatalf("%v with data %+v", v, fail)
			}
			return
		case Failed, Ignored:
		default:
			t.Fatalf("verdict %v", v)
		}
		if fail.Rule < 0 || fail.Rule >= len(flt.rules) {
			t.Fatalf("rule %d", fail.Rule)
		}
		if v == Failed && !fail.Addr.IsValid() {
			t.Fatalf("failure without address: %+v", fail)
		}
		if fail.Addr.IsValid() {
			if fail.Addr.Is4In6() {
				t.Fatalf("mapped address %v", fail.Addr)
			}
			suffix := fuzzSuffix[fail.Rule]
			if suffix == nil {
				t.Fatalf("rule %d gave an address", fail.Rule)
			}
			if !addrFollowedBy(b, fail.Addr, suffix) {
				t.Fatalf("address %v not found followed by %s in %q", fail.Addr, suffix, line)
			}
		}
		// Match must not retain or alias the line.
		user := fail.User
		for i := range b {
			b[i] = '#'
		}
		if fail.User != user {
			t.Fatal("Failure.User aliases the line")
		}
	})
}
