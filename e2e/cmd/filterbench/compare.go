package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"time"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/internal/testutil/authlog"
)

// Classes of lines where banfleet and Fail2Ban disagree.
const (
	// classInjected: Fail2Ban blamed the address the client wrote into its
	// own text (the generator's ground truth says so); banfleet blamed the
	// real source, or nobody.
	classInjected = "injected"
	// classState: Fail2Ban reported a failure on a line that is not one by
	// itself (an address-less failure, or a NOFAIL helper completing one)
	// through its per-connection state (F-MLFID), and blamed the real
	// source; banfleet is stateless (agent/filter doc, "Not yet").
	classState = "state"
	// classGuard: the line carries an address the client wrote, Fail2Ban
	// happened to take the real source, and banfleet's address guard
	// credited nobody (the line could have named either).
	classGuard = "guard"
	// classReal: any other disagreement.
	classReal = "real"
)

var classOrder = []string{classInjected, classGuard, classState, classReal}

var classHelp = map[string]string{
	classInjected: "Fail2Ban took the address injected by the client; banfleet the real source or none",
	classGuard:    "a line with an injected address: Fail2Ban took the real source, banfleet's address guard nobody",
	classState:    "Fail2Ban attributed via connection state (F-MLFID) to the real source; banfleet did not",
	classReal:     "other disagreements",
}

// lineDiff is one line where the two filters disagree.
type lineDiff struct {
	Line     int          `json:"line"`
	Class    string       `json:"class"`
	Kind     authlog.Kind `json:"kind,omitempty"`
	True     netip.Addr   `json:"true_addr,omitzero"`
	Injected netip.Addr   `json:"injected_addr,omitzero"`
	Fail2Ban netip.Addr   `json:"fail2ban_addr,omitzero"`
	Banfleet netip.Addr   `json:"banfleet_addr,omitzero"`
	Verdict  string       `json:"banfleet_verdict"`
	Rule     int          `json:"banfleet_rule"`
	Text     string       `json:"text"`
}

// accuracy scores one filter's failures against the ground truth.
type accuracy struct {
	Failures int `json:"failures"`
	// Correct: the line belongs to an attacking connection and the address
	// is its real source. Injected: the address is the one the client
	// injected. Wrong: another address. NotAttack: a line of no attacking
	// connection (noise).
	Correct   int `json:"correct"`
	Injected  int `json:"injected"`
	Wrong     int `json:"wrong"`
	NotAttack int `json:"not_attack"`
	// Missed: failure lines naming their address that got no failure;
	// MissedHostless: address-less failure lines (AccountLocked,
	// TooManyAuthFailures) whose connection got no failure with its real
	// source at or after them.
	Missed         int `json:"missed"`
	MissedHostless int `json:"missed_hostless"`
}

type comparison struct {
	// Truth: the log came with ground truth (generated); without it
	// (-log) the accuracies are not scored and every difference is
	// classReal.
	Truth    bool     `json:"ground_truth"`
	Banfleet accuracy `json:"banfleet"`
	Fail2Ban accuracy `json:"fail2ban"`
	// Both counts (line, address) pairs found by both; Same says the two
	// sets are equal.
	Both    int                       `json:"both"`
	Same    bool                      `json:"same"`
	ByClass map[string]int            `json:"by_class"`
	ByKind  map[string]map[string]int `json:"by_class_kind"`
	Diffs   []lineDiff                `json:"diffs"`
}

