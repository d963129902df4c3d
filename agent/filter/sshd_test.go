package filter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const pfx = "Nov 26 06:35:46 host sshd[123]: "

// testNow is "now" for the table tests; classic lines are read in UTC.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type sshdCase struct {
	name string
	line string
	want Verdict
	addr string // "" means no address
	user string
	rule int
	time string // RFC 3339; empty means 2026-11-26T06:35:46Z for matched lines
}

// sshdCases covers every normal-mode rule and the main non-matches. Each line
// is also checked against Fail2Ban itself by TestCompatMatchesFail2Ban.
var sshdCases = []sshdCase{
	// Failures.
	{name: "failed password", line: pfx + "Failed password for root from 203.0.113.9 port 4444 ssh2", want: Failed, addr: "203.0.113.9", user: "root", rule: 3},
	{name: "failed password invalid user", line: pfx + "Failed password for invalid user admin from 203.0.113.9 port 4444 ssh2", want: Failed, addr: "203.0.113.9", user: "admin", rule: 3},
	{name: "failed none ipv6", line: pfx + "Failed none for invalid user admin from 2001:db8::1 port 4444 ssh2", want: Failed, addr: "2001:db8::1", user: "admin", rule: 3},
	{name: "failed keyboard-interactive/pam", line: pfx + "Failed keyboard-interactive/pam for invalid user jamedds from 205.186.180.77 port 33723 ssh2", want: Failed, addr: "205.186.180.77", user: "jamedds", rule: 3},
	{name: "failed password empty user", line: pfx + "Failed password for invalid user  from 192.0.2.68 port 34916 ssh2", want: Failed, addr: "192.0.2.68", user: "", rule: 3},
	{name: "failed publickey invalid user", line: pfx + "Failed publickey for invalid user git from 203.0.113.9 port 4444 ssh2: RSA SHA256:v3dpapGleDaUKf$4V1vKyR9ZyUgjaJAmoCTcb2PLljI", want: Failed, addr: "203.0.113.9", user: "git", rule: 2},
	{name: "failed hostbased", line: pfx + `Failed hostbased for dan from 127.0.0.1 port 45785 ssh2: RSA 8c:e3:aa:0f:64:51:02:f7:14:79:89:3f:65:84:7c:30, client user "dan", client host "localhost.localdomain"`, want: Failed, addr: "127.0.0.1", user: "dan", rule: 3},
	{name: "pam authentication failure", line: pfx + "error: PAM: Authentication failure for myhlj1374 from 192.0.2.6", want: Failed, addr: "192.0.2.6", user: "myhlj1374", rule: 0},
	{name: "pam authentication error via", line: pfx + "error: PAM: authentication error for james from 205.186.180.88 via 192.168.1.201", want: Failed, addr: "205.186.180.88", user: "james", rule: 0},
	{name: "user not known", line: pfx + "error: PAM: User not known to the underlying authentication module for illegal user kernelitshell from 10.215.4.227 ", want: Failed, addr: "10.215.4.227", user: "illegal user kernelitshell", rule: 1},
	{name: "root login refused mapped", line: pfx + "ROOT LOGIN REFUSED FROM ::ffff:1.2.3.4 port 12345 [preauth]", want: Failed, addr: "1.2.3.4", user: "ROOT", rule: 4},
	{name: "invalid user", line: pfx + "Invalid user ftp from 192.0.2.2 port 37220", want: Failed, addr: "192.0.2.2", user: "ftp", rule: 5},
	{name: "illegal user", line: pfx + "Illegal user ftp from 192.0.2.2", want: Failed, addr: "192.0.2.2", user: "ftp", rule: 5},
	{name: "allowusers", line: pfx + "User root from 211.188.220.49 not allowed because not listed in AllowUsers", want: Failed, addr: "211.188.220.49", user: "root", rule: 6},
	{name: "denyusers", line: pfx + "User root from 46.45.128.3 not allowed because listed in DenyUsers", want: Failed, addr: "46.45.128.3", user: "root", rule: 7},
	{name: "no group", line: pfx + "User allena from 192.0.2.9 not allowed because not in any group", want: Failed, addr: "192.0.2.9", user: "allena", rule: 8},
	{name: "refused connect", line: pfx + "refused connect from _U2FsdGVkX19P3BCJmFBHhjLza8BcMH06WCUVwttMHpE=_@::ffff:218.249.210.161 (::ffff:218.249.210.161)", want: Failed, addr: "218.249.210.161", rule: 9},
	{name: "disconnect 3 auth fail", line: pfx + "error: Received disconnect from 10.0.0.1 port 7736:3: com.jcraft.jsch.JSchException: Auth fail [preauth]", want: Failed, addr: "10.0.0.1", rule: 10},
	{name: "denygroups", line: pfx + "User root from 192.51.100.54 not allowed because a group is listed in DenyGroups", want: Failed, addr: "192.51.100.54", user: "root", rule: 11},
	{name: "allowgroups", line: pfx + "User root from 10.0.0.40 not allowed because none of user's groups are listed in AllowGroups", want: Failed, addr: "10.0.0.40", user: "root", rule: 12},
	{name: "max auth attempts", line: pfx + "error: maximum authentication attempts exceeded for root from 61.0.0.1 port 49940 ssh2 [preauth]", want: Failed, addr: "61.0.0.1", user: "root", rule: 14},
	{name: "max auth attempts invalid", line: pfx + "error: maximum authentication attempts exceeded for invalid user oracle from 2001:db8::7 port 49940 ssh2 [preauth]", want: Failed, addr: "2001:db8::7", user: "invalid user oracle", rule: 14},
	{name: "change of username", line: pfx + "Disconnecting invalid user admin 192.0.2.117 port 44004: Change of username or service not allowed: (admin,ssh-connection) -> (user,ssh-connection) [preauth]", want: Failed, addr: "192.0.2.117", user: "admin", rule: 16},

	// NOFAIL helpers and address-less failures: Ignored.
	{name: "failed publickey valid user", line: pfx + "Failed publickey for git from 192.0.2.1 port 57904 ssh2: ECDSA SHA256:0eff", want: Ignored, addr: "192.0.2.1", user: "git", rule: 3},
	{name: "pam_unix auth failure", line: pfx + "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.112  user=root", want: Ignored, addr: "192.0.2.112", user: "root", rule: 13},
	{name: "pam_unix auth failure ruser", line: pfx + "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=sudoer rhost=192.0.2.114", want: Ignored, addr: "192.0.2.114", user: "sudoer", rule: 13},
	{name: "account locked", line: pfx + "User root not allowed because account is locked", want: Ignored, user: "root", rule: 15},
	{name: "too many failures", line: pfx + "Disconnecting: Too many authentication failures for root [preauth]", want: Ignored, user: "root", rule: 17},
	{name: "disconnect 11", line: pfx + "error: Received disconnect from 198.51.100.34: 11: Bye Bye [preauth]", want: Ignored, addr: "198.51.100.34", rule: 18},
	{name: "disconnect 11 logout", line: pfx + "Received disconnect from 203.0.113.9 port 4444:11: disconnected by user", want: Ignored, addr: "203.0.113.9", rule: 18},
	{name: "connection closed preauth", line: pfx + "Connection closed by 192.0.2.111 port 22 [preauth]", want: Ignored, addr: "192.0.2.111", rule: 19},
	{name: "connection closed authenticating", line: pfx + "Connection closed by authenticating user root 192.0.2.10 port 46038 [preauth]", want: Ignored, addr: "192.0.2.10", user: "root", rule: 19},
	{name: "disconnected authenticating", line: pfx + "Disconnected from authenticating user admin 192.0.2.6 port 33553 [preauth]", want: Ignored, addr: "192.0.2.6", user: "admin", rule: 19},
	{name: "connection from", line: pfx + "Connection from 192.0.2.5 port 50000 on 10.0.0.1 port 22 rdomain \"\"", want: Ignored, addr: "192.0.2.5", rule: 21},
	{name: "leading zero address", line: pfx + "Failed password for root from 192.030.0.6 port 22 ssh2", want: Ignored, user: "root", rule: 3},

	// Not failures.
	{name: "accepted password", line: pfx + "Accepted password for root from 203.0.113.9 port 4444 ssh2", want: NoMatch},
	{name: "accepted publickey", line: pfx + "Accepted publickey for git from 192.0.2.1 port 57904 ssh2: ED25519 SHA256:abc", want: NoMatch},
	{name: "session opened", line: pfx + "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)", want: NoMatch},
	{name: "session closed", line: pfx + "pam_unix(sshd:session): session closed for user root", want: NoMatch},
	{name: "disconnected from user", line: pfx + "Disconnected from user root 203.0.113.9 port 4444", want: NoMatch},
	{name: "postponed", line: pfx + "Postponed publickey for git from 192.0.2.1 port 57904 ssh2 [preauth]", want: NoMatch},
	{name: "server listening", line: pfx + "Server listening on 0.0.0.0 port 22.", want: NoMatch},
	{name: "break-in attempt", line: pfx + "Address 1.2.3.4 maps to 1234.bbbbbb.com, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!", want: NoMatch},
	{name: "ddos mode only", line: pfx + "Did not receive identification string from 69.61.56.114", want: NoMatch},
	{name: "extra mode only", line: pfx + "Unable to negotiate with 192.0.2.1 port 55419: no matching cipher found. Their offer: aes256-cbc [preauth]", want: NoMatch},
	{name: "userauth request", line: pfx + "input_userauth_request: invalid user root [preauth]", want: NoMatch},
	{name: "host name (usedns=no)", line: pfx + "User root from example.com not allowed because not listed in AllowUsers", want: NoMatch},
	{name: "connection reset by peer", line: pfx + "Connection reset by peer", want: NoMatch},
	{name: "other daemon", line: "Nov 26 06:35:46 host cron[1]: Failed password for root from 1.2.3.4 port 22 ssh2", want: NoMatch},
	{name: "sshd as a word in the message", line: "Nov 26 06:35:46 host sudo[1]: sshd[2]: Failed password for root from 1.2.3.4 port 22 ssh2", want: NoMatch},
	{name: "empty message", line: "Nov 26 06:35:46 host sshd[123]:", want: NoMatch},
	{name: "only error prefix", line: pfx + "error: ", want: NoMatch},

	// Prefix forms.
	{name: "sshd-session", line: "Nov 26 06:35:46 host sshd-session[123]: Failed password for root from 203.0.113.9 port 4444 ssh2", want: Failed, addr: "203.0.113.9", user: "root", rule: 3},
	{name: "no host", line: "Nov 26 06:35:46 sshd[8148]: Invalid user x from 203.0.113.9 port 1", want: Failed, addr: "203.0.113.9", user: "x", rule: 5},
	{name: "bracketed daemon without colon", line: "Nov 26 06:35:46 [sshd] User root from 1.2.3.4 not allowed because not listed in AllowUsers", want: Failed, addr: "1.2.3.4", user: "root", rule: 6},
	{name: "daemon with qualifier", line: "Nov 26 06:35:46 host sshd(pam_unix)[4920]: Invalid user x from 203.0.113.9", want: Failed, addr: "203.0.113.9", user: "x", rule: 5},
	{name: "solaris id", line: "Nov 26 06:35:46 dusky sshd[20878]: [ID 800047 auth.info] Failed keyboard-interactive for <invalid username> from 205.186.180.55 port 42742 ssh2", want: Failed, addr: "205.186.180.55", user: "<invalid username>", rule: 3},
	{name: "day without padding", line: "Feb 7 16:01:07 linux sshd[5106]: Invalid user x from 203.0.113.9", want: Failed, addr: "203.0.113.9", user: "x", rule: 5, time: "2026-02-07T16:01:07Z"},
	{name: "space padded day", line: "Jan  5 01:31:41 www sshd[1643]: ROOT LOGIN REFUSED FROM 1.2.3.4", want: Failed, addr: "1.2.3.4", user: "ROOT", rule: 4, time: "2026-01-05T01:31:41Z"},
	{name: "future date is last year", line: "Dec 24 10:00:00 www sshd[1643]: ROOT LOGIN REFUSED FROM 1.2.3.4", want: Failed, addr: "1.2.3.4", user: "ROOT", rule: 4, time: "2025-12-24T10:00:00Z"},
	{name: "iso utc offset", line: "2026-11-26T06:35:46.123456+00:00 host sshd[123]: Invalid user x from 203.0.113.9 port 1", want: Failed, addr: "203.0.113.9", user: "x", rule: 5, time: "2026-11-26T06:35:46.123456Z"},
	{name: "iso negative offset", line: "2026-11-26T01:35:46-05:00 host sshd[123]: Invalid user x from 203.0.113.9 port 1", want: Failed, addr: "203.0.113.9", user: "x", rule: 5, time: "2026-11-26T06:35:46Z"},
	{name: "iso zulu", line: "2026-11-26T06:35:46Z host sshd[123]: Invalid user x from 203.0.113.9 port 1", want: Failed, addr: "203.0.113.9", user: "x", rule: 5},
	{name: "iso sshd-session", line: "2026-11-26T06:35:46.5+00:00 host sshd-session[77]: Failed password for invalid user oracle from 2001:db8::9 port 51234 ssh2", want: Failed, addr: "2001:db8::9", user: "oracle", rule: 3, time: "2026-11-26T06:35:46.5Z"},

	// Bad lines.
	{name: "garbage", line: "garbage", want: BadLine},
	{name: "empty", line: "", want: BadLine},
	{name: "bad month", line: "Foo 26 06:35:46 host sshd[123]: Invalid user x from 1.2.3.4", want: BadLine},
	{name: "february 30", line: "Feb 30 06:35:46 host sshd[123]: Invalid user x from 1.2.3.4", want: BadLine},
	{name: "hour 24", line: "Nov 26 24:00:00 host sshd[123]: Invalid user x from 1.2.3.4", want: BadLine},
	{name: "iso month 13", line: "2026-13-26T06:35:46+00:00 host sshd[123]: Invalid user x from 1.2.3.4", want: BadLine},
	{name: "date only", line: "Nov 26 06:35:46", want: BadLine},
	{name: "no tag", line: "Nov 26 06:35:46 host", want: BadLine},
}

