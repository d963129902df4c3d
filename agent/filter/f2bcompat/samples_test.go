package f2bcompat_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/banfleet/banfleet/agent/filter/date"
	"github.com/banfleet/banfleet/agent/filter/f2b"
	"github.com/banfleet/banfleet/agent/filter/f2bcompat"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/shared/f2bref"
)

// engine is banfleet's filter engine as the harness sees it:
// config/fail2ban reads the filter, f2b compiles and runs it, date finds
// the dates.
type engine struct{}

type instance struct {
	m       *f2b.Matcher
	regexes []string
}

func (engine) Filter(confDir, name string, opts map[string]string) (f2bcompat.Instance, error) {
	spec := name
	if len(opts) > 0 {
		keys := make([]string, 0, len(opts))
		for k := range opts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%q", k, opts[k]))
		}
		spec += "[" + strings.Join(parts, ", ") + "]"
	}
	def, err := fail2ban.LoadFilter(confDir, spec, nil)
	if err != nil {
		return nil, err
	}
	logType := opts["logtype"]
	loc := f2bcompat.Location()
	c, err := f2b.Compile(f2b.Definition{Name: name, PrefRegex: def.PrefRegex, FailRegex: def.FailRegex, IgnoreRegex: def.IgnoreRegex,
		MaxLines: def.MaxLines, DatePattern: def.DatePattern, UseDNS: def.UseDNS, LogType: logType},
		f2b.Options{Location: loc, Dates: func(p string, l *time.Location) (f2b.DateFinder, error) {
			return date.New(date.Options{Pattern: p, Location: l})
		}})
	if err != nil {
		return nil, err
	}
	return &instance{m: c.New(), regexes: def.FailRegex}, nil
}

func (i *instance) FailRegexes() []string { return i.regexes }

func (i *instance) Process(line string, now time.Time) ([]f2bcompat.Result, error) {
	return convert(i.m.Process([]byte(line), now)), nil
}

func (i *instance) ProcessJournal(line string, t time.Time) ([]f2bcompat.Result, error) {
	return convert(i.m.ProcessAt([]byte(line), t)), nil
}

func convert(r f2b.Result) []f2bcompat.Result {
	if r.Rule < 0 || r.IgnoreRegex >= 0 {
		return nil
	}
	fields := map[string]any{}
	for k, v := range r.Groups {
		fields[k] = v
	}
	if r.NoFail {
		fields["nofail"] = true
	}
	if r.Attempts > 0 {
		fields["matches"] = make([]string, r.Attempts)
	}
	if len(r.Users) > 0 {
		fields["users"] = r.Users
	}
	out := f2bcompat.Result{Regex: r.Rule, Time: float64(r.Time.UnixNano()) / 1e9, Fields: fields}
	if !r.Pending && r.ID != "" {
		id := r.ID
		out.FID = &id
	}
	return []f2bcompat.Result{out}
}

// TestFail2BanSamples runs every failJSON case of Fail2Ban's sample corpus
// (as Debian's fail2ban 1.0.2 ships it) through banfleet's engine, with
// Fail2Ban's own test rules, and reports per filter and in total.
func TestFail2BanSamples(t *testing.T) {
	tr := f2bref.Require(t)
	testConf := filepath.Join(tr.PyPath, "fail2ban", "tests", "config")
	entries, err := os.ReadDir(filepath.Join(tr.ConfDir, "filter.d"))
	if err != nil {
		t.Fatal(err)
	}
	type job struct{ conf, name string }
	var jobs []job
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".conf") && !strings.HasSuffix(n, "common.conf") {
			jobs = append(jobs, job{tr.ConfDir, strings.TrimSuffix(n, ".conf")})
		}
	}
	for _, n := range []string{"zzz-generic-example", "zzz-sshd-obsolete-multiline"} {
		jobs = append(jobs, job{testConf, n})
	}
	total, passed := 0, 0
	var failed []string
	for _, j := range jobs {
		if _, err := os.Stat(filepath.Join(tr.SampleLogs, j.name)); err != nil {
			continue
		}
		rep := f2bcompat.Run(engine{}, j.conf, tr.SampleLogs, j.name)
		if rep.LoadErr != "" {
			t.Errorf("%s: %s", j.name, rep.LoadErr)
		}
		total += len(rep.Cases)
		passed += rep.Passed()
		t.Logf("%-28s %3d/%3d", j.name, rep.Passed(), len(rep.Cases))
		for _, c := range rep.Cases {
			if c.Err != "" {
				failed = append(failed, fmt.Sprintf("%s:%d [%s] %s\n      %s", c.File, c.Line, c.Filter, c.Err, c.Text))
			}
		}
		for _, u := range rep.Unsampled {
			t.Logf("  %s", u)
		}
	}
	t.Logf("TOTAL %d/%d failJSON cases pass", passed, total)
	for _, f := range failed {
		t.Logf("FAIL %s", f)
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d cases fail", len(failed), total)
	}
}
