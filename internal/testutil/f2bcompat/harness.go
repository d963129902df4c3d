package f2bcompat

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TestNow is the "now" of Fail2Ban's sample tests (Sun Aug 14 12:00:00 CEST 2005).
const TestNow = 1124013600

// Result is one entry of what Fail2Ban's Filter.processLine returns with
// checkAllRegex: the failregex index, the failure id (nil when pending:
// Python's None), the failure time and the captured fields.
type Result struct {
	Regex  int
	FID    *string
	Time   float64 // Unix seconds
	Fields map[string]any
}

// Instance is one filter with one combination of options; it keeps state
// (multi-line buffers) across the lines of a sample file, as Fail2Ban's
// cached filter does.
type Instance interface {
	// FailRegexes are the filter's failregex (as configured; they identify
	// a regex across option combinations).
	FailRegexes() []string
	// Process returns every match of line (checkAllRegex), nofail and
	// pending ones included; now is TestNow.
	Process(line string, now time.Time) ([]Result, error)
	// ProcessJournal is Process for a journal entry whose time is t.
	ProcessJournal(line string, t time.Time) ([]Result, error)
}

// Engine makes filter instances: filter name, the filter.d folder's parent
// (confDir) and the options (mode, logtype, …).
type Engine interface {
	Filter(confDir, name string, opts map[string]string) (Instance, error)
}

// Case is the outcome of one failJSON annotation.
type Case struct {
	File   string
	Line   int
	Text   string
	Match  bool   // what the annotation expects
	Err    string // empty when the case passed
	Filter string // filter and options of the first failing run
}

// FilterReport is the outcome of one sample file (and the files it adds).
type FilterReport struct {
	Name      string
	Cases     []Case
	Unsampled []string // "filter+opts: failregex N has no sample"
	LoadErr   string
}

// Passed counts passing cases.
func (r *FilterReport) Passed() int {
	n := 0
	for _, c := range r.Cases {
		if c.Err == "" {
			n++
		}
	}
	return n
}

var annotation = regexp.MustCompile(`^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$`)

type filterRun struct {
	key  string
	inst Instance
	opts map[string]any
	used map[int]bool
}

