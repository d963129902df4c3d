package fail2ban

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// golden is what Fail2Ban's own readers produce: testdata/f2b_reference.py
// writes it from the reference tree at test time (loadGolden).
type golden struct {
	Version        string                  `json:"fail2ban_version"`
	Filters        []goldenFilter          `json:"filters"`
	UnitFilters    []goldenFilter          `json:"unit_filters"`
	Jails          map[string][]goldenJail `json:"jails"`
	ExtractOptions []struct {
		Input string      `json:"input"`
		Name  string      `json:"name"`
		Opts  [][2]string `json:"opts"`
		Error string      `json:"error"`
	} `json:"extract_options"`
	Str2Seconds []struct {
		Input   string   `json:"input"`
		Seconds *float64 `json:"seconds"`
		Error   string   `json:"error"`
	} `json:"str2seconds"`
	Shlex []struct {
		Input string   `json:"input"`
		Words []string `json:"words"`
		Error string   `json:"error"`
	} `json:"shlex"`
}

type goldenFilter struct {
	Spec    string        `json:"spec"`
	Backend string        `json:"backend"`
	Result  *goldenResult `json:"result"`
	Error   string        `json:"error"`
}

// goldenResult is what the Fail2Ban server keeps of a filter's commands.
type goldenResult struct {
	PrefRegex    *string           `json:"prefregex"`
	FailRegex    []string          `json:"failregex"`
	IgnoreRegex  []string          `json:"ignoreregex"`
	MaxLines     *int              `json:"maxlines"`
	DatePattern  *string           `json:"datepattern"`
	JournalMatch [][]string        `json:"journalmatch"`
	UseDNS       *string           `json:"usedns"`
	Options      map[string]string `json:"options,omitempty"`
	Files        []string          `json:"files,omitempty"`
}

type goldenJail struct {
	Name     string             `json:"name"`
	Enabled  *bool              `json:"enabled"`
	Error    string             `json:"error"`
	Options  map[string]*string `json:"options"`
	Port     *string            `json:"port"`
	Protocol *string            `json:"protocol"`
	IgnoreIP []string           `json:"ignoreip"`
	FindTime any                `json:"findtime_seconds"`
	BanTime  any                `json:"bantime_seconds"`
	Filter   *goldenResult      `json:"filter"`
	LogPath  [][2]string        `json:"logpath"`
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// normalize maps a golden result onto FilterDef's conventions: unset and
// empty strings are both "", maxlines defaults to 1, empty lists are nil.
func (g *goldenResult) normalized() goldenResult {
	one := 1
	n := goldenResult{
		PrefRegex: strp(str(g.PrefRegex)), DatePattern: strp(str(g.DatePattern)), UseDNS: strp(str(g.UseDNS)),
		FailRegex: nilIfEmpty(g.FailRegex), IgnoreRegex: nilIfEmpty(g.IgnoreRegex), MaxLines: g.MaxLines,
		Options: g.Options, Files: g.Files,
	}
	if n.MaxLines == nil {
		n.MaxLines = &one
	}
	for _, grp := range g.JournalMatch {
		n.JournalMatch = append(n.JournalMatch, nilIfEmpty(grp))
	}
	return n
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// asGolden renders a FilterDef like a normalized golden result; files are
// made relative to confDir.
func asGolden(d *FilterDef, confDir string, withMeta bool) goldenResult {
	r := goldenResult{
		PrefRegex: strp(d.PrefRegex), DatePattern: strp(d.DatePattern), UseDNS: strp(d.UseDNS),
		FailRegex: nilIfEmpty(d.FailRegex), IgnoreRegex: nilIfEmpty(d.IgnoreRegex), MaxLines: &d.MaxLines,
	}
	for _, grp := range d.JournalMatch {
		r.JournalMatch = append(r.JournalMatch, nilIfEmpty(grp))
	}
	if withMeta {
		r.Options = d.Options
		for _, f := range d.Files {
			rel, err := filepath.Rel(confDir, f)
			if err != nil {
				rel = f
			}
			r.Files = append(r.Files, rel)
		}
	}
	return r
}

// loadGolden returns what testdata/f2b_reference.py writes from the
// reference tree (with testdata/fixture and testdata/conf), made at test
// time and cached under .cache/f2bfixtures. Without the tree the test
// skips (fails under BANFLEET_E2E=1).
func loadGolden(t *testing.T) (*golden, *f2bref.Tree) {
	t.Helper()
	const script = "testdata/f2b_reference.py"
	inputs := []string{script}
	for _, d := range []string{"testdata/fixture", "testdata/conf"} {
		require.NoError(t, filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				inputs = append(inputs, p)
			}
			return err
		}))
	}
	dir := f2bref.Fixture(t, "config-golden.json", inputs, func(tr *f2bref.Tree, dir string) error {
		return tr.RunPython("", script, "--confdir", tr.ConfDir,
			"--fixture", "testdata/fixture", "--unit", "testdata/conf", "--out", filepath.Join(dir, "golden.json"))
	})
	data, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	require.NoError(t, err)
	var g golden
	require.NoError(t, json.Unmarshal(data, &g))
	require.Equal(t, Version, g.Version)
	return &g, f2bref.Require(t)
}

