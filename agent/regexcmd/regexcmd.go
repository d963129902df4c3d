// Package regexcmd is `banfleet-agent regex`, banfleet's fail2ban-regex:
// it runs a Fail2Ban filter (a filter file, a filter name with options, or
// a regex) over a log file or a single line with banfleet's engine and
// prints the same kind of summary — per-regex hits, date template hits,
// matched / ignored / missed lines — or, with --json, one record per
// failure: exactly the lines fail2ban-regex counts as matched.
package regexcmd

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/filter/date"
	"github.com/banfleet/banfleet/agent/filter/f2b"
	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/config/fail2ban"
)

// Record is one failure in --json output.
type Record struct {
	Line   int               `json:"line"`
	Host   string            `json:"host"`
	Time   float64           `json:"time"`
	User   string            `json:"user,omitempty"`
	Rule   int               `json:"failregex"`
	Fields map[string]string `json:"fields,omitempty"`
}

// Summary is what a run found.
type Summary struct {
	Lines, Matched, Ignored, Missed int
	FailHits                        []int
	IgnoreHits                      []int
	DateHits                        map[string]int
	NoDate                          int
}

type options struct {
	confDir     string
	datePattern string
	jsonOut     bool
	journal     bool
	printMissed bool
	guard       bool
}

// Run runs the command with args (after "regex") and returns the exit code:
// 0 success, 1 a failure while running, 2 bad usage.
func Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("banfleet-agent regex", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.confDir, "c", "/etc/fail2ban", "Fail2Ban configuration directory (holding filter.d)")
	fs.StringVar(&o.confDir, "config", "/etc/fail2ban", "same as -c")
	fs.StringVar(&o.datePattern, "d", "", "datepattern (overrides the filter's)")
	fs.StringVar(&o.datePattern, "datepattern", "", "same as -d")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON record per failure instead of the summary")
	fs.BoolVar(&o.journal, "journal", false, "lines are journal lines (HOST IDENT[PID]: MSG) without a date")
	fs.BoolVar(&o.printMissed, "print-all-missed", false, "print the lines no failregex matched")
	fs.BoolVar(&o.guard, "guard", false, "apply the agent's address guard: lines that could name another address credit nobody")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: banfleet-agent regex [options] LOG FILTER [IGNOREREGEX]")
		fmt.Fprintln(stderr, "  LOG     a log file, or one log line")
		fmt.Fprintln(stderr, "  FILTER  a filter file (…/filter.d/sshd.conf), a filter name with options (sshd[mode=aggressive]), or a failregex")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 2 || fs.NArg() > 3 {
		fs.Usage()
		return 2
	}
	logArg, filterArg := fs.Arg(0), fs.Arg(1)
	def, what, err := definition(o, filterArg, fs.Arg(2))
	if err != nil {
		fmt.Fprintln(stderr, "banfleet-agent regex:", err)
		return 2
	}
	dates := newDateCounter()
	c, err := f2b.Compile(def, f2b.Options{Dates: dates.finder, AddressGuard: o.guard})
	if err != nil {
		fmt.Fprintln(stderr, "banfleet-agent regex:", err)
		return 2
	}
	var in io.Reader
	logName := logArg
	if fi, err := os.Stat(logArg); err == nil && !fi.IsDir() {
		f, err := os.Open(logArg)
		if err != nil {
			fmt.Fprintln(stderr, "banfleet-agent regex:", err)
			return 1
		}
		defer f.Close()
		in = f
	} else {
		in = strings.NewReader(logArg + "\n")
		logName = "(one line)"
	}
	if !o.jsonOut {
		fmt.Fprintf(stdout, "\nRunning tests\n=============\n\nUse      failregex %s\nUse         log file : %s\nUse         encoding : UTF-8\n\n", what, logName)
	}
	sum, err := run(c, in, o, dates, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "banfleet-agent regex:", err)
		return 1
	}
	if !o.jsonOut {
		printSummary(stdout, c, sum)
	}
	return 0
}

