package f2b

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/filter"
)

// samples.json.gz holds, for every line of Fail2Ban's sample logs, what
// Fail2Ban 1.0.2 decides in the daemon's mode: testdata/gen_samples.py
// writes it from the reference tree at test time (referenceFixture).

type sampleFile struct {
	Now     float64        `json:"now"`
	Filters []sampleFilter `json:"filters"`
}

type sampleFilter struct {
	Name  string         `json:"name"`
	Opts  map[string]any `json:"opts"`
	Def   Definition     `json:"def"`
	Steps []sampleStep   `json:"steps"`
}

type sampleStep struct {
	Line    string         `json:"line"`
	Journal bool           `json:"journal"`
	Date    []*float64     `json:"date"`
	Res     []sampleResult `json:"res"`
	Expect  map[string]any `json:"expect"`
}

type sampleResult struct {
	Rule  int            `json:"rule"`
	Fid   string         `json:"fid"`
	Valid bool           `json:"valid"`
	Time  *float64       `json:"time"`
	Fail  map[string]any `json:"fail"`
}

func loadSamples(t testing.TB) sampleFile {
	f, err := os.Open(referenceFixture(t, "gen_samples.py", "samples.json.gz"))
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	var s sampleFile
	require.NoError(t, json.NewDecoder(zr).Decode(&s))
	return s
}

// recordedDates replays the date spans Fail2Ban found, line by line.
type recordedDates struct {
	t     testing.TB
	steps []sampleStep
	i     int
}

// A line rejected before its date is needed (Compiled.lines) asks for it
// later, or never: the step is found by its text, the next one first.
func (r *recordedDates) Find(line []byte, now time.Time) (time.Time, int, int, bool) {
	k := -1
	for i := r.i; i < len(r.steps) && k < 0; i++ {
		if !r.steps[i].Journal && r.steps[i].Line == string(line) {
			k = i
		}
	}
	for i := min(r.i, len(r.steps)) - 1; i >= 0 && k < 0; i-- {
		if !r.steps[i].Journal && r.steps[i].Line == string(line) {
			k = i
		}
	}
	if k < 0 {
		r.t.Errorf("date asked for an unexpected line %q", line)
		return time.Time{}, 0, 0, false
	}
	st := r.steps[k]
	if k >= r.i {
		r.i = k + 1
	}
	if st.Date == nil || st.Date[2] == nil {
		return time.Time{}, 0, 0, false
	}
	return floatTime(*st.Date[2]), int(*st.Date[0]), int(*st.Date[1]), true
}

func floatTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3)
}

// TestSamplesAgainstFail2Ban runs every sample line through the engine and
// compares with Fail2Ban's own decision: the failregex, the failure ID and
// address, the time, every group, the attempts and users.
func TestSamplesAgainstFail2Ban(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus-sized: the test task runs it; -short (the race task) does not")
	}
	s := loadSamples(t)
	now := floatTime(s.Now)
	total, same := 0, 0
	verdicts := map[filter.Verdict]int{}
	pyFailures := 0
	var failures []string
	for _, sf := range s.Filters {
		rec := &recordedDates{t: t, steps: sf.Steps}
		c, err := Compile(sf.Def, Options{Dates: func(string, *time.Location) (DateFinder, error) {
			return rec, nil
		}})
		require.NoError(t, err, sf.Name)
		rec.i = 0
		m := c.New()
		for i, st := range sf.Steps {
			var r Result
			if st.Journal {
				r = m.ProcessAt([]byte(st.Line), now)
			} else {
				r = m.Process([]byte(st.Line), now)
			}
			total++
			verdicts[r.Verdict]++
			pyFailures += len(st.Res)
			if why := compareSample(st, r); why != "" {
				failures = append(failures, fmt.Sprintf("%s step %d %q: %s", sf.Name, i, st.Line, why))
				continue
			}
			same++
		}
	}
	t.Logf("%d filter instances, %d lines (Fail2Ban: %d failures): %d decided as Fail2Ban does, %d differ; verdicts %v",
		len(s.Filters), total, pyFailures, same, total-same, verdicts)
	// how the stock regexes run (default options)
	seen := map[string]bool{}
	fullRE2, filters := 0, 0
	engines := map[string]int{}
	var slow []string
	for _, sf := range s.Filters {
		if len(sf.Opts) > 0 || seen[sf.Def.Name] {
			continue
		}
		seen[sf.Def.Name] = true
		c, err := Compile(sf.Def, Options{})
		require.NoError(t, err)
		filters++
		all := true
		for _, ri := range c.Regexes() {
			engines[ri.Engine]++
			if ri.Engine != EngineRE2 {
				all = false
			}
		}
		if all {
			fullRE2++
		} else {
			slow = append(slow, sf.Def.Name)
		}
	}
	t.Logf("stock filters (default options): %d of %d run every regex on RE2; regexes by engine %v; on the backtracking engine: %v", fullRE2, filters, engines, slow)
	for i, f := range failures {
		if i == 30 {
			t.Errorf("... and %d more", len(failures)-30)
			break
		}
		t.Error(f)
	}
}

