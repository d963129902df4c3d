// Package filter recognises abuse in log lines the way Fail2Ban's filter.d
// filters do, and says which address to blame.
//
// # Shape
//
// A [Filter] takes one line and returns a [Verdict] and a [Failure]:
//
//	f, err := filter.Builtin("sshd", filter.Options{})
//	fail, v := f.Match(line, time.Now())
//	if v == filter.Failed { publish(fail.Addr, fail.Time, fail.User) }
//
// Filters are immutable and safe for concurrent use. The agent runs Match on
// every line it reads, so the common path is cheap: a line that cannot match
// is rejected without allocating and before any regular expression runs.
//
// # The sshd filter
//
// The built-in "sshd" filter reproduces Fail2Ban 1.0.2's filter.d/sshd.conf
// (Debian 12) in mode = normal with publickey = nofail, one line at a time:
//
//  1. [ParseSyslogPrefix], a hand-written zero-allocation parser, reads the
//     timestamp (classic "Nov 26 06:35:46" or the ISO 8601 form rsyslog
//     writes by default on Debian 12 and Ubuntu 24.04), the host and the tag.
//     A line without a valid timestamp and tag is BadLine.
//  2. The tag's program must be "sshd" or "sshd-session" (OpenSSH 9.8+),
//     compared as bytes. (Fail2Ban's prefregex does not check the program;
//     it also does not know "sshd-session".)
//  3. sshd.conf's optional "error: " / "fatal: " / "error: PAM: " is removed.
//  4. Each failregex of sshd.conf starts with a literal, so the first bytes
//     of the message pick the one to three rules that can match, and keyword
//     checks drop the rest ("pam_unix(sshd:session)", "Disconnected from
//     user …", "Accepted …", …). Only then do regular expressions run, in
//     Fail2Ban's order; the first match wins, as in the Fail2Ban daemon.
//
// The rules are sshd.conf's own, after Fail2Ban's interpolation, written in
// Fail2Ban's notation and translated mechanically to Go's RE2: \s, \S, \d,
// \w get Python's Unicode meaning; the two rules with a conditional group and
// a "(?! from )" lookahead ("Failed … for …") are rewritten exactly: the
// conditional is distributed over its alternatives in backtracking order, and
// the lookahead becomes the regular language of strings without " from ".
// The package's tests check the translation against Fail2Ban itself
// (testdata/f2b_oracle.py) on the sample log shipped with Fail2Ban and on
// thousands of generated lines, and check the sample's own expectations.
// Failure.Rule is the index in Fail2Ban's normal-mode failregex list.
//
// <HOST> is Fail2Ban's <ADDR>, as with usedns = no: banfleet bans addresses
// and never resolves names that clients can influence through reverse DNS.
// Lines that name a host (sshd with UseDNS yes) do not match.
//
// # Verdicts
//
// Failed is a failure with an address. Ignored covers lines a rule matched
// but that are not failures on their own: Fail2Ban's NOFAIL helpers (the
// pam_unix "authentication failure" line, "Connection closed by …",
// "Received disconnect … 11:", "Connection from …", "Failed publickey" for a
// valid user) and failures without a usable address. "Accepted …" is
// NoMatch: it only matters to multi-line state.
//
// # Addresses come only from the anchors
//
// Clients choose the user name sshd logs for an invalid user, and sometimes
// other text (hostbased client names, certificate key ids). An address is
// taken only from where the structure of sshd's message puts it. Which lines
// match, and which rule, is always Fail2Ban's answer; only the address (and
// the user that goes with it) can differ, and only on lines that name more
// than one address:
//
//   - Rules whose client-chosen user precedes <HOST> and which end at the
//     end of the line take the rightmost <HOST> that fits: the client cannot
//     write after it. Fail2Ban's "Invalid user" and "Connection closed by …
//     user" rules take the leftmost. For "Connection closed by invalid user
//     x 192.0.2.66 on 203.0.113.9 port 4444 [preauth]" Fail2Ban captures
//     192.0.2.66 (its " on \S+" suffix swallows the real address); after an
//     address-less failure on the same connection ("Disconnecting: Too many
//     authentication failures"), Fail2Ban 1.0.2 in mode normal turns that
//     into a failure of 192.0.2.66 (checked with fail2ban-regex).
//   - "Failed … for invalid user …": if the line ends in "from A port N
//     ssh2", A is used. Fail2Ban takes the first word of the user name when
//     it is followed by "from A … ssh2: ", so the user name
//     "' from 192.0.2.66 port 22 ssh2: '" makes Fail2Ban 1.0.2 ban 192.0.2.66
//     while the client is 203.0.113.9. When the line has a ": extra" part
//     and names several addresses that way, none is used (Ignored). This
//     follows modern sshd, whose extra parts never end in client text; only
//     SSH-1's "ruser" did (gone since OpenSSH 7.6), and Fail2Ban's sample
//     log keeps one such case, where it expects the first address
//     (sample_test.go lists it).
//   - "Disconnecting invalid user U A port N: Change of username or service
//     not allowed: (U,…) -> (U2,…)": the client chooses U and U2. The
//     phrase must occur once (else Ignored); the address is then the last
//     that fits right before it. Fail2Ban takes the address after the first
//     word of U, so U = "x 192.0.2.66 on" makes it ban 192.0.2.66.
//   - For a valid user the name is an account name, which a client cannot
//     shape, and Fail2Ban's choice stands: client text (hostbased client
//     names, certificate key ids) only comes after a ':' that Fail2Ban's
//     regex for such lines does not cross.
//
// Matching is linear in the line's length: Go's regexp is, and the search
// for the rightmost address tries a few positions before falling back to one
// whole-line regex. A 64 KiB crafted line takes milliseconds.
//
// # Other differences from Fail2Ban
//
//   - A line without a valid timestamp is BadLine; Fail2Ban would match it
//     and date it "now".
//   - Failure.Time keeps fractional seconds; Fail2Ban drops them.
//   - An address text that net/netip rejects (e.g. "192.030.0.6", octal or
//     decimal?) makes the line Ignored; Fail2Ban bans the raw string.
//   - Only lines tagged sshd or sshd-session are considered; Fail2Ban's
//     prefix also accepts lines with no tag at all.
//
// # Not yet
//
// Fail2Ban's sshd filter keys a connection's lines by "host sshd[pid]"
// (F-MLFID) to attribute address-less failures ("Disconnecting: Too many
// authentication failures", "User root not allowed because account is
// locked"), to turn repeated pam_unix failures for different users into a
// failure, and to forget failures after "Accepted". That needs per-connection
// state; this package is stateless, so those lines are Ignored and the
// affected sample cases are listed in sample_test.go. When that state comes,
// it must take the helper lines' addresses from the anchors too (see the
// Fail2Ban example above). Modes ddos, extra and aggressive, the journal and
// RFC 5424 log types, and usedns are not built in.
//
// # Growing into a filter.d engine
//
// A later filter loaded from filter.d (INI with [INCLUDES], %(x)s and <tag>
// interpolation, prefregex, datepattern, maxlines, regexp2 for the regexes
// RE2 cannot run) implements the same [Filter] interface and reports
// Failure.Rule in the same numbering, so callers need not know which kind
// they hold. The pieces here are meant to be reused: ParseSyslogPrefix for
// {^LN-BEG} syslog dates, pyToRE2 for the Python-to-RE2 rewrite, the
// candidate pre-selection by literal prefix (derivable from any ^-anchored
// regex), and the oracle and sample-file tests, which are written against
// Fail2Ban's files rather than against this filter. Multi-line state would
// sit behind the same interface, keyed by the prefix's host, tag and pid.
package filter