// Run runs the sample file name (in logsDir) against the filter of the same
// name in confDir.
func Run(e Engine, confDir, logsDir, name string) *FilterReport {
	rep := &FilterReport{Name: name}
	cache := map[string]*filterRun{}
	var order []string
	load := func(opts map[string]any) (*filterRun, error) {
		fo := filterOpts(opts)
		key := name + canonical(fo)
		if fr, ok := cache[key]; ok {
			return fr, nil
		}
		sopts := map[string]string{}
		for k, v := range fo {
			sopts[k] = fmt.Sprint(v)
		}
		inst, err := e.Filter(confDir, name, sopts)
		if err != nil {
			return nil, err
		}
		fr := &filterRun{key: key, inst: inst, opts: opts, used: map[int]bool{}}
		cache[key] = fr
		order = append(order, key)
		return fr, nil
	}

	usedRe := map[string]bool{} // failregex that had a sample under any options
	files := []string{name}
	var tests []*filterRun
	var common map[string]any
	now := time.Unix(TestNow, 0)
	for i := 0; i < len(files); i++ {
		path := filepath.Join(logsDir, files[i])
		lines, err := readLines(path)
		if err != nil {
			rep.LoadErr = err.Error()
			return rep
		}
		ignoreBlock := false
		for ln := 0; ln < len(lines); ln++ {
			line := lines[ln]
			var faildata map[string]any
			isCase := false
			if m := annotation.FindStringSubmatch(line); m != nil {
				var v any
				if err := json.Unmarshal([]byte(m[2]), &v); err != nil {
					rep.LoadErr = fmt.Sprintf("%s:%d: %v", files[i], ln+1, err)
					return rep
				}
				switch m[1] {
				case "fileOptions":
					common, _ = v.(map[string]any)
					continue
				case "filterOptions":
					tests = nil
					ignoreBlock = false
					list, ok := v.([]any)
					if !ok {
						list = []any{v}
					}
					for _, item := range list {
						opts := map[string]any{}
						for k, x := range common {
							opts[k] = x
						}
						if d, ok := item.(map[string]any); ok {
							for k, x := range d {
								opts[k] = x
							}
						}
						if c, ok := opts["test.condition"].(string); ok && c != "" {
							ok, err := eval(c, name, opts)
							if err != nil {
								rep.LoadErr = fmt.Sprintf("%s:%d: %v", files[i], ln+1, err)
								return rep
							}
							ignoreBlock = !ok
						}
						if !ignoreBlock {
							fr, err := load(opts)
							if err != nil {
								rep.LoadErr = fmt.Sprintf("load %s %v: %v", name, filterOpts(opts), err)
								return rep
							}
							tests = append(tests, fr)
						}
					}
					continue
				case "addFILE":
					if s, ok := v.(string); ok {
						files = append(files, s)
					}
					continue
				case "failJSON":
					faildata, _ = v.(map[string]any)
					if faildata == nil {
						faildata = map[string]any{}
					}
					isCase = true
					ln++
					if ln >= len(lines) {
						continue
					}
					line = lines[ln]
				}
			} else if ignoreBlock || strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			} else {
				faildata = map[string]any{}
			}
			if ignoreBlock {
				continue
			}
			if tests == nil {
				fr, err := load(map[string]any{})
				if err != nil {
					rep.LoadErr = fmt.Sprintf("load %s: %v", name, err)
					return rep
				}
				tests = []*filterRun{fr}
			}
			line = strings.TrimRight(line, "\r\n")
			c := Case{File: files[i], Line: ln + 1, Text: line, Match: truthy(faildata["match"])}
			for _, fr := range tests {
				if cs, ok := faildata["constraint"].(string); ok && cs != "" {
					ok, err := eval(cs, name, fr.opts)
					if err != nil {
						c.Err, c.Filter = err.Error(), fr.key
						break
					}
					if !ok {
						continue
					}
				}
				if err := check(fr, line, faildata, now, usedRe); err != nil && c.Err == "" {
					c.Err, c.Filter = err.Error(), fr.key
				}
			}
			if isCase {
				rep.Cases = append(rep.Cases, c)
			} else if c.Err != "" {
				rep.Cases = append(rep.Cases, c) // an unannotated line must not match
			}
		}
	}
	for _, key := range order {
		fr := cache[key]
		for i, re := range fr.inst.FailRegexes() {
			if !fr.used[i] && !usedRe[re] {
				rep.Unsampled = append(rep.Unsampled, fmt.Sprintf("%s: failregex %d has no sample", key, i))
			}
		}
	}
	return rep
}

// check runs one line through one filter run and compares with faildata.
func check(fr *filterRun, line string, faildata map[string]any, now time.Time, usedRe map[string]bool) error {
	var res []Result
	var err error
	if s, _ := fr.opts["logtype"].(string); s == "journal" {
		if p, ok := fr.opts["test.prefix-line"].(string); ok {
			line = p + line
		}
		res, err = fr.inst.ProcessJournal(line, now)
	} else {
		res, err = fr.inst.Process(line, now)
	}
	if err != nil {
		return fmt.Errorf("process: %w", err)
	}
	regexes := fr.inst.FailRegexes()
	use := func(i int) {
		fr.used[i] = true
		if i >= 0 && i < len(regexes) {
			usedRe[regexes[i]] = true
		}
	}
	var found []Result
	for _, r := range res {
		if r.FID == nil || truthy(r.Fields["nofail"]) {
			use(r.Regex)
			continue
		}
		found = append(found, r)
	}
	want := truthy(faildata["match"])
	if len(found) == 0 {
		if want {
			return fmt.Errorf("line not matched when it should have")
		}
		return nil
	}
	if !want {
		return fmt.Errorf("line matched (failregex %d, id %q) when it should not have", found[0].Regex, *found[0].FID)
	}
	if len(found) != 1 {
		var idx []int
		for _, r := range found {
			idx = append(idx, r.Regex)
		}
		return fmt.Errorf("several failregex matched: %v", idx)
	}
	r := found[0]
	for k, v := range faildata {
		switch k {
		case "time", "match", "desc", "constraint":
			continue
		}
		fv, ok := r.Fields[k]
		if !ok || fv == nil {
			switch k {
			case "host":
				fv = *r.FID
			case "attempts":
				fv = 0
				if m, ok := r.Fields["matches"].([]string); ok {
					fv = len(m)
				}
			}
		}
		if !equal(fv, v) {
			return fmt.Errorf("field %s: got %#v, want %#v", k, fv, v)
		}
	}
	if t, ok := faildata["time"].(string); ok {
		want, err := jsonTime(t)
		if err != nil {
			return err
		}
		if math.Abs(r.Time-want) > 1e-6 {
			return fmt.Errorf("time: got %f (%s), want %f (%s)", r.Time, time.Unix(0, int64(r.Time*1e9)).UTC().Format(time.RFC3339Nano), want, t)
		}
	}
	use(r.Regex)
	return nil
}

