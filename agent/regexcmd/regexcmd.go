// Package regexcmd is `banfleet-agent regex`, banfleet's fail2ban-regex:
// it runs a Fail2Ban filter (a filter file, a filter name with options, or
// a regex) over a log file or a single line with banfleet's engine and
// prints the same summary as fail2ban-regex 1.0.2 — per-regex hits, date
// template hits, and the Lines: tested / ignored / matched / missed counts
// by fail2ban-regex's rules — or, with --json, one record per failure with
// an address.
//
// fail2ban-regex's rules, reproduced here: a line is read up to '\n' and
// stripped of trailing '\r' and '\n'; a blank line or one starting with
// '#' is skipped (not counted, never offered to the filter); a last line
// without '\n' is not read. Every failregex and every ignoreregex is tried
// on every line (Fail2Ban's checkAllRegex; --no-check-all stops at the
// first failregex that decides a line, as the daemon does, which is what
// --json reports). A line is "ignored" when an ignoreregex matched or a
// rule that is not a failure by itself did (NOFAIL, MLFGAINED); "matched"
// when a failregex matched it otherwise (also without an address yet);
// "missed" else. In a multi-line filter the earlier lines a match took out
// of the buffer move from missed to matched. A failure whose host is a
// name, not an address, is missed: banfleet never resolves names, and
// fail2ban-regex --usedns no (or offline) finds no address in it. Every
// line's date is looked for, and counted by template. A line whose date
// is no valid time (Feb 30, 24:00:00) is matched as fail2ban-regex does,
// but --json has no record for it: the agent skips such a line as
// unparsed. Options may follow the positional arguments.
//
// Two differences remain. A line longer than MaxLine is skipped, counted
// as missed (its date counted from its first LongHead bytes) and reported,
// not offered to the filter. And in a multi-line filter (maxlines > 1)
// only the first failregex that decides a line is counted: Fail2Ban's
// checkAllRegex goes on with the lines the match left in the buffer (no
// sample log of Fail2Ban's shows a difference).
package regexcmd

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/agent/filter/date"
	"github.com/banfleet/banfleet/agent/filter/f2b"
	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/config/fail2ban"
)

// MaxLine is the longest line (without its newline) offered to the
// filter; a longer one is skipped and counted as missed, and its date
// looked for in its first LongHead bytes.
const (
	MaxLine  = 16 << 20
	LongHead = 64 << 10
)

// Record is one failure in --json output.
type Record struct {
	Line   int               `json:"line"` // the line's number in the log (1-based, comments and blank lines included)
	Host   string            `json:"host"`
	Time   float64           `json:"time"`
	User   string            `json:"user"` // always present: "" when the rule took no user
	Rule   int               `json:"failregex"`
	Fields map[string]string `json:"fields,omitempty"`
}

// Summary is what a run found, counted as fail2ban-regex counts.
type Summary struct {
	Lines, Matched, Ignored, Missed int
	FailHits                        []int
	IgnoreHits                      []int
	DateHits                        map[string]int
	NoDate                          int
	TooLong                         int // lines over MaxLine, skipped (and counted as missed)
}

type options struct {
	confDir     string
	datePattern string
	jsonOut     bool
	journal     bool
	printMissed bool
	guard       bool
	noCheckAll  bool
	useDNS      string
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
	fs.BoolVar(&o.noCheckAll, "no-check-all", false, "summary: stop at the first failregex that decides a line, as the daemon does (default: try every failregex, as fail2ban-regex does)")
	fs.StringVar(&o.useDNS, "usedns", "", "<HOST> as with usedns = yes, warn, no (addresses only) or raw (default: the filter's); banfleet never resolves host names")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: banfleet-agent regex [options] LOG FILTER [IGNOREREGEX] [options]")
		fmt.Fprintln(stderr, "  LOG     a log file, or one log line")
		fmt.Fprintln(stderr, "  FILTER  a filter file (…/filter.d/sshd.conf), a filter name with options (sshd[mode=aggressive]), or a failregex")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) < 2 || len(pos) > 3 {
		fs.Usage()
		return 2
	}
	logArg, filterArg, ignoreArg := pos[0], pos[1], ""
	if len(pos) == 3 {
		ignoreArg = pos[2]
	}
	def, what, err := definition(o, filterArg, ignoreArg)
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
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	if !o.jsonOut {
		fmt.Fprintf(out, "\nRunning tests\n=============\n\nUse      failregex %s\nUse         log file : %s\nUse         encoding : UTF-8\n\n", what, logName)
	}
	sum, err := run(c, def.MaxLines, in, o, dates, out)
	if err != nil {
		out.Flush()
		fmt.Fprintf(stderr, "banfleet-agent regex: %s: %v\n", logName, err)
		return 1
	}
	if !o.jsonOut {
		printSummary(out, c, sum)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(stderr, "banfleet-agent regex: write:", err)
		return 1
	}
	if sum.TooLong > 0 {
		fmt.Fprintf(stderr, "banfleet-agent regex: skipped %d line(s) over %d bytes (counted as missed)\n", sum.TooLong, MaxLine)
	}
	return 0
}

