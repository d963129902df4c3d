// Package journal is the agent's systemd journal source: it follows the
// journal the way Fail2Ban 1.0.2's systemd backend (server/filtersystemd.py)
// does and hands each entry over as the line Fail2Ban's filters would see.
//
// # Reading the journal
//
// A [Source] runs journalctl as a subprocess rather than reading journal
// files itself: journalctl is the reference reader and copes with every
// file format version, compression, rotation and vacuuming, and no cgo is
// needed. It is started as
//
//	journalctl --output=export --output-fields=MESSAGE,_HOSTNAME,... \
//	    --no-pager --quiet --no-tail --merge --follow \
//	    (--directory=DIR | --file=GLOB... | --system) \
//	    (--cursor=CURSOR | --since=@UNIX.USEC) [-- MATCH... [+ MATCH...]...]
//
// The export format is used, not JSON: it carries any field byte for byte
// (JSON turns non-UTF-8 values into number arrays and, without --all, fields
// over 4 KiB into null), and it is cheap to decode: no escapes, binary
// values are length-prefixed. --output-fields keeps journalctl from writing
// the fields nobody reads. --no-tail is required: with --follow and a
// cursor, journalctl otherwise shows only the last 10 entries. --merge is
// required too: without it --follow implies --boot, so only the newest boot
// in the journal is shown (entries written before a reboot, or a journal
// directory holding several boots, are silently skipped), an empty journal
// is an error, and a --since that finds nothing misses later files.
//
// With Files, journalctl cannot --follow (systemd 252 refuses with "Failed
// to get journal fd"), so it reads to the end, exits, and is run again every
// PollInterval from the last cursor. Without Directory or Files it reads
// the system journal files, not the users' (--system --merge: the flags
// Fail2Ban opens the journal with by default, SD_JOURNAL_SYSTEM without
// LOCAL_ONLY); reading them needs root or the systemd-journal group.
//
// # Where reading starts
//
//   - First start (no cursor): entries from now - Options.Since on
//     (--since). Fail2Ban seeks to max(saved time, now - findtime), so a
//     jail's findtime is the natural Since. The start time is fixed when Run
//     begins, so a journalctl restart before the first entry neither skips
//     nor repeats anything. A lookback reaching before 1970 reads the whole
//     journal.
//   - Resume (Options.Cursor, saved from [Source.Cursor] or [Entry.Cursor]):
//     every entry after the cursor, however old. Fail2Ban resumes by time and
//     never reads more than findtime back; here the consumer's findtime
//     check drops stale failures instead.
//   - The seek is inclusive (--cursor) and the entry equal to the cursor is
//     skipped by the source. journalctl --after-cursor is not used: when the
//     cursor's entry has been vacuumed it skips the first remaining entry
//     too (see TestE2EResumeAfterVacuum).
//   - A cursor journalctl would refuse ([ValidCursor]) is logged and
//     ignored: the source starts as on a first start.
//
// When journalctl exits (in follow mode any exit is unexpected) or its output
// cannot be decoded, it is killed if needed and restarted from the last
// delivered cursor after a backoff of 250 ms doubling to 30 s (reset after an
// entry was delivered or a run lasted a minute). Its stderr is logged. Only a
// failure to start the very first journalctl ends Run with an error
// ([ErrStart]); Run returns nil when its context ends, after killing
// journalctl and waiting for it. journalctl runs in its own process group
// (terminal signals go to the agent, which stops it) with PR_SET_PDEATHSIG
// SIGKILL so it does not outlive an agent that is killed.
//
// # Matches
//
// [ParseMatch] turns a filter's journalmatch into groups as Fail2Ban does:
// each line is split with shell rules (shlex.split) and added as its own
// match, so lines are ORed; "+" separates OR groups inside a line. Terms are
// passed to journalctl unchanged, so sd-journal's semantics apply exactly as
// in Fail2Ban: within a group, terms on the same field are ORed and terms on
// different fields ANDed.
//
// # Lines and times
//
// [FormatEntry] reproduces formatJournalEntry, including what python-systemd's
// converters do to the raw values first. Verified against Fail2Ban's own
// code by testdata/gen_golden.py:
//
//   - "HOST IDENT[PID]: MESSAGE", elements joined by one space. HOST is
//     _HOSTNAME, left out when empty or missing. IDENT is SYSLOG_IDENTIFIER,
//     or _COMM when that is empty or missing; without either, neither the PID
//     nor the ':' is written ("HOST MESSAGE").
//   - PID is SYSLOG_PID, or _PID when SYSLOG_PID is missing, empty or zero
//     after Python's int(). Python's int() rules apply: " 42 ", "+7",
//     "1_000" and "007" are numbers; "0" and "-0" are false (no PID); a value
//     int() refuses is tried as int(v, 0) ("0x1f" prints 31) and otherwise
//     printed as Python's bytes repr, "[b'abc']". Numbers of more than 4300
//     decimal digits are refused, as CPython does.
//   - IDENT "kernel" without a PID gets " [%12.6f]" of
//     _SOURCE_MONOTONIC_TIMESTAMP (or __MONOTONIC_TIMESTAMP) in seconds.
//   - A MESSAGE that occurs several times in one entry is joined with spaces;
//     a missing MESSAGE is "" (the line then ends in ": ").
//   - Values are decoded as UTF-8 with Python's "replace" handler: each
//     maximal invalid subpart becomes one U+FFFD (Fail2Ban's logencoding is
//     assumed to be UTF-8). NUL, tab and CR are kept.
//   - Every '\n' becomes the two characters `\n`, so an entry is one line.
//
// Entry.Time is _SOURCE_REALTIME_TIMESTAMP when present, otherwise
// __REALTIME_TIMESTAMP, as in Fail2Ban; it is the exact microsecond (Fail2Ban
// goes through a local-time struct, which is off by the DST change for
// entries on the other side of one).
//
// Where Fail2Ban raises and loses the entry, the source still delivers a line:
// a kernel entry with no usable monotonic time (the bracket is left out), an
// unconvertible _SOURCE_REALTIME_TIMESTAMP (the realtime is used), and fields
// other than MESSAGE that repeat (the first value is used). A field value
// longer than Options.MaxField (1 MiB by default) is cut and counted.
package journal