// zurich is the time zone of Fail2Ban's sample tests (TZ=CET-01CEST-02,M3.5.0,M10.5.0).
var zurich = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Zurich"); err == nil {
		return l
	}
	return time.FixedZone("CET", 3600)
}()

// Location is the time zone Fail2Ban's sample tests run in.
func Location() *time.Location { return zurich }

func jsonTime(s string) (float64, error) {
	// Python's strptime takes one or two digits ("2005-03-7T02:09:33").
	for _, layout := range []string{"2006-1-2T15:4:5", "2006-1-2T15:4:5.999999"} {
		if t, err := time.ParseInLocation(layout, s, zurich); err == nil {
			return float64(t.UnixNano()) / 1e9, nil
		}
	}
	return 0, fmt.Errorf("failJSON time %q not understood", s)
}

func equal(got, want any) bool {
	switch w := want.(type) {
	case []any:
		g := toStrings(got)
		ws := toStrings(w)
		if g == nil {
			return false
		}
		sort.Strings(g)
		sort.Strings(ws)
		return strings.Join(g, "\x00") == strings.Join(ws, "\x00")
	case float64:
		switch g := got.(type) {
		case int:
			return float64(g) == w
		case float64:
			return g == w
		case string:
			f, err := strconv.ParseFloat(g, 64)
			return err == nil && f == w
		}
		return false
	case string:
		g := fmt.Sprint(got)
		if g == w {
			return true
		}
		// Addresses compare as addresses (Fail2Ban compares IPAddr objects).
		ga, e1 := netip.ParseAddr(g)
		wa, e2 := netip.ParseAddr(w)
		return e1 == nil && e2 == nil && ga == wa
	case nil:
		return got == nil
	case bool:
		return truthy(got) == w
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return append([]string(nil), x...)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	case int:
		return x != 0
	}
	return false
}

func filterOpts(opts map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range opts {
		if !strings.HasPrefix(k, "test.") {
			out[k] = v
		}
	}
	return out
}

func canonical(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // sorted keys
	return string(b)
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

var condRE = regexp.MustCompile(`^\s*(name|opts\.get\(\s*'([^']*)'\s*\)|opts\[\s*'([^']*)'\s*\])\s*(==|!=)\s*'([^']*)'\s*$`)

// eval evaluates the Python expressions the corpus uses in test.condition and
// constraint: name == '…', opts.get('k') != '…'. Anything else is an error.
func eval(expr, name string, opts map[string]any) (bool, error) {
	m := condRE.FindStringSubmatch(expr)
	if m == nil {
		return false, fmt.Errorf("condition %q: not an expression this harness understands", expr)
	}
	var lhs any
	if m[1] == "name" {
		lhs = name
	} else {
		k := m[2]
		if k == "" {
			k = m[3]
		}
		lhs = opts[k]
	}
	eq := lhs != nil && fmt.Sprint(lhs) == m[5]
	if m[4] == "==" {
		return eq, nil
	}
	return !eq, nil
}
