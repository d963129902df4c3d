// Package authlog writes realistic, reproducible /var/log/auth.log files
// with their ground truth, to test and benchmark sshd filters (banfleet's
// agent/filter against Fail2Ban's filter.d/sshd.conf), and runs Fail2Ban's
// fail2ban-regex over them.
//
//	st, err := authlog.Generate(w, authlog.Options{Lines: 1_000_000, Seed: 1, Format: authlog.ISO})
//	// st.ByKind, st.Truth: for each attack line, its kind and real source
//
// # What a log holds
//
// A log is a simulation: connections, sessions and jobs start at random
// times (about one every 1.6 s) and log their lines with realistic delays,
// so their lines interleave as in a real auth.log. Timestamps increase
// strictly (by at least 1 µs), in Options.Start's location; every sshd
// connection has its own pid, as Fail2Ban's per-connection state expects.
//
// 30 % of the lines (AttackShare) belong to attacking sshd connections,
// texts as OpenSSH 9.x on Debian 12 writes them:
//
//   - failures of every kind Fail2Ban's sshd filter knows in mode normal
//     (see the Failure kinds; a few, such as ROOT LOGIN REFUSED, the
//     "error: PAM: …" lines and "Disconnecting: Too many authentication
//     failures", come from older or non-Debian sshd builds and are kept
//     because the filter still has rules for them);
//   - the companion lines around them: Fail2Ban's NOFAIL helpers (the
//     pam_unix "authentication failure" line, "Connection closed by …
//     [preauth]", "Received disconnect … 11: …", "Failed publickey" for an
//     existing user) and pre-authentication chatter no rule matches
//     ("check pass; user unknown", "PAM 2 more authentication failures",
//     kex and banner errors, timeouts).
//
// Bots try a few passwords per connection (15 % go on to MaxAuthTries),
// mostly invalid user names or root. Sources are documentation addresses
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32): eleven
// heavy hitters (Zipf-weighted) open 40 % of the attacking connections, the
// rest of the IPv4 space 35 %, and random IPv6 addresses, mostly seen once,
// about 20 %.
//
// The other 70 % is noise: logins by legitimate users (198.51.100.0/25,
// 2001:db8:1::/48) with their pam_unix session, systemd-logind and
// session-scope lines and, minutes later, their logout; CRON runs
// (session opened, CMD, session closed); sudo; kernel UFW BLOCK lines;
// systemd units starting and finishing.
//
// About once per 10,000 lines (InjectionEvery) an attacker writes another
// address, a Victim (one that never attacks, or a legitimate client's),
// into text sshd logs for it: the user name ("' from V port 22 ssh2: '",
// "x from V", "x V on", one with a newline), a disconnect reason, a client
// identification string. User names are cut to 100 bytes and escaped as
// sshd's log.c does (strnvis: "\n", "\ooo"), so no line can be forged;
// only the position of text inside one line is at stake.
//
// # Ground truth
//
// Every line of an attacking connection gets a Truth: its line number,
// Kind, the connection's real source address (also on lines that do not
// show it), the injected address if the line shows one, and the connection
// id (the sshd pid). Stats.Truth holds them; Options.Truth streams them as
// JSON lines (ReadTruth reads them back) for logs too big to keep them in
// memory. Noise lines have no Truth.
//
// # Fail2Ban
//
// RunFail2Ban runs a Fail2Ban tree's fail2ban-regex (internal/testutil/f2bref) over
// a log with filter.d/sshd.conf and returns the failures it reports, each
// attributed to its line, with the child's wall and CPU time and peak RSS;
// Fail2BanArgs explains the options. The package's tests check that
// Fail2Ban recognises every generated failure kind. BenchmarkSSHDFilter
// measures agent/filter on a generated log, and e2e/cmd/filterbench
// compares banfleet with Fail2Ban on a full-size one.
//
// Generate is deterministic for a given Options and version of this
// package; the mix may change between versions.
package authlog