// parseInterspersed parses flags anywhere among the positional arguments,
// as fail2ban-regex (optparse) does; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
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
	if file != "" || (isName && (fileExists(filepath.Join(o.confDir, "filter.d", name+".conf")) || filter.IsBuiltin(name))) {
		var jailOpts map[string]string
		if o.journal {
			jailOpts = map[string]string{"backend": backend}
		}
		// the configuration directory's filter, else banfleet's built-in one
		d, err := fail2ban.LoadFilterOr(o.confDir, filter.BuiltinConf(), spec, jailOpts)
		if err != nil {
			return f2b.Definition{}, "", err
		}
		j := config.AgentJail{Backend: backend}
		j.SetFilter(d)
		def := jailfilter.Definition(name, j)
		if o.useDNS != "" {
			def.UseDNS = o.useDNS
		}
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
	def := jailfilter.Definition("regex", config.AgentJail{Backend: backend, FailRegex: []string{arg}, DatePattern: o.datePattern, UseDNS: o.useDNS})
	if ignore != "" {
		def.IgnoreRegex = []string{ignore}
	}
	return def, "line : " + arg, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func run(c *f2b.Compiled, maxLines int, in io.Reader, o options, dates *dateCounter, out *bufio.Writer) (*Summary, error) {
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
	lr := lineReader{r: bufio.NewReaderSize(in, 64<<10)}
	var jw jsonWriter
	// The summary counts as fail2ban-regex's does, every failregex and
	// ignoreregex tried on every line (unless --no-check-all); --json
	// reports the daemon's decisions.
	v := f2b.LineView{CheckAll: !o.jsonOut && !o.noCheckAll}
	now := time.Now()
	offered := 0 // lines offered to the filter (for the multi-line buffer)
	for {
		raw, tooLong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read log line %d: %w", lr.n+1, err)
		}
		if tooLong {
			sum.Lines++
			sum.Missed++
			sum.TooLong++
			if !o.journal {
				dates.count(raw, now) // fail2ban-regex counts its date
			}
			continue
		}
		line := trimCRLF(raw)
		if len(line) == 0 || line[0] == '#' {
			continue // fail2ban-regex skips comments and blank lines
		}
		sum.Lines++
		if o.journal {
			m.ProcessViewAt(&v, line, now)
		} else {
			dates.begin(line)
			m.ProcessView(&v, line, now)
			dates.end(line, now)
		}
		offered++
		if v.NoDate && !o.journal {
			sum.NoDate++
		}
		// fail2ban-regex: a line is ignored when an ignoreregex matched or
		// a NOFAIL rule did, matched when a failregex found a failure
		// (also one without an address yet), missed else. A host name
		// finds no address (banfleet never resolves one, fail2ban-regex
		// --usedns no neither): its match is dropped, uncounted.
		ignored, matched := len(v.Ignores) > 0, false
		for _, h := range v.Hits {
			if h.HostName {
				continue
			}
			sum.FailHits[h.Rule]++
			matched = true
			ignored = ignored || h.NoFail
		}
		for _, i := range v.Ignores {
			sum.IgnoreHits[i]++
		}
		switch {
		case ignored:
			sum.Ignored++
		case matched:
			sum.Matched++
		default:
			sum.Missed++
			printMissed(out, o, line)
		}
		// Multi-line: the earlier lines of the buffer a match consumed
		// count as matched (fail2ban-regex moves them from missed).
		if maxLines > 1 && v.Rule >= 0 && v.Attempts > 1 && !v.MLFID {
			k := min(v.Attempts-1, maxLines-1, offered-1)
			sum.Matched += k
			sum.Missed -= k
		}
		if o.jsonOut && v.Ignore < 0 && v.Verdict == filter.Failed && !v.NoFail && !v.Pending && !v.BadDate {
			jw.record(out, lr.n, &v)
		}
	}
	sum.DateHits = dates.hits
	return sum, nil
}

func printMissed(out *bufio.Writer, o options, line []byte) {
	if o.printMissed && !o.jsonOut {
		out.WriteString("missed: ")
		out.Write(line)
		out.WriteByte('\n')
	}
}