func checkCase(t *testing.T, f Filter, c sshdCase, now time.Time) {
	t.Helper()
	fail, v := f.Match([]byte(c.line), now)
	require.Equal(t, c.want, v, "verdict for %q (got %+v)", c.line, fail)
	if v == NoMatch || v == BadLine {
		require.Equal(t, Failure{}, fail)
		return
	}
	if c.addr == "" {
		require.False(t, fail.Addr.IsValid(), "address %v", fail.Addr)
	} else {
		require.Equal(t, netip.MustParseAddr(c.addr), fail.Addr)
	}
	require.Equal(t, c.user, fail.User)
	require.Equal(t, c.rule, fail.Rule)
	wantTime := "2026-11-26T06:35:46Z"
	if c.time != "" {
		wantTime = c.time
	}
	wt, err := time.Parse(time.RFC3339Nano, wantTime)
	require.NoError(t, err)
	require.True(t, wt.Equal(fail.Time), "time %v, want %v", fail.Time, wt)
}

func TestSSHD(t *testing.T) {
	f := mustSSHD(t, time.UTC)
	for _, c := range sshdCases {
		t.Run(c.name, func(t *testing.T) { checkCase(t, f, c, testNow) })
	}
}

// injectionCases: client-controlled text (user names, hostbased client
// names, key comments) tries to make the filter blame another address.
// fail2ban notes what Fail2Ban 1.0.2 itself blames (checked by
// TestCompatMatchesFail2Ban through the oracle).
var injectionCases = []struct {
	sshdCase
	fail2ban string
}{
	{sshdCase{name: "user name carries from-port-ssh2-colon (brief)", line: pfx + "Failed password for invalid user ' from 192.0.2.66 port 22 ssh2: ' from 203.0.113.9 port 4444 ssh2",
		want: Failed, addr: "203.0.113.9", user: "' from 192.0.2.66 port 22 ssh2: '", rule: 3}, "192.0.2.66"},
	{sshdCase{name: "two from in invalid user (brief)", line: pfx + "Invalid user x from 192.0.2.66 from 203.0.113.9 port 1",
		want: Failed, addr: "203.0.113.9", user: "x from 192.0.2.66", rule: 5}, "203.0.113.9"},
	{sshdCase{name: "invalid user with port and ssh2", line: pfx + "Invalid user x from 192.0.2.66 port 22 ssh2 from 203.0.113.9 port 4444",
		want: Failed, addr: "203.0.113.9", user: "x from 192.0.2.66 port 22 ssh2", rule: 5}, "203.0.113.9"},
	{sshdCase{name: "invalid user swallowing on", line: pfx + "Invalid user x from 192.0.2.66 on from 203.0.113.9 port 4444",
		want: Failed, addr: "203.0.113.9", user: "x from 192.0.2.66 on", rule: 5}, "203.0.113.9"},
	{sshdCase{name: "CVE-2007-4321: from in user name", line: pfx + "Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2",
		want: Failed, addr: "127.0.0.1", user: "from 10.10.1.1", rule: 3}, "127.0.0.1"},
	{sshdCase{name: "CVE-2007-4321: full tail in user name", line: pfx + "Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
		want: Failed, addr: "127.0.0.1", user: "test from 10.10.1.2 port 55555 ssh2", rule: 3}, "127.0.0.1"},
	{sshdCase{name: "gh-1479: ssh1 ruser of a valid user", line: pfx + "Failed password for user from 127.0.0.1 port 20000 ssh1: ruser from 1.2.3.4",
		want: Failed, addr: "127.0.0.1", user: "user", rule: 3}, "127.0.0.1"},
	{sshdCase{name: "gh-1479: ssh1 ruser, ssh2-looking", line: pfx + "Failed rsa for root from 127.0.0.1 port 20000 ssh1: ruser x from 1.2.3.4 port 22 ssh2",
		want: Failed, addr: "127.0.0.1", user: "root", rule: 3}, "127.0.0.1"},
	{sshdCase{name: "hostbased client user of a valid user", line: pfx + `Failed hostbased for root from 203.0.113.9 port 4444 ssh2: RSA SHA256:x, client user "a from 192.0.2.66 port 22 ssh2: ", client host "h"`,
		want: Failed, addr: "203.0.113.9", user: "root", rule: 3}, "203.0.113.9"},
	{sshdCase{name: "publickey extra and user both name addresses", line: pfx + "Failed publickey for invalid user x from 192.0.2.66 port 22 ssh2: y from 203.0.113.9 port 4444 ssh2: ED25519 SHA256:abc",
		want: Ignored, user: "x", rule: 2}, "192.0.2.66"},
	{sshdCase{name: "password extra and user both name addresses", line: pfx + "Failed password for invalid user x from 192.0.2.66 port 22: y from 203.0.113.9 port 4444 ssh2: z",
		want: Ignored, user: "x", rule: 3}, "192.0.2.66"},
	{sshdCase{name: "max auth attempts with injected tail", line: pfx + "error: maximum authentication attempts exceeded for invalid user x from 192.0.2.66 port 22 ssh2 from 203.0.113.9 port 4444 ssh2 [preauth]",
		want: Failed, addr: "203.0.113.9", user: "invalid user x from 192.0.2.66 port 22 ssh2", rule: 14}, "203.0.113.9"},
	{sshdCase{name: "pam message with injected from", line: pfx + "error: PAM: Authentication failure for x from 192.0.2.66 from 203.0.113.9",
		want: Failed, addr: "203.0.113.9", user: "x from 192.0.2.66", rule: 0}, "203.0.113.9"},
	{sshdCase{name: "connection closed: user with addresses", line: pfx + "Connection closed by authenticating user test 127.0.0.1 port 12345 192.0.2.11 port 46039 [preauth]",
		want: Ignored, addr: "192.0.2.11", user: "test 127.0.0.1 port 12345", rule: 19}, "192.0.2.11"},
	{sshdCase{name: "connection closed: on swallows the real address", line: pfx + "Connection closed by invalid user x 192.0.2.66 on 203.0.113.9 port 4444 [preauth]",
		want: Ignored, addr: "203.0.113.9", user: "x 192.0.2.66 on", rule: 19}, "192.0.2.66"},
	{sshdCase{name: "change of username: on swallows the real address", line: pfx + "Disconnecting invalid user x 192.0.2.66 on 203.0.113.9 port 4444: Change of username or service not allowed: (x 192.0.2.66 on,ssh-connection) -> (y,ssh-connection) [preauth]",
		want: Failed, addr: "203.0.113.9", user: "x 192.0.2.66 on", rule: 16}, "192.0.2.66"},
	{sshdCase{name: "change of username: phrase in the user name", line: pfx + "Disconnecting invalid user x 192.0.2.66 port 22: Change of username or service not allowed: z 203.0.113.9 port 4444: Change of username or service not allowed: (x,ssh-connection) -> (y,ssh-connection) [preauth]",
		want: Ignored, user: "x", rule: 16}, "192.0.2.66"},
	{sshdCase{name: "ipv6 in user name", line: pfx + "Invalid user x from 2001:db8::66 from 2001:db8::9 port 1",
		want: Failed, addr: "2001:db8::9", user: "x from 2001:db8::66", rule: 5}, "2001:db8::9"},
}