// requireTree returns the reference Fail2Ban, or skips the test (fails it
// under BANFLEET_E2E=1).
func requireTree(t *testing.T) *f2bref.Tree { t.Helper(); return f2bref.Require(t) }

func TestGoldenFilters(t *testing.T) {
	g, _ := loadGolden(t)
	tree := requireTree(t)
	identical := map[string]bool{} // filter file -> every reading identical
	same := 0
	for _, rec := range g.Filters {
		name, _, _ := strings.Cut(rec.Spec, "[")
		if _, ok := identical[name]; !ok {
			identical[name] = true
		}
		ok := t.Run(rec.Spec+"@"+rec.Backend, func(t *testing.T) {
			checkFilter(t, tree.ConfDir, rec)
		})
		if ok {
			same++
		} else {
			identical[name] = false
		}
	}
	files, sameFiles := 0, 0
	for name, ok := range identical {
		if _, err := os.Stat(filepath.Join(tree.ConfDir, "filter.d", name+".conf")); err != nil {
			continue
		}
		files++
		if ok {
			sameFiles++
		}
	}
	t.Logf("identical to Fail2Ban %s: %d/%d filter readings, %d/%d filters (every spec and backend)",
		g.Version, same, len(g.Filters), sameFiles, files)
}

func TestGoldenUnitFilters(t *testing.T) {
	g, _ := loadGolden(t)
	for _, rec := range g.UnitFilters {
		t.Run(rec.Spec+"@"+rec.Backend, func(t *testing.T) {
			checkFilter(t, "testdata/conf", rec)
		})
	}
}

func checkFilter(t *testing.T, confDir string, rec goldenFilter) {
	t.Helper()
	name, args, err := extractOptions(rec.Spec)
	var d *FilterDef
	if err == nil {
		var fr *filterReader
		if fr, err = readFilter(newLoader(), confDir, name, args); err == nil {
			d, err = fr.asRegex(rec.Backend)
		}
	}
	if rec.Error != "" {
		require.Error(t, err, "Fail2Ban: %s", rec.Error)
		return
	}
	require.NoError(t, err)
	want := rec.Result.normalized()
	if diff := cmp.Diff(want, asGolden(d, confDir, true)); diff != "" {
		t.Errorf("FilterDef differs from Fail2Ban's (-fail2ban +go):\n%s", diff)
	}
}

// goRejects lists jails of testdata/conf Go reports as broken where
// Fail2Ban's client goes on (see the comment in testdata/conf/jail.conf).
var goRejects = map[string]error{
	"t-bad-maxretry": ErrValue,
	"t-bad-findtime": ErrValue,
	"t-bad-logpath":  ErrValue,
}

func TestGoldenJails(t *testing.T) {
	g, _ := loadGolden(t)
	sets := []struct{ name, confDir string }{{"unit", "testdata/conf"}}
	if tree, err := f2bref.Find(); err == nil {
		sets = append(sets, struct{ name, confDir string }{"etc", tree.ConfDir},
			struct{ name, confDir string }{"fixture", fixtureTree(t, tree.ConfDir)})
	} else if os.Getenv("BANFLEET_E2E") == "1" {
		t.Fatal(err)
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			jails, err := loadJails(set.confDir, nil, true)
			byName := map[string]Jail{}
			for _, j := range jails {
				byName[j.Name] = j
			}
			jailErrs := map[string]error{}
			for _, e := range unjoin(err) {
				var je *JailError
				require.True(t, errors.As(e, &je), "not a JailError: %v", e)
				jailErrs[je.Jail] = je
			}
			recs := g.Jails[set.name]
			require.NotEmpty(t, recs)
			var names []string
			for _, rec := range recs {
				names = append(names, rec.Name)
				t.Run(rec.Name, func(t *testing.T) {
					if want, ok := goRejects[rec.Name]; ok && set.name == "unit" {
						require.ErrorIs(t, jailErrs[rec.Name], want)
						return
					}
					if rec.Error != "" {
						require.Error(t, jailErrs[rec.Name], "Fail2Ban: %s", rec.Error)
						return
					}
					require.NoError(t, jailErrs[rec.Name])
					j, ok := byName[rec.Name]
					require.True(t, ok, "jail missing")
					checkJail(t, rec, j, strings.TrimRight(set.confDir, "/"))
				})
			}
			var got []string
			for _, j := range jails {
				got = append(got, j.Name)
			}
			for n := range jailErrs {
				got = append(got, n)
			}
			sort.Strings(names)
			sort.Strings(got)
			require.Equal(t, names, got, "jails read")
		})
	}
}

