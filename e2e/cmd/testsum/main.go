// Command testsum runs go test and prints what plain go test prints, then,
// last, a short summary of every failure: each failed test with its failure
// messages (long diagnostics such as the fleet lab's log dumps are left out
// of the summary, not of the output above it), each package that failed
// outside a test (build errors, a panic in a background goroutine, a
// timeout) with its last lines. A long run's failure is thus on its last
// lines, where a CI log tail shows it.
//
//	go run ./e2e/cmd/testsum [go test flags and packages]
//
// It runs `go test -json` with the arguments given and exits with go test's
// exit status. With -v it prints every test's output, as go test -v does.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strings"
)

func main() {
	args := os.Args[1:]
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	// Ctrl-C reaches go test too: let it end, then print the summary.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	go func() {
		for range sig {
		}
	}()
	s := newSummarizer(os.Stdout, slices.Contains(args, "-v") || slices.Contains(args, "-test.v"))
	if err := s.read(out); err != nil {
		fmt.Fprintln(os.Stderr, "testsum: reading go test -json:", err)
		_, _ = io.Copy(io.Discard, out)
	}
	err = cmd.Wait()
	s.summary()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code := ee.ExitCode()
		if code <= 0 {
			code = 1 // killed by a signal
		}
		os.Exit(code)
	case err != nil:
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	case s.failures() > 0:
		os.Exit(1)
	}
}

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail events
}

type testKey struct{ pkg, test string }

// failure is one entry of the summary.
type failure struct {
	what  string // "pkg TestX", or "pkg" for a package
	lines []string
}

// summarizer turns go test -json back into go test's plain output and keeps
// what the final summary needs.
type summarizer struct {
	w       io.Writer
	verbose bool
	output  map[testKey][]string // output of tests still running
	pkgOut  map[string][]string  // package-level output (not of a test)
	build   map[string][]string  // build output, by import path
	failed  []failure
	tests   map[testKey]bool // tests that failed (to find the innermost)

	buildFailed map[string]bool // packages whose build failed
}

func newSummarizer(w io.Writer, verbose bool) *summarizer {
	return &summarizer{w: w, verbose: verbose, output: map[testKey][]string{}, pkgOut: map[string][]string{},
		build: map[string][]string{}, tests: map[testKey]bool{}, buildFailed: map[string]bool{}}
}

// read handles events until r ends. Lines that are not JSON (go test
// writes some, for example when a test binary cannot be built) are printed
// as they are.
func (s *summarizer) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(s.w, sc.Text())
			continue
		}
		s.handle(e)
	}
	s.unfinished("")
	return sc.Err()
}

func (s *summarizer) handle(e event) {
	k := testKey{e.Package, e.Test}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.w, e.Output)
		s.build[e.ImportPath] = append(s.build[e.ImportPath], e.Output)
	case e.Action == "build-fail":
		pkg, _, _ := strings.Cut(e.ImportPath, " ") // "pkg [pkg.test]"
		s.buildFailed[pkg] = true
		s.failed = append(s.failed, failure{what: pkg + " (build failed)", lines: lastLines(s.build[e.ImportPath], maxSummaryLines)})
	case e.Test == "" && e.Action == "output":
		// Package lines: "ok  pkg 1.2s", "FAIL pkg", TestMain's output,
		// panics and timeouts outside a finished test.
		s.pkgOut[e.Package] = append(s.pkgOut[e.Package], e.Output)
		if e.Output != "PASS\n" {
			fmt.Fprint(s.w, e.Output)
		}
	case e.Test == "" && (e.Action == "pass" || e.Action == "fail"):
		hadTests := s.unfinished(e.Package)
		if e.Action == "fail" && !hadTests && !s.testFailedIn(e.Package) && !s.buildFailed[e.Package] {
			// Failed outside any test: TestMain, a background panic, a
			// timeout between tests, a vet or build failure.
			s.failed = append(s.failed, failure{what: e.Package, lines: lastLines(pkgLines(s.pkgOut[e.Package]), maxSummaryLines)})
		}
		delete(s.pkgOut, e.Package)
	case e.Action == "output":
		s.output[k] = append(s.output[k], e.Output)
		if s.verbose {
			fmt.Fprint(s.w, e.Output)
		}
	case e.Action == "fail":
		// Like plain go test: a failed test's whole output.
		if !s.verbose {
			printTest(s.w, s.output[k])
		}
		s.tests[k] = true
		s.failed = append(s.failed, failure{what: e.Package + " " + e.Test, lines: failureLines(s.output[k])})
		delete(s.output, k)
	case e.Action == "pass", e.Action == "skip":
		delete(s.output, k)
	}
}