func TestSSHDInjection(t *testing.T) {
	f := mustSSHD(t, time.UTC)
	for _, c := range injectionCases {
		t.Run(c.name, func(t *testing.T) {
			checkCase(t, f, c.sshdCase, testNow)
			var tr matchTrace
			f.match([]byte(c.line), testNow, &tr)
			require.Equal(t, c.fail2ban, tr.ip, "what Fail2Ban's regex captures")
			if c.fail2ban != c.addr && c.want == Failed {
				t.Logf("Fail2Ban 1.0.2 blames %s here; banfleet blames %s", c.fail2ban, c.addr)
			}
		})
	}
}

// TestSSHDInjectionAgainstFail2Ban runs the injection lines through the real
// Fail2Ban and checks which address it blames, so the claims above (and in
// doc.go) about Fail2Ban crediting a spoofed address stay true.
func TestSSHDInjectionAgainstFail2Ban(t *testing.T) {
	requireFail2Ban(t, true)
	lines := make([]string, len(injectionCases))
	for i, c := range injectionCases {
		lines[i] = c.line
	}
	res := runOracle(t, lines, testNow)
	for i, c := range injectionCases {
		require.Equal(t, c.fail2ban, deref(res[i].IP), "Fail2Ban on %q", c.line)
	}
}

