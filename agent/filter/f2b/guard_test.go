package f2b

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

const guardPfx = "Nov 26 06:35:46 host sshd[123]: "

// loadRefSSHD reads the reference Fail2Ban's sshd.conf in a mode through
// config/fail2ban and compiles it.
func loadRefSSHD(t testing.TB, mode string, guard bool) *Compiled {
	tr := f2bref.Require(t)
	def, err := fail2ban.LoadFilter(tr.ConfDir, "sshd[mode="+mode+"]", nil)
	require.NoError(t, err)
	c, err := Compile(Definition{Name: "sshd", PrefRegex: def.PrefRegex, FailRegex: def.FailRegex, IgnoreRegex: def.IgnoreRegex,
		MaxLines: def.MaxLines, DatePattern: def.DatePattern, UseDNS: def.UseDNS},
		Options{Dates: newSyslogDates, Location: time.UTC, AddressGuard: guard})
	require.NoError(t, err)
	return c
}

// guardCases: the injection lines of agent/filter's sshd_test.go. fail2ban
// is what Fail2Ban 1.0.2 (and the engine without the guard) credits;
// injected is the address client text planted; want/addr is the guarded
// result.
var guardCases = []struct {
	name, line         string
	fail2ban, injected string
	want               filter.Verdict
	addr               string
}{
	{"user name carries from-port-ssh2-colon (brief)", "Failed password for invalid user ' from 192.0.2.66 port 22 ssh2: ' from 203.0.113.10 port 4444 ssh2",
		"192.0.2.66", "192.0.2.66", filter.Ignored, ""},
	{"two from in invalid user", "Invalid user x from 192.0.2.66 from 203.0.113.9 port 1",
		"203.0.113.9", "192.0.2.66", filter.Failed, "203.0.113.9"},
	{"invalid user with port and ssh2", "Invalid user x from 192.0.2.66 port 22 ssh2 from 203.0.113.9 port 4444",
		"203.0.113.9", "192.0.2.66", filter.Failed, "203.0.113.9"},
	{"invalid user swallowing on", "Invalid user x from 192.0.2.66 on from 203.0.113.9 port 4444",
		"203.0.113.9", "192.0.2.66", filter.Failed, "203.0.113.9"},
	{"CVE-2007-4321: from in user name", "Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2",
		"127.0.0.1", "10.10.1.1", filter.Ignored, ""},
	{"CVE-2007-4321: full tail in user name", "Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
		"127.0.0.1", "10.10.1.2", filter.Ignored, ""},
	{"gh-1479: ssh1 ruser of a valid user", "Failed password for user from 127.0.0.1 port 20000 ssh1: ruser from 1.2.3.4",
		"127.0.0.1", "1.2.3.4", filter.Ignored, ""},
	{"hostbased client user of a valid user", `Failed hostbased for root from 203.0.113.9 port 4444 ssh2: RSA SHA256:x, client user "a from 192.0.2.66 port 22 ssh2: ", client host "h"`,
		"203.0.113.9", "192.0.2.66", filter.Ignored, ""},
	{"publickey extra and user both name addresses", "Failed publickey for invalid user x from 192.0.2.66 port 22 ssh2: y from 203.0.113.9 port 4444 ssh2: ED25519 SHA256:abc",
		"192.0.2.66", "192.0.2.66", filter.Ignored, ""},
	{"password extra and user both name addresses", "Failed password for invalid user x from 192.0.2.66 port 22: y from 203.0.113.9 port 4444 ssh2: z",
		"192.0.2.66", "192.0.2.66", filter.Ignored, ""},
	{"max auth attempts with injected tail", "error: maximum authentication attempts exceeded for invalid user x from 192.0.2.66 port 22 ssh2 from 203.0.113.9 port 4444 ssh2 [preauth]",
		"203.0.113.9", "192.0.2.66", filter.Failed, "203.0.113.9"},
	{"pam message with injected from", "error: PAM: Authentication failure for x from 192.0.2.66 from 203.0.113.9",
		"203.0.113.9", "192.0.2.66", filter.Failed, "203.0.113.9"},
	{"change of username: on swallows the real address", "Disconnecting invalid user x 192.0.2.66 on 203.0.113.9 port 4444: Change of username or service not allowed: (x 192.0.2.66 on,ssh-connection) -> (y,ssh-connection) [preauth]",
		"192.0.2.66", "192.0.2.66", filter.Ignored, ""},
	{"change of username: phrase in the user name", "Disconnecting invalid user x 192.0.2.66 port 22: Change of username or service not allowed: z 203.0.113.9 port 4444: Change of username or service not allowed: (x,ssh-connection) -> (y,ssh-connection) [preauth]",
		"192.0.2.66", "192.0.2.66", filter.Ignored, ""},
	{"ipv6 in user name", "Invalid user x from 2001:db8::66 from 2001:db8::9 port 1",
		"2001:db8::9", "2001:db8::66", filter.Failed, "2001:db8::9"},
	{"ordinary failure", "Failed password for invalid user admin from 203.0.113.9 port 4444 ssh2",
		"203.0.113.9", "", filter.Failed, "203.0.113.9"},
}

var guardNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestAddressGuard(t *testing.T) {
	for _, mode := range []string{"normal", "aggressive"} {
		plain, guarded := loadRefSSHD(t, mode, false), loadRefSSHD(t, mode, true)
		for _, c := range guardCases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				line := []byte(guardPfx + c.line)
				r := plain.New().Process(line, guardNow)
				require.Equal(t, c.fail2ban, r.Host, "without the guard: Fail2Ban's address")
				g := guarded.New().Process(line, guardNow)
				require.Equal(t, r.Rule, g.Rule, "the guard never changes the rule")
				require.Equal(t, c.want, g.Verdict)
				if c.addr == "" {
					require.False(t, g.Addr.IsValid(), "address %v", g.Addr)
					require.Empty(t, g.Host)
				} else {
					require.Equal(t, netip.MustParseAddr(c.addr), g.Addr)
				}
				if c.injected != "" {
					require.NotEqual(t, c.injected, g.Host)
					require.NotEqual(t, c.injected, g.Addr.String())
				}
			})
		}
	}
}

// TestAddressGuardMLFID: an ambiguous address of a helper line is never
// remembered for the connection and credited later (Fail2Ban 1.0.2, mode
// normal, credits 192.0.2.66 here).
func TestAddressGuardMLFID(t *testing.T) {
	lines := [][]string{
		{"Disconnecting: Too many authentication failures [preauth]",
			"Connection closed by invalid user x 192.0.2.66 on 203.0.113.9 port 1 [preauth]"},
		{"Connection closed by invalid user x 192.0.2.66 on 203.0.113.9 port 1 [preauth]",
			"Disconnecting: Too many authentication failures [preauth]"},
	}
	for _, mode := range []string{"normal", "aggressive"} {
		for _, guard := range []bool{false, true} {
			c := loadRefSSHD(t, mode, guard)
			for _, seq := range lines {
				m := c.New()
				var credited []string
				for _, l := range seq {
					f, v := m.Match([]byte(guardPfx+l), guardNow)
					if v == filter.Failed {
						credited = append(credited, f.Addr.String())
					}
				}
				t.Logf("mode %s guard %v %q: credited %v", mode, guard, seq[0][:20], credited)
				if !guard && mode == "normal" && seq[0][0] == 'D' {
					require.Equal(t, []string{"192.0.2.66"}, credited, "Fail2Ban's result")
				}
				if guard {
					require.NotContains(t, credited, "192.0.2.66", "mode %s: %q", mode, seq)
				}
			}
		}
	}
}

// FuzzAddressGuard: with the guard, a Failed verdict's address is either the
// only address the line names, or the rule, given every other address, does
// not read it (the guard's splice). Checked here in its weakest, rule-free
// form: the address occurs in the line, and the unguarded engine agrees.
func FuzzAddressGuard(f *testing.F) {
	c := loadRefSSHD(f, "aggressive", true)
	p := loadRefSSHD(f, "aggressive", false)
	for _, gc := range guardCases {
		f.Add(gc.line)
	}
	for _, l := range newAuthLog(3).lines(40, 1) {
		if i := strings.Index(string(l), ": "); i >= 0 {
			f.Add(string(l[i+2:]))
		}
	}
	f.Fuzz(func(t *testing.T, msg string) {
		if strings.ContainsAny(msg, "\n\r") || len(msg) > 400 {
			return
		}
		line := []byte(guardPfx + msg)
		g := c.New().Process(line, guardNow)
		r := p.New().Process(line, guardNow)
		if g.Rule != r.Rule {
			t.Fatalf("rule %d, unguarded %d", g.Rule, r.Rule)
		}
		if g.Verdict != filter.Failed {
			return
		}
		if r.Verdict != filter.Failed || r.Addr != g.Addr || r.Host != g.Host {
			t.Fatalf("guarded %v %s, unguarded %v %s", g.Verdict, g.Addr, r.Verdict, r.Addr)
		}
		// every other address of the line: either none, or the guard
		// proved the rule cannot read it
		b := []byte(g.Line + "\n")
		for i := 0; i < len(b); {
			ts, _, a, next := nextAddr(b, i, len(b)-1)
			i = next
			if ts < 0 {
				break
			}
			if a != g.Addr {
				m := c.New()
				m.Process(line, guardNow)
				ri := g.Rule
				gi := &c.failGuard[ri]
				sp, ok := m.searchGuard(c.fail[ri], b)
				if !ok {
					t.Fatalf("rule %d no longer matches %q", ri, b)
				}
				hs, he, h, _ := gi.hostSpan(b, sp)
				if amb, _ := m.ambiguous(c.fail[ri], gi, b, hs, he, h, nil); amb {
					t.Fatalf("%q: Failed %s although ambiguous", msg, g.Addr)
				}
			}
		}
	})
}