// unfinished reports tests of pkg ("": of every package) that started and
// never ended — the test binary died (timeout, panic, os.Exit) — prints
// their output and counts them as failed, with the package's last lines
// (where go test prints the panic or the timeout). It reports whether
// there were any.
func (s *summarizer) unfinished(pkg string) bool {
	var keys []testKey
	for k := range s.output {
		if pkg == "" || k.pkg == pkg {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b testKey) int { return strings.Compare(a.pkg+" "+a.test, b.pkg+" "+b.test) })
	for _, k := range keys {
		if !s.verbose {
			printTest(s.w, s.output[k])
		}
		lines := append(failureLines(s.output[k]), "        (did not finish)")
		if pl := pkgLines(s.pkgOut[k.pkg]); len(pl) > 0 {
			lines = append(lines, "        (the package's last lines:)")
			lines = append(lines, lastLines(pl, 15)...)
		}
		s.tests[k] = true
		s.failed = append(s.failed, failure{what: k.pkg + " " + k.test, lines: lines})
		delete(s.output, k)
	}
	return len(keys) > 0
}

func (s *summarizer) testFailedIn(pkg string) bool {
	for k := range s.tests {
		if k.pkg == pkg {
			return true
		}
	}
	return false
}

func (s *summarizer) failures() int { return len(s.failed) }

func printTest(w io.Writer, out []string) {
	for _, l := range out {
		if !strings.HasPrefix(l, "=== ") {
			fmt.Fprint(w, l)
		}
	}
}

// pkgLines drops go test's own verdict lines from package output.
func pkgLines(out []string) []string {
	var keep []string
	for _, l := range out {
		if l == "PASS\n" || l == "FAIL\n" || strings.HasPrefix(l, "FAIL\t") || strings.HasPrefix(l, "ok  \t") {
			continue
		}
		keep = append(keep, l)
	}
	return keep
}

func lastLines(out []string, n int) []string {
	out = out[max(0, len(out)-n):]
	lines := make([]string, len(out))
	for i, l := range out {
		lines[i] = strings.TrimRight(l, "\n")
	}
	return lines
}

// logLine starts what t.Log/t.Error print: "    file.go:12: ".
var logLine = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: `)

// dumpMarker starts a log block that is a dump of files or process output
// (the fleet lab's), left out of the summary.
const dumpMarker = "--- tail of "

// maxSummaryLines bounds one entry of the summary.
const maxSummaryLines = 25

// failureLines picks from a failed test's output its log blocks but the
// dumps (testify's Error Trace/Error/Messages blocks, t.Fatal lines, other
// log lines).
func failureLines(out []string) []string {
	var keep []string
	dump := false
	for _, l := range out {
		if loc := logLine.FindStringIndex(l); loc != nil {
			dump = strings.HasPrefix(l[loc[1]:], dumpMarker)
		} else if strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		if !dump {
			keep = append(keep, strings.TrimRight(l, "\n"))
		}
	}
	if len(keep) > maxSummaryLines {
		keep = append(keep[:maxSummaryLines], fmt.Sprintf("        (… %d more lines in the output above)", len(keep)-maxSummaryLines))
	}
	return keep
}

// summary prints the failures: innermost tests only (a parent fails with
// its subtest), and packages that failed outside a test.
func (s *summarizer) summary() {
	var list []failure
	for _, f := range s.failed {
		pkg, test, isTest := strings.Cut(f.what, " ")
		if isTest && !strings.HasPrefix(test, "(") {
			parent := false
			for k := range s.tests {
				if k.pkg == pkg && strings.HasPrefix(k.test, test+"/") {
					parent = true
					break
				}
			}
			if parent {
				continue
			}
		}
		list = append(list, f)
	}
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(s.w, "\n=== %d failure(s):\n", len(list))
	for _, f := range list {
		fmt.Fprintf(s.w, "--- FAIL: %s\n", f.what)
		for _, l := range f.lines {
			fmt.Fprintln(s.w, l)
		}
	}
}