func TestBuiltin(t *testing.T) {
	f, err := Builtin("sshd", Options{})
	require.NoError(t, err)
	require.Equal(t, "sshd", f.Name())

	_, err = Builtin("sshd", Options{Mode: "normal"})
	require.NoError(t, err)

	_, err = Builtin("nginx-http-auth", Options{})
	require.ErrorIs(t, err, ErrUnknownFilter)
	require.Contains(t, err.Error(), `"nginx-http-auth"`)

	_, err = Builtin("sshd", Options{Mode: "aggressive"})
	require.ErrorIs(t, err, ErrUnsupportedMode)
	require.True(t, errors.Is(err, ErrUnsupportedMode))
	require.Contains(t, err.Error(), "aggressive")

	require.Equal(t, []string{"sshd"}, BuiltinNames())
}

func TestVerdictString(t *testing.T) {
	require.Equal(t, "nomatch", NoMatch.String())
	require.Equal(t, "failed", Failed.String())
	require.Equal(t, "ignored", Ignored.String())
	require.Equal(t, "badline", BadLine.String())
	require.Equal(t, "Verdict(9)", Verdict(9).String())
}

// TestRuleTable checks the rule list's invariants. (That it is Fail2Ban's
// list is checked by behaviour, against Fail2Ban, in TestCompatMatchesFail2Ban.)
func TestRuleTable(t *testing.T) {
	f := mustSSHD(t, time.UTC)
	require.Len(t, f.rules, 22, "Fail2Ban 1.0.2 sshd.conf has 22 failregexes in mode normal")
	for i, r := range f.rules {
		require.Equal(t, i, r.idx)
		require.True(t, strings.HasPrefix(r.pattern, "^"), "rule %d must be ^-anchored for candidate selection", i)
		require.Equal(t, r.anchor == anchorRightmost || r.anchor == anchorChangeUser, r.right != nil, "rule %d", i)
		_, hasHost := r.g["ip4"]
		require.Equal(t, !r.hostless, hasHost, "rule %d: hostless must match the absence of <HOST>", i)
	}
}

