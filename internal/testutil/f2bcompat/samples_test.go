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
	"github.com/banfleet/banfleet/agent/jailfilter"
	"github.com/banfleet/banfleet/config"
	"github.com/banfleet/banfleet/config/fail2ban"
	"github.com/banfleet/banfleet/internal/testutil/f2bcompat"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// engine is banfleet's filter engine as the harness sees it:
// config/fail2ban reads the filter, f2b compiles and runs it, date finds
// the dates.
type engine struct {
	guard bool // f2b.Options.AddressGuard
}

type instance struct {
	m       *f2b.Matcher
	regexes []string
}

func (e engine) Filter(confDir, name string, opts map[string]string) (f2bcompat.Instance, error) {
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
	j := config.AgentJail{}
	if logType == "journal" {
		j.Backend = "systemd"
	}
	j.SetFilter(def)
	c, err := f2b.Compile(jailfilter.Definition(name, j),
		f2b.Options{Location: loc, AddressGuard: e.guard, Dates: func(p string, l *time.Location) (f2b.DateFinder, error) {
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

// corpus runs every sample file of the reference Fail2Ban (its stock filters
// and its two zzz-* test filters) through e and returns the reports.
func corpus(t *testing.T, e f2bcompat.Engine) []*f2bcompat.FilterReport {
	t.Helper()
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
	var reps []*f2bcompat.FilterReport
	for _, j := range jobs {
		if _, err := os.Stat(filepath.Join(tr.SampleLogs, j.name)); err != nil {
			continue
		}
		rep := f2bcompat.Run(e, j.conf, tr.SampleLogs, j.name)
		if rep.LoadErr != "" {
			t.Errorf("%s: %s", j.name, rep.LoadErr)
		}
		reps = append(reps, rep)
	}
	return reps
}

// TestFail2BanSamples runs every failJSON case of Fail2Ban's sample corpus
// (as Debian's fail2ban 1.0.2 ships it) through banfleet's engine, with
// Fail2Ban's own test rules, and reports per filter and in total.
func TestFail2BanSamples(t *testing.T) {
	total, passed := 0, 0
	var failed []string
	for _, rep := range corpus(t, engine{}) {
		total += len(rep.Cases)
		passed += rep.Passed()
		t.Logf("%-28s %3d/%3d", rep.Name, rep.Passed(), len(rep.Cases))
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

// guardedChanges are the failJSON cases whose result f2b.Options.AddressGuard
// changes (file:line → why): lines that name two addresses where a
// client-chosen field lets the rule read either. Every other case must give
// Fail2Ban's result with the guard on.
var guardedChanges = map[string]string{
	// sshd (and its journal and obsolete-multiline variants, same lines):
	// Fail2Ban's own injection samples
	"sshd:132":          "gh-1479: ssh1 ruser after a valid user's address (…ssh1: ruser from 1.2.3.4)",
	"sshd:135":          "gh-1479: long ssh1 ruser naming another address",
	"sshd:137":          "gh-1479: ssh1 ruser, IPv6 client",
	"sshd:140":          "CVE-2007-4321: invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2",
	"sshd:142":          "CVE-2007-4321: invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
	"sshd:144":          "invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
	"sshd:275":          "mode ddos: Bad protocol version identification 'dummy string' from 192.0.2.1' from 69.61.56.115",
	"sshd-journal:133":  "journal copy of sshd:132",
	"sshd-journal:136":  "journal copy of sshd:135",
	"sshd-journal:138":  "journal copy of sshd:137",
	"sshd-journal:141":  "journal copy of sshd:140",
	"sshd-journal:143":  "journal copy of sshd:142",
	"sshd-journal:145":  "journal copy of sshd:144",
	"pam-generic:23":    "two rhost= fields: user=test rhost=192.0.2.152 after rhost=192.0.2.2",
	"roundcube-auth:15": "user name injection: Login failed for admin from 127.0.0.1. from 1.2.3.4.",
	// user name injection that leaves the real client last; a Host header
	// naming another client after the real one makes a line of the same
	// shape whose last address is the injected one
	"nginx-http-auth:14": `user "test": password mismatch, client: 127.0.0.1, … host: "localhost:8443"": was not found …, client: 192.0.2.2`,
}

// TestFail2BanSamplesGuarded runs the corpus as TestFail2BanSamples does,
// with the address guard on, and requires exactly the known changes.
func TestFail2BanSamplesGuarded(t *testing.T) {
	total := 0
	changed := map[string]bool{}
	for _, rep := range corpus(t, engine{guard: true}) {
		total += len(rep.Cases)
		for _, c := range rep.Cases {
			if c.Err == "" {
				continue
			}
			key := fmt.Sprintf("%s:%d", filepath.Base(c.File), c.Line)
			changed[key] = true
			if why, ok := guardedChanges[key]; ok {
				t.Logf("changed (known: %s) %s\n      %s\n      %s", why, key, c.Text, c.Err)
			} else {
				t.Errorf("changed by the guard: %s [%s] %s\n      %s", key, c.Filter, c.Err, c.Text)
			}
		}
	}
	for key := range guardedChanges {
		if !changed[key] {
			t.Errorf("%s: listed as changed by the guard, but gives Fail2Ban's result", key)
		}
	}
	t.Logf("TOTAL %d/%d failJSON cases unchanged by the guard", total-len(changed), total)
}
