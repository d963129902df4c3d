// Package pyre is detection's one Python-regex front end: Fail2Ban's
// failregex (package f2b) and its date patterns (package date) are Python
// 3.11 re patterns (str patterns: Unicode classes unless (?a)), and both
// packages read them here.
//
//   - One parser (syntax.go, after Lib/re/_parser.py) and one tree: flags
//     are resolved while parsing, so every node that depends on one carries
//     it. Patterns Python refuses are refused (SyntaxError).
//   - One set of Unicode and case tables (unicode.go, fold.go): \s is
//     str.isspace(), \d Unicode Nd, \w letters, numbers and '_' (Go's
//     tables; they differ from Python's Unicode 14 only for characters
//     assigned later), and IGNORECASE as Python matches it: x matches a
//     literal c when lower(x) is lower(c) or one of re._casefix's extra
//     cases of it, and a set when lower(x) is in the set's lowered members.
//   - One backtracking engine (compile.go, exec.go) that runs the tree with
//     Python's result for everything (backreferences, lookarounds,
//     conditionals, atomic groups, possessive quantifiers), bounded by a
//     step count instead of running on: Regex.Program, Compile, Machine.
//   - The RE2 writer (re2.go) works from the same tree after exact rewrites
//     (rewrite.go) that remove what RE2 lacks where the neighbouring text
//     decides it, and splits regexes too big for Go's fast backtracker
//     (split.go): Regex.RE2 returns the programs, or none when RE2 cannot
//     run the regex with Python's meaning. Prefilters (prefilter.go) come
//     from the rewritten tree.
//   - Prefix programs (prefix.go): a regex of the syslog-header shape
//     "^ P (?P<content>.+)$" (Fail2Ban's and banfleet's prefregexes) runs
//     as a backtracking walk over P alone, with Python's semantics:
//     Regex.Prefix.
//
// The tests replay searches recorded from Python's re
// (testdata/pyre_oracle.py, kept in testdata/pyre_golden.json.gz; -update
// regenerates it): the same match and span of every group, and the same
// patterns refused.
package pyre