// definition builds the filter from FILTER: a file, a name[options], or a regex.
func definition(o options, arg, ignore string) (f2b.Definition, string, error) {
	backend := "auto"
	if o.journal {
		backend = "systemd"
	}
	spec, file := arg, ""
	if strings.HasSuffix(strings.SplitN(arg, "[", 2)[0], ".conf") || strings.Contains(strings.SplitN(arg, "[", 2)[0], "/") {
		base, opts, _ := strings.Cut(arg, "[")
		if _, err := os.Stat(base); err != nil {
			return f2b.Definition{}, "", fmt.Errorf("filter file %s: %w", base, err)
		}
		if filepath.Base(filepath.Dir(base)) != "filter.d" {
			return f2b.Definition{}, "", fmt.Errorf("filter file %s: must be in a filter.d folder (its includes are relative to it)", base)
		}
		file = base
		o.confDir = filepath.Dir(filepath.Dir(base))
		spec = strings.TrimSuffix(filepath.Base(base), ".conf")
		if opts != "" {
			spec += "[" + opts
		}
	}
	name, _, optErr := fail2ban.ExtractOptions(spec)
	isName := optErr == nil && name != "" && !strings.ContainsAny(name, `^$\()<> `)
	if file != "" || (isName && fileExists(filepath.Join(o.confDir, "filter.d", name+".conf"))) {
		var jailOpts map[string]string
		if o.journal {
			jailOpts = map[string]string{"backend": backend}
		}
		d, err := fail2ban.LoadFilter(o.confDir, spec, jailOpts)
		if err != nil {
			return f2b.Definition{}, "", err
		}
		j := config.AgentJail{Backend: backend}
		j.SetFilter(d)
		def := jailfilter.Definition(name, j)
		if o.datePattern != "" {
			def.DatePattern = o.datePattern
		}
		if ignore != "" {
			def.IgnoreRegex = append(def.IgnoreRegex, ignore)
		}
		return def, fmt.Sprintf("filter file : %s, basedir: %s", spec, o.confDir), nil
	}
	if isName && !strings.ContainsAny(arg, ".*+?") {
		return f2b.Definition{}, "", fmt.Errorf("filter %q: no %s", arg, filepath.Join(o.confDir, "filter.d", name+".conf"))
	}
	def := jailfilter.Definition("regex", config.AgentJail{Backend: backend, FailRegex: []string{arg}, DatePattern: o.datePattern})
	if ignore != "" {
		def.IgnoreRegex = []string{ignore}
	}
	return def, "line : " + arg, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func run(c *f2b.Compiled, in io.Reader, o options, dates *dateCounter, stdout io.Writer) (*Summary, error) {
	m := c.New()
	nFail, nIgnore := 0, 0
	for _, r := range c.Regexes() {
		switch r.Kind {
		case "failregex":
			nFail++
		case "ignoreregex":
			nIgnore++
		}
	}
	sum := &Summary{FailHits: make([]int, nFail), IgnoreHits: make([]int, nIgnore), DateHits: map[string]int{}}
	enc := json.NewEncoder(stdout)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	now := time.Now()
	for sc.Scan() {
		sum.Lines++
		line := strings.TrimRight(sc.Text(), "\r")
		var r f2b.Result
		if o.journal {
			r = m.ProcessAt([]byte(line), now)
		} else {
			r = m.Process([]byte(line), now)
		}
		if r.NoDate && !o.journal {
			sum.NoDate++
		}
		switch {
		case r.IgnoreRegex >= 0:
			sum.Ignored++
			if r.IgnoreRegex < len(sum.IgnoreHits) {
				sum.IgnoreHits[r.IgnoreRegex]++
			}
			continue
		case r.Rule >= 0:
			sum.Matched++
			if r.Rule < len(sum.FailHits) {
				sum.FailHits[r.Rule]++
			}
		default:
			sum.Missed++
			if o.printMissed && !o.jsonOut {
				fmt.Fprintln(stdout, "missed:", line)
			}
			continue
		}
		if o.jsonOut && r.Verdict == filter.Failed && !r.NoFail && !r.Pending {
			rec := Record{Line: sum.Lines, Host: r.Addr.String(), Time: float64(r.Time.UnixNano()) / 1e9, User: r.User, Rule: r.Rule, Fields: r.Groups}
			if err := enc.Encode(rec); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	sum.DateHits = dates.hits
	return sum, nil
}

func printSummary(w io.Writer, c *f2b.Compiled, s *Summary) {
	fmt.Fprintf(w, "Results\n=======\n\n")
	var fails, ignores []f2b.RegexInfo
	for _, r := range c.Regexes() {
		switch r.Kind {
		case "failregex":
			fails = append(fails, r)
		case "ignoreregex":
			ignores = append(ignores, r)
		}
	}
	section := func(title string, list []f2b.RegexInfo, hits []int, total int) {
		fmt.Fprintf(w, "%s: %d total\n", title, total)
		if total == 0 {
			fmt.Fprintln(w)
			return
		}
		fmt.Fprintln(w, "|-  #) [# of hits] regular expression")
		for i, r := range list {
			if hits[i] > 0 {
				fmt.Fprintf(w, "|  %2d) [%d] %s\n", i+1, hits[i], r.Python)
			}
		}
		fmt.Fprintf(w, "`-\n\n")
	}
	section("Failregex", fails, s.FailHits, s.Matched)
	section("Ignoreregex", ignores, s.IgnoreHits, s.Ignored)
	fmt.Fprintln(w, "Date template hits:")
	fmt.Fprintln(w, "|- [# of hits] date format")
	keys := make([]string, 0, len(s.DateHits))
	for k := range s.DateHits {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return s.DateHits[keys[i]] > s.DateHits[keys[j]] })
	for _, k := range keys {
		fmt.Fprintf(w, "|  [%d] %s\n", s.DateHits[k], k)
	}
	fmt.Fprintf(w, "`-\n\nLines: %d lines, %d ignored, %d matched, %d missed\n", s.Lines, s.Ignored, s.Matched, s.Missed)
}

// dateCounter wraps the date detector to count which template found each date.
type dateCounter struct {
	hits map[string]int
}

func newDateCounter() *dateCounter { return &dateCounter{hits: map[string]int{}} }

type countingFinder struct {
	d    *date.Detector
	hits map[string]int
}

func (c *dateCounter) finder(pattern string, loc *time.Location) (f2b.DateFinder, error) {
	d, err := date.New(date.Options{Pattern: pattern, Location: loc})
	if err != nil {
		return nil, err
	}
	return &countingFinder{d: d, hits: c.hits}, nil
}

func (f *countingFinder) Find(line []byte, now time.Time) (time.Time, int, int, bool) {
	t, s, e, ok := f.d.Find(line, now)
	if ok {
		f.hits[f.d.LastTemplate()]++
	}
	return t, s, e, ok
}