// trimCRLF is Python's rstrip('\r\n').
func trimCRLF(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// lineReader reads lines as fail2ban-regex does (split at '\n', a last
// line without '\n' dropped unless it ends in '\r'), without copying them
// unless they are longer than its buffer, and skips lines over MaxLine.
type lineReader struct {
	r    *bufio.Reader
	long []byte
	n    int // lines read
}

// next returns the next line with its line end; the slice is valid until
// the next call. tooLong reports a line over MaxLine: then line is its
// first LongHead bytes.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	b, err := lr.r.ReadSlice('\n')
	if err == nil {
		lr.n++
		return b, false, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if errors.Is(err, io.EOF) && len(b) > 0 && b[len(b)-1] == '\r' {
			lr.n++
			return b, false, nil
		}
		return nil, false, err
	}
	lr.long = append(lr.long[:0], b...)
	for {
		b, err = lr.r.ReadSlice('\n')
		if !tooLong {
			if len(lr.long)+len(b) > MaxLine+1 {
				tooLong = true
				lr.long = lr.long[:min(len(lr.long), LongHead)]
			} else {
				lr.long = append(lr.long, b...)
			}
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && !tooLong && len(lr.long) > 0 && lr.long[len(lr.long)-1] == '\r' {
			break
		}
		return nil, false, err
	}
	lr.n++
	if cap(lr.long) > 1<<20 {
		defer func() { lr.long = nil }()
	}
	return lr.long, tooLong, nil
}

// jsonWriter writes Records as encoding/json would (HTML-safe escaping,
// sorted fields), without reflection or allocations per record.
type jsonWriter struct {
	buf    []byte
	fields []f2b.Field
}

func (w *jsonWriter) record(out *bufio.Writer, line int, v *f2b.LineView) {
	b := append(w.buf[:0], `{"line":`...)
	b = strconv.AppendInt(b, int64(line), 10)
	b = append(b, `,"host":`...)
	b = v.Addr.AppendTo(append(b, '"'))
	b = append(b, `","time":`...)
	b = appendFloat(b, float64(v.Time.UnixNano())/1e9)
	b = append(b, `,"user":`...)
	b = appendString(b, v.User)
	b = append(b, `,"failregex":`...)
	b = strconv.AppendInt(b, int64(v.Rule), 10)
	if len(v.Groups) > 0 {
		w.fields = append(w.fields[:0], v.Groups...)
		slices.SortFunc(w.fields, func(a, b f2b.Field) int { return strings.Compare(a.Name, b.Name) })
		b = append(b, `,"fields":{`...)
		for i, f := range w.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.Name)
			b = append(b, ':')
			b = appendString(b, f.Value)
		}
		b = append(b, '}')
	}
	b = append(b, "}\n"...)
	out.Write(b)
	w.buf = b
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does by default (escaping <, >,
// &, U+2028 and U+2029; invalid UTF-8 becomes U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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
	section := func(title string, list []f2b.RegexInfo, hits []int) {
		total := 0
		for _, n := range hits {
			total += n
		}
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
	section("Failregex", fails, s.FailHits)
	section("Ignoreregex", ignores, s.IgnoreHits)
	fmt.Fprintln(w, "Date template hits:")
	fmt.Fprintln(w, "|- [# of hits] date format")
	keys := make([]string, 0, len(s.DateHits))
	for k := range s.DateHits {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if s.DateHits[a] != s.DateHits[b] {
			return s.DateHits[b] - s.DateHits[a]
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		fmt.Fprintf(w, "|  [%d] %s\n", s.DateHits[k], k)
	}
	fmt.Fprintf(w, "`-\n\nLines: %d lines, %d ignored, %d matched, %d missed\n", s.Lines, s.Ignored, s.Matched, s.Missed)
	if s.TooLong > 0 {
		fmt.Fprintf(w, "[%d line(s) over %d bytes skipped, counted as missed]\n", s.TooLong, MaxLine)
	}
}

// dateCounter counts, per template, the dates found in the lines, as
// fail2ban-regex's "Date template hits": every line's date is looked for
// once. The engine skips the date of a line its prefregex cannot match
// (and may look for it later, for Fail2Ban's last-date rule); begin and
// end make up for that without counting the later look-up.
type dateCounter struct {
	hits map[string]int
	f    *countingFinder // the finder of the Matcher (the last one built)
}

func newDateCounter() *dateCounter { return &dateCounter{hits: map[string]int{}} }

type countingFinder struct {
	d      *date.Detector
	hits   map[string]int
	cur    []byte // the line being processed
	called bool   // Find was called on cur
}

func (c *dateCounter) finder(pattern string, loc *time.Location) (f2b.DateFinder, error) {
	d, err := date.New(date.Options{Pattern: pattern, Location: loc})
	if err != nil {
		return nil, err
	}
	c.f = &countingFinder{d: d, hits: c.hits}
	return c.f, nil
}

// count looks for the date of a line the engine does not see.
func (c *dateCounter) count(line []byte, now time.Time) {
	c.begin(line)
	c.end(line, now)
}

// begin is called before the engine processes line.
func (c *dateCounter) begin(line []byte) {
	if c.f != nil {
		c.f.cur, c.f.called = line, false
	}
}

// end is called after: it looks for the date of a line the engine skipped.
func (c *dateCounter) end(line []byte, now time.Time) {
	f := c.f
	if f == nil {
		return
	}
	if !f.called {
		f.cur = line
		f.Find(line, now)
	}
	f.cur = nil
}

func (f *countingFinder) Find(line []byte, now time.Time) (time.Time, int, int, bool) {
	t, s, e, ok := f.d.Find(line, now)
	if !f.called && len(line) > 0 && len(line) == len(f.cur) && &line[0] == &f.cur[0] {
		f.called = true
		if ok {
			f.hits[f.d.LastTemplate()]++
		}
	}
	return t, s, e, ok
}
