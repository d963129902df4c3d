// Package date finds the date in a log line the way Fail2Ban 1.0.2's
// DateDetector does (fail2ban/server/datedetector.py, datetemplate.py,
// strptime.py), so that a filter cuts the same text out of the line and
// gets the same time.
//
// # Use
//
//	d, err := date.New(date.Options{Pattern: filterDatepattern, Location: logtimezone})
//	t, start, end, ok := d.Find(line, time.Now())
//	// line[:start] + line[end:] is what failregex sees
//
// A Detector keeps state, as Fail2Ban's does: it tries the template that
// matched the previous line first (within the same bounds when it is not
// anchored), counts hits and moves templates up its list. Make one per log
// source; it is not safe for concurrent use.
//
// # Templates
//
// Options.Pattern is a datepattern value (one template per line):
//
//   - "" or {DEFAULT}: Fail2Ban's 17 default templates, as the 31 it searches
//     with (a line-anchored copy of each one that is not anchored, first).
//   - {^LN-BEG}: the line-anchored ones only.
//   - a pattern with {DATE}: one template per default pattern put in its
//     place ("^[^\[]*\[({DATE})" in the apache filters).
//   - {NONE} (matches empty text: no date), {UNB} (no word boundaries),
//     EPOCH, LEPOCH, {EPOCH}/{LEPOCH} inside a pattern, TAI64N, with or
//     without {^LN-BEG} or a leading ^.
//   - anything else is a regular expression with strptime directives (%Y,
//     %ExY, %y, %Exy, %m, %d, %H, %k, %I, %l, %M, %S, %f, %p, %a, %A, %b,
//     %B, %z, %Exz, %Z, %ExZ, %j, %U, %W, %w, %c, %x, %X, ... as Fail2Ban's
//     strptime.py defines them). Unless anchored with ^ or {^LN-BEG}, or
//     opened with **, it must start at a word boundary, and unless closed
//     with ** it must end at one.
//
// Templates, their names (which decide duplicates), regexes, flags and
// weights are built by the same string transformations Fail2Ban applies,
// run with the same regex semantics: %a, %b and %p make the whole template
// case-insensitive, %ExY accepts the centuries Fail2Ban derives from the
// current year (Options.Year; 20[0-2]\d in 2026), and so on.
//
// # Regular expressions
//
// Fail2Ban's patterns use Python's re: lookbehinds for the word boundary,
// backreferences ((?P=_sep) in six default templates), conditionals
// (EPOCH), and Unicode \d \w \s \b. They run on agent/filter/internal/pyre,
// the Python-regex front end detection shares with package f2b (one parser,
// one set of Unicode and case tables, one backtracking engine): Python
// 3.11's syntax and matching rules (leftmost match, first alternative
// first, Unicode classes, IGNORECASE as Python lowers case, search with pos
// and endpos). It runs user patterns as written, and it is the reference
// the hand-written matchers are tested against. A search gives up after
// pyre.DefaultMaxSteps steps (no match) where Python would run on.
//
// # Fast paths
//
// Every default template, in each of the forms it takes (line-anchored,
// word-bounded, behind "^[^\[]*\[" or "^"), has a hand-written matcher that
// tries the alternatives of each directive in the order Python's engine
// would, so it finds the same match; they are used whenever the text they
// read is ASCII (other text goes to the engine). Templates that need
// "H:M:S" are skipped, when a line is searched with all templates, if the
// line has no digit-colon-digits-colon-digit. Finding a syslog, ISO 8601 or
// Apache date at the start of a line takes under 100 ns and does not
// allocate.
//
// # Times
//
// As in Fail2Ban: a zone in the line (%z: Z, UTC, GMT, +hh, +hhmm, +hh:mm;
// %Z/%Exz: the abbreviations of strptime.TZ_STR) wins; otherwise
// Options.Location applies (Fail2Ban's logtimezone, see ParseTimeZone; nil
// is time.Local). A date without a year is this year, or last year if that
// would put it more than a day ahead of now; a time without a date is
// today, or yesterday if it is ahead; %y up to 2000 is in this century.
// Fractions of a second (%f) are matched and dropped, as Fail2Ban drops
// them; EPOCH and LEPOCH keep them. Impossible dates (Feb 30, hour 24,
// second 60, an unknown zone name) give no time.
//
// # Compatibility
//
// testdata/f2b_dates.py runs Fail2Ban's DateDetector over every line of its
// sample logs (default templates and the filter's datepattern), over
// synthetic and mutated lines for each default template and each
// datepattern of Debian's filter.d, in several logtimezones and around New
// Year, and records the span and the time; TestFail2BanGolden replays all of
// it (go test -run Golden -update regenerates it).
//
// Known differences, all at the edges:
//
//   - When clocks go back, an hour of wall-clock time happens twice. Python's
//     time.mktime (glibc) reads it with the offset of the previous conversion
//     in the whole process; a Detector uses its own previous conversion.
//   - Fail2Ban raises (and drops the line) on some inputs: a match that
//     starts at the end of the line (IndexError; Find reports no match), a
//     %p group that took no part, an unknown %Z abbreviation or a date
//     shifted out of years 1-9999 (Find reports the span and no time).
//   - Fail2Ban compiles templates at the first search, so a pattern Python
//     cannot compile breaks the jail at its first line; New returns the
//     error.
//   - "Long unused" templates (5 minutes) are judged by the now passed to
//     Find, not by the wall clock.
//   - Python's re has bugs with possessive quantifiers over zero-width
//     groups; pyre does not reproduce them. Fail2Ban's patterns use none.
package date