// TestNoFromLanguage checks the RE2 replacements for Python's
// "(?:(?! from ).)*$" and "(?:(?! from ).)*? from " by enumerating every
// string of up to 9 characters over the alphabet that matters.
func TestNoFromLanguage(t *testing.T) {
	tail := compileRule(`^<NFT>$`, sshdRepl)
	user := compileRule(`^(?P<u><NFU>) from `, sshdRepl)
	var alphabet []byte
	var rec func(prefix []byte, depth int)
	checked := 0
	rec = func(s []byte, depth int) {
		checked++
		str := string(s)
		// Python: every position of s may not start " from " (looking
		// past the end of s only matters for the user case).
		wantTail := !strings.Contains(str, " from ") && !strings.Contains(str, "\n")
		require.Equal(t, wantTail, tail.MatchString(str), "tail %q", str)
		// User case: s followed by " from ", no lookahead from a
		// position inside s may see " from ".
		full := str + " from "
		wantUser := !strings.Contains(str, "\n")
		for i := range len(str) {
			if strings.HasPrefix(full[i:], " from ") {
				wantUser = false
			}
		}
		m := user.FindStringSubmatchIndex(full)
		gotUser := m != nil && m[3] == len(str)
		require.Equal(t, wantUser, gotUser, "user %q", str)
		if depth == 0 {
			return
		}
		for _, c := range alphabet {
			rec(append(s, c), depth-1)
		}
	}
	alphabet = []byte(" fromx\n")
	rec(nil, 6)
	alphabet = []byte(" fromx")
	rec(nil, 7)
	t.Logf("checked %d strings", checked)
}

