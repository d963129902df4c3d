// Command testsum runs go test and prints what plain go test prints, then,
// last, a short summary of every failed test: its name and the failure
// messages (the lines the test's own files logged; long diagnostics such as
// the fleet lab's log dumps are left out of the summary, not of the
// output above it). A long run's failure is thus on its last lines, where a
// CI log tail shows it.
//
//	go run ./e2e/cmd/testsum [go test flags and packages]
//
// It runs `go test -json` with the arguments given and exits with go test's
// exit status.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

func main() {
	cmd := exec.Command("go", append([]string{"test", "-json"}, os.Args[1:]...)...)
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
	s := newSummarizer(os.Stdout)
	if err := s.read(out); err != nil {
		fmt.Fprintln(os.Stderr, "testsum: reading go test -json:", err)
	}
	err = cmd.Wait()
	s.summary()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
}

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output events
}

type testKey struct{ pkg, test string }

// summarizer turns go test -json back into go test's plain output and keeps
// what the final summary needs.
type summarizer struct {
	w      io.Writer
	output map[testKey][]string // output of tests still running
	failed []testKey
	msgs   map[testKey][]string
}

func newSummarizer(w io.Writer) *summarizer {
	return &summarizer{w: w, output: map[testKey][]string{}, msgs: map[testKey][]string{}}
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
	return sc.Err()
}

func (s *summarizer) handle(e event) {
	k := testKey{e.Package, e.Test}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.w, e.Output)
	case e.Test == "":
		// Package lines: "ok  pkg 1.2s", "FAIL pkg", TestMain's own output.
		if e.Action == "output" && e.Output != "PASS\n" {
			fmt.Fprint(s.w, e.Output)
		}
	case e.Action == "output":
		s.output[k] = append(s.output[k], e.Output)
	case e.Action == "fail":
		// Like plain go test: a failed test's whole output.
		for _, l := range s.output[k] {
			if !strings.HasPrefix(l, "=== ") {
				fmt.Fprint(s.w, l)
			}
		}
		s.failed = append(s.failed, k)
		s.msgs[k] = failureLines(s.output[k])
		delete(s.output, k)
	case e.Action == "pass", e.Action == "skip":
		delete(s.output, k)
	}
}

// logLine starts what t.Log/t.Error print: "    file.go:12: ".
var logLine = regexp.MustCompile(`^\s+([\w.-]+\.go):\d+: `)

// maxSummaryLines bounds one test's part of the summary.
const maxSummaryLines = 25

// failureLines picks from a failed test's output what its own test files
// logged (testify's Error Trace/Error/Messages blocks, t.Fatal lines),
// leaving out what helpers in other files logged (dumps). If that leaves
// nothing (a panic, a timeout), it keeps the first lines.
func failureLines(out []string) []string {
	var keep []string
	inTestFile := false
	for _, l := range out {
		if m := logLine.FindStringSubmatch(l); m != nil {
			inTestFile = strings.HasSuffix(m[1], "_test.go")
		} else if strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			inTestFile = false
			continue
		}
		if inTestFile {
			keep = append(keep, strings.TrimRight(l, "\n"))
		}
	}
	if len(keep) == 0 {
		for _, l := range out {
			if !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- ") {
				keep = append(keep, strings.TrimRight(l, "\n"))
			}
		}
	}
	if len(keep) > maxSummaryLines {
		keep = append(keep[:maxSummaryLines], fmt.Sprintf("        (… %d more lines in the output above)", len(keep)-maxSummaryLines))
	}
	return keep
}

// summary prints the failed tests, innermost only (a parent fails with its
// subtest), each with its failure lines.
func (s *summarizer) summary() {
	var leaves []testKey
	for _, k := range s.failed {
		parent := false
		for _, o := range s.failed {
			if o.pkg == k.pkg && strings.HasPrefix(o.test, k.test+"/") {
				parent = true
				break
			}
		}
		if !parent {
			leaves = append(leaves, k)
		}
	}
	if len(leaves) == 0 {
		return
	}
	fmt.Fprintf(s.w, "\n=== %d failed test(s):\n", len(leaves))
	for _, k := range leaves {
		fmt.Fprintf(s.w, "--- FAIL: %s %s\n", k.pkg, k.test)
		for _, l := range s.msgs[k] {
			fmt.Fprintln(s.w, l)
		}
	}
}