func compareSample(st sampleStep, r Result) string {
	if len(st.Res) == 0 {
		if r.Verdict == filter.Failed {
			return fmt.Sprintf("Fail2Ban: no failure; got Failed %v (rule %d, groups %v)", r.Addr, r.Rule, r.Groups)
		}
		return ""
	}
	py := st.Res[0]
	if r.Verdict != filter.Failed && r.Verdict != filter.Ignored {
		return fmt.Sprintf("Fail2Ban: failure %s by rule %d; got %v", py.Fid, py.Rule, r.Verdict)
	}
	if r.Rule != py.Rule {
		return fmt.Sprintf("rule: Fail2Ban %d, got %d", py.Rule, r.Rule)
	}
	if py.Valid {
		want := py.Fid
		if ip, ok := py.Fail["ip"].(string); ok {
			want = ip
		}
		if r.Verdict != filter.Failed || r.Addr != netip.MustParseAddr(want) {
			return fmt.Sprintf("address: Fail2Ban %s, got %v %v", want, r.Verdict, r.Addr)
		}
	} else if r.Verdict != filter.Ignored || r.ID != py.Fid {
		return fmt.Sprintf("Fail2Ban: failure with raw id %q; got %v id %q addr %v", py.Fid, r.Verdict, r.ID, r.Addr)
	}
	if py.Time != nil && !r.Time.Equal(floatTime(*py.Time)) {
		return fmt.Sprintf("time: Fail2Ban %v, got %v", floatTime(*py.Time), r.Time)
	}
	want := map[string]string{}
	for k, v := range py.Fail {
		switch k {
		case "attempts", "nofail-attempts", "users", "ip":
			continue
		}
		if s, ok := v.(string); ok {
			want[k] = s
		}
	}
	for k := range r.Groups {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("extra group %s=%q (Fail2Ban %v)", k, r.Groups[k], py.Fail)
		}
	}
	for k, v := range want {
		if r.Groups[k] != v {
			return fmt.Sprintf("group %s: Fail2Ban %q, got %q", k, v, r.Groups[k])
		}
	}
	if a, ok := py.Fail["attempts"].(float64); ok && int(a) != r.Attempts {
		return fmt.Sprintf("attempts: Fail2Ban %v, got %d", a, r.Attempts)
	}
	var users []string
	if u, ok := py.Fail["users"].([]any); ok {
		for _, x := range u {
			users = append(users, x.(string))
		}
	}
	got := slices.Clone(r.Users)
	sort.Strings(got)
	if !slices.Equal(users, got) {
		return fmt.Sprintf("users: Fail2Ban %v, got %v", users, got)
	}
	return ""
}
