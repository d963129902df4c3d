package filter

import (
	"testing"
	"time"
)

// noiseLines are typical auth.log/syslog lines that are not sshd failures.
var noiseLines = []string{
	"Nov 26 06:35:01 host CRON[4242]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
	"Nov 26 06:35:01 host CRON[4243]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
	"Nov 26 06:35:02 host kernel: [1234567.890123] [UFW BLOCK] IN=eth0 OUT= MAC=00:00 SRC=203.0.113.9 DST=198.51.100.1 LEN=40",
	"Nov 26 06:35:03 host sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update",
	"Nov 26 06:35:03 host sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
	"Nov 26 06:35:04 host systemd-logind[612]: New session 42 of user alice.",
	"Nov 26 06:35:05 host sshd[9001]: Accepted publickey for alice from 198.51.100.7 port 50022 ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4",
	"Nov 26 06:35:05 host sshd[9001]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
	"Nov 26 06:35:06 host sshd[9001]: Accepted password for bob from 198.51.100.8 port 50023 ssh2",
	"Nov 26 06:35:07 host sshd[9001]: pam_unix(sshd:session): session closed for user alice",
	"Nov 26 06:35:07 host sshd[9001]: Disconnected from user alice 198.51.100.7 port 50022",
	"Nov 26 06:35:08 host sshd[612]: Server listening on 0.0.0.0 port 22.",
	"Nov 26 06:35:08 host sshd[9002]: Postponed publickey for alice from 198.51.100.7 port 50024 ssh2 [preauth]",
	"Nov 26 06:35:09 host sshd[9003]: User child is on pid 9004",
	// These two begin like a rule, so a regular expression runs (and fails).
	"Nov 26 06:35:09 host sshd[9006]: Received disconnect from 203.0.113.9 port 4444:14: No supported authentication methods available [preauth]",
	"Nov 26 06:35:09 host sshd[9007]: Authentication refused: bad ownership or modes for directory /home/alice",
	"2026-11-26T06:35:10.123456+00:00 host CRON[4244]: pam_unix(cron:session): session closed for user root",
	"2026-11-26T06:35:10.223456+00:00 host sshd-session[9005]: Accepted publickey for alice from 2001:db8::7 port 50025 ssh2: ED25519 SHA256:Zm9v",
	"2026-11-26T06:35:10.323456+00:00 host sshd-session[9005]: pam_unix(sshd:session): session opened for user alice(uid=1000) by alice(uid=0)",
	"2026-11-26T06:35:11.423456+00:00 host systemd[1]: Started session-42.scope - Session 42 of User alice.",
}

// failureLines are sshd failures, as seen under a brute-force attack.
var failureLines = []string{
	"Nov 26 06:36:01 host sshd[9101]: Invalid user admin from 203.0.113.9 port 41022",
	"Nov 26 06:36:01 host sshd[9101]: Failed password for invalid user admin from 203.0.113.9 port 41022 ssh2",
	"Nov 26 06:36:02 host sshd[9102]: Failed password for root from 203.0.113.10 port 41023 ssh2",
	"Nov 26 06:36:02 host sshd[9103]: error: maximum authentication attempts exceeded for root from 203.0.113.11 port 41024 ssh2 [preauth]",
	"Nov 26 06:36:03 host sshd[9104]: Failed publickey for invalid user git from 203.0.113.12 port 41025 ssh2: RSA SHA256:Zm9vYmFy",
	"2026-11-26T06:36:04.123456+00:00 host sshd-session[9105]: Failed password for invalid user oracle from 2001:db8::66 port 41026 ssh2",
	"2026-11-26T06:36:04.223456+00:00 host sshd-session[9105]: Invalid user oracle from 2001:db8::66 port 41026",
	"Nov 26 06:36:05 host sshd[9106]: Disconnecting invalid user admin 203.0.113.13 port 44004: Change of username or service not allowed: (admin,ssh-connection) -> (user,ssh-connection) [preauth]",
}

// ignoredLines match a NOFAIL rule: the preauth chatter around every attack.
var ignoredLines = []string{
	"Nov 26 06:36:01 host sshd[9101]: Connection closed by invalid user admin 203.0.113.9 port 41022 [preauth]",
	"Nov 26 06:36:01 host sshd[9101]: Received disconnect from 203.0.113.9 port 41022:11: Bye Bye [preauth]",
	"Nov 26 06:36:02 host sshd[9102]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.10  user=root",
	"Nov 26 06:36:02 host sshd[9102]: Disconnected from authenticating user root 203.0.113.10 port 41023 [preauth]",
}

func benchLines(b *testing.B, lines []string, want Verdict) {
	f := mustSSHD(b, time.UTC)
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	bs := make([][]byte, len(lines))
	for i, l := range lines {
		bs[i] = []byte(l)
		if _, v := f.Match(bs[i], now); v != want {
			b.Fatalf("%q: verdict %v, want %v", l, v, want)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f.Match(bs[i%len(bs)], now)
	}
}

func BenchmarkSSHDNoise(b *testing.B)   { benchLines(b, noiseLines, NoMatch) }
func BenchmarkSSHDFailure(b *testing.B) { benchLines(b, failureLines, Failed) }
func BenchmarkSSHDIgnored(b *testing.B) { benchLines(b, ignoredLines, Ignored) }

func BenchmarkParseSyslogPrefix(b *testing.B) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	bs := make([][]byte, len(noiseLines))
	for i, l := range noiseLines {
		bs[i] = []byte(l)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := ParseSyslogPrefix(bs[i%len(bs)], now, time.UTC); !ok {
			b.Fatal("parse failed")
		}
	}
}
