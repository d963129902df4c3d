// Package f2b runs Fail2Ban filters (filter.d) the way Fail2Ban 1.0.2's
// daemon does, fast enough for the agent's hot path.
//
// # Shape
//
// config/fail2ban reads a filter.d file into a [Definition] (final regex
// strings that still hold Fail2Ban's tags). [Compile] checks and compiles it
// once into an immutable [Compiled]; each log source gets its own [Matcher]
// from [Compiled.New], which holds that source's state (multi-line buffer,
// the MLFID cache tying a connection's lines together, the last date):
//
//	c, err := f2b.Compile(def, f2b.Options{Dates: newDateFinder})
//	m := c.New()
//	fail, v := m.Match(line, time.Now())         // filter.Filter's fast path
//	res := m.Process(line, time.Now())           // everything, for tools and tests
//	fail, v = m.MatchAt(journalLine, entryTime)  // journal: no date in the text
//
// A Matcher implements filter.Filter's methods, but unlike the built-in
// filters it is stateful and not safe for concurrent use: give each log
// source its own and feed it the source's lines in order.
//
// # What is reproduced (S/failregex.py, S/filter.py)
//
//   - Tags: <HOST> (<ADDR> when usedns = no), <ADDR>, <IP4>, <IP6>, <DNS>,
//     <CIDR>, <SUBNET>, <SKIPLINES>, <F-ID/>, <F-PORT/>, <F-X>…</F-X> as
//     (?P<x>…) lower-cased (ID → fid, PORT → fport; a close tag never opened
//     stays literal), and the "((?i)x)" → "(?i:x)" rewrite. ALT_ groups:
//     alt_<n>[_<digits>] fills <n> when empty (dovecot's F-ALT_USER1 fills
//     user1). Each failregex needs fid, ip4, ip6, dns or mlfid, in itself
//     or in the prefregex. The tests compare all of this with Fail2Ban's
//     own functions.
//   - Per line, in the daemon's mode (checkAllRegex off): the date found by
//     the DateFinder is cut out of the line; the buffer is the last maxlines
//     lines joined with "\n" plus "\n"; ignoreregex first when there are
//     fewer of them than failregex - 2; the prefregex must match and its
//     content group becomes the buffer; failregex in order, the first match
//     wins, then ignoreregex; groups are the prefregex's overridden by the
//     failregex's; the ID is fid, else ip4, ip6, dns (+cidr); NOFAIL,
//     MLFFORGET and MLFGAINED act through the MLFID cache exactly as
//     _mergeFailure does (cache of 100 connections for 5 minutes, with
//     Fail2Ban's eviction order); a failregex match without any ID is
//     skipped, as Fail2Ban logs it and goes on. Multi-line buffers drop the
//     lines a failregex matched (minus <SKIPLINES>).
//   - No date in a line (or an empty date): the last date if it is less
//     than 60 s older than now, otherwise now. Fail2Ban's further timing
//     rules (entries older than findtime, dates far from now) are the
//     caller's business: Failure.Time is the line's own time.
//   - A date that is no valid time (Feb 30, 24:00:00, an unknown zone):
//     Fail2Ban logs an error and matches the line with the last date or
//     now. Match and MatchAt return BadLine for it (counted in
//     Stats.BadDate; the line is not matched and is not the last date), so
//     a failure never carries a made-up or zero time; Process, for the
//     tools that count as fail2ban-regex, matches it with a zero Time and
//     Result.BadDate.
//
// testdata/gen_samples.py records what Fail2Ban itself decides for every
// line of its sample logs (every stock filter and option set in the
// corpus); TestSamplesAgainstFail2Ban requires the same failregex, ID,
// address, time, groups, attempts and users for every line.
//
// # Regular expressions
//
// Fail2Ban's regexes are Python's. agent/filter/internal/pyre (shared with
// the date detector) parses them into one tree and runs them two ways:
//
//   - For Go's RE2 wherever RE2 can express them exactly. Python's Unicode
//     \s \S \d \D \w \W are written as explicit classes, case-insensitive
//     parts as the exact sets of characters Python matches (Python lowers,
//     Go folds: they differ for İ, ı, ſ, K …), Python's "$" as (?m:$) on
//     one-line buffers (where the only "\n" is the final one), and the
//     buffer keeps its final "\n" as in Fail2Ban. Exact rewrites remove what
//     RE2 lacks: the IPv6 tag's "(?<=:):" (and any lookbehind the
//     neighbouring characters decide), conditionals (?(g)…|…) when the
//     group's taking part is a finite choice (distributed in backtracking
//     order), "(?:(?!X).)*" loops whose end the continuation forces, \b and
//     \B whose neighbours are known or that end the regex. sshd's rules all
//     run on RE2 this way; rules too big for Go's fast backtracker are split
//     into several programs where that is exact (pyre's split.go).
//   - Otherwise on pyre's backtracking engine, which runs the original tree
//     with Python's semantics (lookarounds, backreferences, conditionals,
//     atomic groups, possessive quantifiers) and the same Unicode and case
//     tables. Options.MaxSteps bounds a search: one that needs more is
//     counted in Stats.GaveUp and treated as no match, never a hang.
//
// RE2 programs run on exec.go's runner: the same linear-time backtracking
// algorithm and memory as Go's regexp (so the same match, and no
// catastrophic backtracking whatever the line), with fused literals and
// character-class loops. The tests replay every regex search Fail2Ban made
// in its own sample tests (recorded at test time from the reference tree by
// testdata/gen_records.py, cached under .cache/f2bfixtures) and compare the
// match and every named group; compare the rewritten RE2 forms with the
// backtracking engine on generated lines; compare the runner with Go's
// regexp; compare non-ASCII lines with Python (when /usr/bin/python3
// exists). pyre's own tests compare its parser and engine with searches
// recorded from Python's re, and its Unicode classes with Python's.
//
// Lines that are not valid UTF-8 are matched with Go's rule (each invalid
// byte reads as U+FFFD); Fail2Ban decodes them with Python's "replace",
// which can merge invalid bytes into one U+FFFD. Group values keep the raw
// bytes.
//
// # Addresses
//
// Failure.Addr comes only from the regex's ip4 or ip6 group (the anchors
// Fail2Ban's tags place), parsed as Fail2Ban's IPAddr does
// (IPv4-compatible IPv6 becomes IPv4). A Failed verdict always carries a
// valid address; a failure whose ID is not one (a bad ip4 text such as
// 192.030.0.6, a custom <F-ID>, a host name) is Ignored, with the ID in
// Result.ID.
//
// Options.AddressGuard (off by default, where the engine is Fail2Ban)
// refuses addresses a client could have planted: when the same rule (or
// another failregex of the filter), given the line with the text between
// its address and another address of the line removed, reads that other
// address, and the removed text could sit in a field of the rule (a named
// group such as F-USER, or a place where the rule takes any letter), or
// when another failregex reads a different address from the line, the
// failure is Ignored without an address and is never remembered for a
// multi-line (MLFID) connection. Addresses are compared by value, however
// they are spelt ("::ffff:192.0.2.66", "[192.0.2.66]", "192.000.002.066",
// "2001:DB8:0::66"), and anything that cannot be part of an address
// separates them (a TAB, a no-break space, a control character).
// "Failed password for invalid user ' from 192.0.2.66 port 22 ssh2: '
// from 203.0.113.10 port 4444 ssh2" is then Ignored where Fail2Ban credits
// 192.0.2.66. The guard does not pick the other reading (it cannot prove
// from a rule's shape that the client wrote nothing after the last
// address), so such a line no longer counts against the real client
// either. See guard.go.
//
// banfleet never resolves names. <HOST> still matches a host name when
// usedns is yes, warn or raw (as in Fail2Ban, so that the same rule wins),
// but a <DNS> match is only used when its text is itself an IP address
// (Fail2Ban's searchIP); otherwise the line is Ignored with the name as the
// ID. usedns = no leaves the <DNS> alternative out of <HOST>, as Fail2Ban
// does. With a cidr group (<SUBNET>, <CIDR>), Result.Prefix is the network
// Fail2Ban would ban and Failure.Addr its first address.
//
// # Speed
//
// The agent must process 2,000,000 lines/s on one core with the stock sshd
// filter. What makes that possible:
//
//   - A prefregex of the syslog-header shape "^ P (?P<content>.+)$" (P
//     built from literals, classes and their repeats, optional groups,
//     alternations: common.conf's __prefix_line, banfleet's own sshd.conf
//     _head, whatever their text) runs as a prefix program
//     (pyre.PrefixProg, prefix.go): a backtracking walk over P alone in
//     Python's order, which never reads the message; a line it cannot
//     settle within a step bound goes to the regex.
//   - A line that lacks a word every prefregex match needs, or, for every
//     failregex, a word that one needs (chosen so that few words cover
//     all failregexes), is rejected before its date is looked for
//     (lineFilter in compile.go; single-line file filters without
//     ignoreregex, with Fail2Ban's default date templates).
//   - Each regex has a prefilter derived from its tree: literal prefixes
//     (or a small set of them), possible first bytes, literals every match
//     contains. A dispatch table picks, from the content's first byte, the
//     failregex that can match; only those that pass their prefilter run.
//   - The runner, the buffers and the MLFID cache reuse their memory: a
//     line that matches nothing allocates nothing, and failures allocate only
//     the user name handed out in filter.Failure.
//
// bench_test.go measures the sshd filter on a generated auth.log of
// sessions (brute-force connections, logins, cron, sudo).
package f2b
