package f2bcompat

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeEngine matches "FAIL <ip> <user>" lines; in mode b nothing matches.
type fakeEngine struct{ loads []string }

type fakeInst struct{ mode string }

func (e *fakeEngine) Filter(_, name string, opts map[string]string) (Instance, error) {
	e.loads = append(e.loads, name+"/"+opts["mode"])
	return &fakeInst{mode: opts["mode"]}, nil
}

func (f *fakeInst) FailRegexes() []string { return []string{"FAIL " + f.mode} }

func (f *fakeInst) Process(line string, _ time.Time) ([]Result, error) {
	fields := strings.Fields(line)
	if len(fields) < 4 || f.mode == "b" {
		return nil, nil
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05", fields[0]+" "+fields[1], Location())
	if err != nil {
		return nil, err
	}
	id := fields[3]
	r := Result{Regex: 0, FID: &id, Time: float64(t.Unix()), Fields: map[string]any{}}
	switch fields[2] {
	case "FAIL":
		if len(fields) > 4 {
			r.Fields["user"] = fields[4]
		}
	case "NOFAIL":
		r.Fields["nofail"] = true
	}
	return []Result{r}, nil
}

func (f *fakeInst) ProcessJournal(line string, _ time.Time) ([]Result, error) {
	return f.Process(line, time.Time{})
}

func TestHarnessRules(t *testing.T) {
	e := &fakeEngine{}
	rep := Run(e, "", "testdata/logs", "fake")
	require.Empty(t, rep.LoadErr)
	require.Len(t, rep.Cases, 4, "the case in the block whose test.condition is false is not run")
	for _, c := range rep.Cases {
		require.Empty(t, c.Err, "%s:%d %s", c.File, c.Line, c.Text)
	}
	require.Equal(t, []string{"fake/", "fake/a", "fake/b"}, e.loads)
	require.Equal(t, []string{`fake{"mode":"b"}: failregex 0 has no sample`}, rep.Unsampled, "regex 'FAIL b' never matched")
}

func TestEval(t *testing.T) {
	for expr, want := range map[string]bool{
		"name=='fake'":                     true,
		"name == 'sshd'":                   false,
		"opts.get('mode') == 'a'":          true,
		"opts.get('mode') != 'aggressive'": true,
		"opts['mode'] == 'b'":              false,
	} {
		got, err := eval(expr, "fake", map[string]any{"mode": "a"})
		require.NoError(t, err, expr)
		require.Equal(t, want, got, expr)
	}
	_, err := eval("__import__('os')", "x", nil)
	require.Error(t, err)
}