func TestPyToRE2(t *testing.T) {
	require.Equal(t, pySpace+"+"+pyNonSpace+pyDigit, pyToRE2(`\s+\S\d`))
	require.Equal(t, `[^:]\.`, pyToRE2(`[^:]\.`))
	require.Equal(t, `[]a]`, pyToRE2(`[]a]`))
	require.Panics(t, func() { pyToRE2(`[\s]`) })
	require.Panics(t, func() { pyToRE2(`\b`) })
}

// TestZeroAllocNoMatch: NoMatch and BadLine must not allocate.
func TestZeroAllocNoMatch(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	f := mustSSHD(t, time.UTC)
	lines := append([]string{}, noiseLines...)
	for _, c := range sshdCases {
		if c.want == NoMatch || c.want == BadLine {
			lines = append(lines, c.line)
		}
	}
	for _, line := range lines {
		b := []byte(line)
		allocs := testing.AllocsPerRun(100, func() {
			if _, v := f.Match(b, testNow); v != NoMatch && v != BadLine {
				t.Fatalf("noise line matched: %q", line)
			}
		})
		require.Zero(t, allocs, "allocations for %q", line)
	}
}

// TestSSHDMatchAt: a journal entry as Fail2Ban formats it ("host
// sshd[pid]: msg", time from the journal) gets the same verdict, address,
// user and rule as the syslog line, with the journal's time.
func TestSSHDMatchAt(t *testing.T) {
	f := mustSSHD(t, time.UTC)
	at := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)
	const stamp = "Nov 26 06:35:46 "
	n := 0
	lines := []string{}
	for _, c := range sshdCases {
		lines = append(lines, c.line)
	}
	for _, c := range injectionCases {
		lines = append(lines, c.line)
	}
	for _, line := range lines {
		entry, ok := strings.CutPrefix(line, stamp)
		if !ok {
			continue
		}
		n++
		want, wv := f.Match([]byte(line), testNow)
		got, gv := f.MatchAt([]byte(entry), at)
		require.Equal(t, wv, gv, "%q", entry)
		require.Equal(t, want.Addr, got.Addr, "%q", entry)
		require.Equal(t, want.User, got.User, "%q", entry)
		require.Equal(t, want.Rule, got.Rule, "%q", entry)
		if gv == Failed || gv == Ignored {
			require.True(t, got.Time.Equal(at), "%q: time %v", entry, got.Time)
		}
	}
	require.Greater(t, n, 20)
	// Without a host, as journald's SYSLOG_IDENTIFIER-only form.
	got, v := f.MatchAt([]byte("sshd[7]: Failed password for root from 203.0.113.9 port 1 ssh2"), at)
	require.Equal(t, Failed, v)
	require.Equal(t, "203.0.113.9", got.Addr.String())
	_, v = f.MatchAt(nil, at)
	require.Equal(t, BadLine, v)
}