// compare diffs the two sets of failures, classifies the differences with
// the ground truth, and scores both filters.
func compare(logPath string, truths []authlog.Truth, bf, f2b []authlog.Hit, f filter.Filter, now time.Time) (*comparison, error) {
	c := &comparison{Truth: truths != nil, ByClass: map[string]int{}, ByKind: map[string]map[string]int{}}
	truth := make(map[int]*authlog.Truth, len(truths))
	for i := range truths {
		truth[truths[i].Line] = &truths[i]
	}
	if c.Truth {
		c.Banfleet = score(truths, truth, bf)
		c.Fail2Ban = score(truths, truth, f2b)
	} else {
		c.Banfleet.Failures, c.Fail2Ban.Failures = len(bf), len(f2b)
	}

	bfAt := hitsByLine(bf)
	f2bAt := hitsByLine(f2b)
	var lines []int
	for l, a := range bfAt {
		if b, ok := f2bAt[l]; ok && b == a {
			c.Both++
		} else {
			lines = append(lines, l)
		}
	}
	for l, a := range f2bAt {
		if b, ok := bfAt[l]; !ok || b != a {
			lines = append(lines, l)
		}
	}
	sort.Ints(lines)
	lines = dedupe(lines)
	c.Same = len(lines) == 0

	texts, err := readLines(logPath, lines)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		d := lineDiff{Line: l, Fail2Ban: f2bAt[l], Banfleet: bfAt[l], Text: texts[l], Rule: -1}
		if t := truth[l]; t != nil {
			d.Kind, d.True, d.Injected = t.Kind, t.Addr, t.Injected
		}
		fail, v := f.Match([]byte(d.Text), now)
		d.Verdict = v.String()
		if v == filter.Failed || v == filter.Ignored {
			d.Rule = fail.Rule
		}
		d.Class = classify(&d, truth[l])
		c.Diffs = append(c.Diffs, d)
		c.ByClass[d.Class]++
		if c.ByKind[d.Class] == nil {
			c.ByKind[d.Class] = map[string]int{}
		}
		k := string(d.Kind)
		if k == "" {
			k = "noise"
		}
		c.ByKind[d.Class][k]++
	}
	return c, nil
}

func classify(d *lineDiff, t *authlog.Truth) string {
	if t == nil || !d.Fail2Ban.IsValid() {
		return classReal
	}
	switch {
	case t.Injected.IsValid() && d.Fail2Ban == t.Injected && d.Fail2Ban != t.Addr &&
		(!d.Banfleet.IsValid() || d.Banfleet == t.Addr):
		return classInjected
	case t.Injected.IsValid() && !d.Banfleet.IsValid() && d.Fail2Ban == t.Addr:
		return classGuard
	case !d.Banfleet.IsValid() && d.Fail2Ban == t.Addr &&
		(t.Kind.Hostless() || t.Kind.Class() == authlog.Companion):
		return classState
	}
	return classReal
}

func score(truths []authlog.Truth, truth map[int]*authlog.Truth, hits []authlog.Hit) accuracy {
	a := accuracy{Failures: len(hits)}
	hitAt := hitsByLine(hits)
	// Per connection, the lines that blamed its real source.
	blamed := map[int][]int{}
	for _, h := range hits {
		t := truth[h.Line]
		switch {
		case t == nil:
			a.NotAttack++
		case h.Addr == t.Addr:
			a.Correct++
			blamed[t.Conn] = append(blamed[t.Conn], h.Line)
		case t.Injected.IsValid() && h.Addr == t.Injected:
			a.Injected++
		default:
			a.Wrong++
		}
	}
	for i := range truths {
		t := &truths[i]
		if t.Kind.Class() != authlog.Failure {
			continue
		}
		if !t.Kind.Hostless() {
			if _, ok := hitAt[t.Line]; !ok {
				a.Missed++
			}
			continue
		}
		found := false
		for _, l := range blamed[t.Conn] {
			if l >= t.Line {
				found = true
				break
			}
		}
		if !found {
			a.MissedHostless++
		}
	}
	return a
}

func hitsByLine(hits []authlog.Hit) map[int]netip.Addr {
	m := make(map[int]netip.Addr, len(hits))
	for _, h := range hits {
		m[h.Line] = h.Addr
	}
	return m
}

func dedupe(s []int) []int {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// readLines returns the text of the given (sorted) line numbers.
func readLines(path string, want []int) (map[int]string, error) {
	out := make(map[int]string, len(want))
	if len(want) == 0 {
		return out, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read differing lines: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n, i := 0, 0
	for sc.Scan() && i < len(want) {
		n++
		if n == want[i] {
			out[n] = sc.Text()
			i++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read differing lines: %w", err)
	}
	return out, nil
}