func checkJail(t *testing.T, rec goldenJail, j Jail, confDir string) {
	t.Helper()
	require.NotNil(t, rec.Enabled)
	require.Equal(t, *rec.Enabled, j.Enabled, "enabled")
	// options, converted as Fail2Ban converts them
	conv := map[string]string{}
	raw := newSection(j.Name)
	for k, v := range j.Options {
		if k != "port" && k != "protocol" {
			raw.setString(k, v)
		}
	}
	all, err := convertVars(raw, jailOptSpecs)
	require.NoError(t, err)
	for k, v := range all.vals {
		conv[k] = strings.ReplaceAll(v.s, confDir, "CONFDIR")
	}
	want := map[string]string{}
	for k, v := range rec.Options {
		if v != nil {
			want[k] = *v
		}
	}
	if diff := cmp.Diff(want, conv); diff != "" {
		t.Errorf("options (-fail2ban +go):\n%s", diff)
	}
	require.Equal(t, str(rec.Port), j.Options["port"], "port")
	if rec.Port != nil {
		var parts []string
		for _, p := range strings.Split(*rec.Port, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		require.Equal(t, parts, j.Port)
	}
	if rec.Protocol != nil {
		require.Equal(t, *rec.Protocol, j.Protocol)
	} else {
		require.Equal(t, "tcp", j.Protocol)
	}
	require.Equal(t, nilIfEmpty(rec.IgnoreIP), j.IgnoreIP, "ignoreip")
	checkSeconds(t, "findtime", rec.FindTime, j.FindTime, DefaultFindTime)
	checkSeconds(t, "bantime", rec.BanTime, j.BanTime, DefaultBanTime)
	require.NotNil(t, rec.Filter)
	if diff := cmp.Diff(rec.Filter.normalized(), asGolden(j.Filter, "", false)); diff != "" {
		t.Errorf("filter (-fail2ban +go):\n%s", diff)
	}
	var lp [][2]string
	for _, p := range j.LogPath {
		tail := "head"
		if p.Tail {
			tail = "tail"
		}
		lp = append(lp, [2]string{p.Glob, tail})
	}
	require.Equal(t, nilIfEmptyPairs(rec.LogPath), lp, "logpath")
	require.Equal(t, strings.HasPrefix(j.Backend, "systemd"), j.Journal)
	require.Equal(t, j.Filter.UseDNS, j.UseDNS)
}

func nilIfEmptyPairs(p [][2]string) [][2]string {
	if len(p) == 0 {
		return nil
	}
	return p
}

func checkSeconds(t *testing.T, key string, want any, got, def time.Duration) {
	t.Helper()
	switch w := want.(type) {
	case nil:
		require.Equal(t, def, got, key)
	case float64:
		require.Equal(t, time.Duration(w*float64(time.Second)), got, key)
	default:
		t.Fatalf("%s: Fail2Ban: %v", key, w)
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// fixtureTree copies confDir to a temporary "fail2ban" directory and lays
// testdata/fixture on top, as f2b_reference.py --fixture does.
func fixtureTree(t *testing.T, confDir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "fail2ban")
	require.NoError(t, os.CopyFS(dst, os.DirFS(confDir)))
	require.NoError(t, filepath.WalkDir("testdata/fixture", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel("testdata/fixture", p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dst, rel), string(data))
		return nil
	}))
	return dst
}

func TestGoldenExtractOptions(t *testing.T) {
	g, _ := loadGolden(t)
	for _, rec := range g.ExtractOptions {
		t.Run(strconv.Quote(rec.Input), func(t *testing.T) {
			name, opts, err := extractOptions(rec.Input)
			if rec.Error != "" {
				require.ErrorIs(t, err, ErrOptionSyntax, "Fail2Ban: %s", rec.Error)
				return
			}
			require.NoError(t, err)
			require.Equal(t, rec.Name, name)
			var got [][2]string
			for _, k := range opts.keys {
				got = append(got, [2]string{k, opts.vals[k].s})
			}
			require.Equal(t, nilIfEmptyPairs(rec.Opts), got)
		})
	}
}

func TestGoldenStr2Seconds(t *testing.T) {
	g, _ := loadGolden(t)
	for _, rec := range g.Str2Seconds {
		t.Run(strconv.Quote(rec.Input), func(t *testing.T) {
			d, err := ParseTime(rec.Input)
			if rec.Error != "" {
				require.ErrorIs(t, err, ErrValue, "Fail2Ban: %s", rec.Error)
				return
			}
			require.NoError(t, err)
			require.Equal(t, time.Duration(*rec.Seconds*float64(time.Second)), d)
		})
	}
}

func TestGoldenShlex(t *testing.T) {
	g, _ := loadGolden(t)
	for _, rec := range g.Shlex {
		t.Run(strconv.Quote(rec.Input), func(t *testing.T) {
			words, err := shlexSplit(rec.Input)
			if rec.Error != "" {
				require.Error(t, err, "Python: %s", rec.Error)
				return
			}
			require.NoError(t, err)
			require.Equal(t, rec.Words, words)
		})
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
}
