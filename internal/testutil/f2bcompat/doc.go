// Package f2bcompat runs Fail2Ban's own filter sample tests (the failJSON
// annotations in fail2ban/tests/files/logs) against a filter engine, with
// the rules of Fail2Ban's tests/samplestestcase.py: filterOptions and
// fileOptions blocks, test.condition and constraint expressions, addFILE,
// journal lines, the "exactly one failure" rule, field and time checks, and
// "every failregex has a sample".
//
// The engine under test is reached through the small Engine interface, so
// the harness knows nothing of how filters are compiled.
package f2bcompat
