package fail2ban

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

const unitConf = "testdata/conf"

func TestLoadFilter(t *testing.T) {
	tests := []struct {
		spec     string
		jailOpts map[string]string
		want     FilterDef
	}{
		{
			spec: "t-includes",
			want: FilterDef{
				// before = t-common.conf (+ its after = t-common.local, which
				// is also t-common.conf's own .local: read twice), the file,
				// after = t-after.conf + t-after.local; then the .d and .local
				// files of the filter itself.
				Files: []string{"t-common.conf", "t-common.local", "t-common.local", "t-includes.conf", "t-after.conf",
					"t-after.local", "t-includes.d/10-extra.conf", "t-includes.local", "t-includes.d/20-extra.local"},
				PrefRegex: `^\s*tdaemon(?:\[\d+\])?:\s+<F-CONTENT>.+</F-CONTENT>$`,
				FailRegex: []string{
					"^from conf <HOST>$",
					"^overridden: from t-common.local$",
					"^from local <HOST> order=after after=yes, from t-after.local$",
				},
				IgnoreRegex: []string{"^from t-includes.d/10-extra.conf$", "^from t-includes.d/20-extra.local$"},
				DatePattern: "{^LN-BEG}",
				Options:     map[string]string{"logtype": "file"},
			},
		},
		{
			spec: "t-known",
			want: FilterDef{
				FailRegex:    []string{"^first <HOST>$", "^second <HOST>$"},
				DatePattern:  "^%Y first second",
				JournalMatch: [][]string{{"_COMM=first"}, {"_COMM=second"}},
			},
		},
		{
			spec: "t-multiline",
			want: FilterDef{
				FailRegex:    []string{"^one <HOST>$", "^two;not a comment <HOST>$", "^three <HOST>$", "^four (tab-indented) <HOST>$"},
				IgnoreRegex:  []string{"^ignored$"},
				DatePattern:  "^%Y-%m-%d",
				MaxLines:     3,
				JournalMatch: [][]string{{"_SYSTEMD_UNIT=a.service"}, {"_COMM=x y"}, {"_COMM=z"}},
			},
		},
		{
			spec: "t-percent",
			want: FilterDef{
				FailRegex:   []string{"^%d literal <HOST> 100%$", "^100% via tag <HOST>$"},
				DatePattern: "%Y-%m-%d %H:%M:%S",
			},
		},
		{spec: "t-tags-26", want: FilterDef{FailRegex: []string{strings.Repeat("B", 26) + " <HOST>"}}},
		{
			spec: "t-nested",
			want: FilterDef{
				PrefRegex:   `^\s*nested(?:\[\d+\])?:\s+<F-CONTENT>.+</F-CONTENT>$`,
				FailRegex:   []string{"^normal <HOST>$", `^unknown tags stay: <UNKNOWN> <HOST> <F-USER>\S+</F-USER>$`},
				DatePattern: "{^LN-BEG}",
				Mode:        "normal",
			},
		},
		{
			spec: "t-nested[mode=aggressive]",
			want: FilterDef{
				PrefRegex:   `^\s*nested(?:\[\d+\])?:\s+<F-CONTENT>.+</F-CONTENT>$`,
				FailRegex:   []string{"^normal <HOST>$", "^extra <HOST>$", `^unknown tags stay: <UNKNOWN> <HOST> <F-USER>\S+</F-USER>$`},
				DatePattern: "{^LN-BEG}",
				Mode:        "aggressive",
			},
		},
		{
			// <lt_<logtype>/__prefix_line> follows the backend
			spec:     "t-nested",
			jailOpts: map[string]string{"backend": "systemd"},
			want: FilterDef{
				PrefRegex:   `^\s*(?:journal-nested)?<F-CONTENT>.+</F-CONTENT>$`,
				FailRegex:   []string{"^normal <HOST>$", `^unknown tags stay: <UNKNOWN> <HOST> <F-USER>\S+</F-USER>$`},
				DatePattern: "{^LN-BEG}",
				Mode:        "normal",
				Options:     map[string]string{"logtype": "journal"},
			},
		},
		{
			spec: `t-init[port=2222, name="big world"]`,
			want: FilterDef{
				FailRegex:   []string{"^hello big world port=2222 <HOST>$", "^known port: 22 <HOST>$"},
				IgnoreRegex: []string{"^Definition section$"},
				MaxLines:    2,
				Options:     map[string]string{"port": "2222", "name": "big world", "greeting": "hello big world", "logtype": "file"},
			},
		},
		{
			// a jail's own regex options replace (failregex: add to) the filter's
			spec: "t-init",
			jailOpts: map[string]string{"failregex": "^jail <HOST>$", "usedns": "no", "maxlines": "5",
				"datepattern": "^X", "journalmatch": "_COMM=j + _COMM=k"},
			want: FilterDef{
				FailRegex:    []string{"^jail <HOST>$"},
				IgnoreRegex:  []string{"^Definition section$"},
				MaxLines:     5,
				DatePattern:  "^X",
				UseDNS:       "no",
				JournalMatch: [][]string{{"_COMM=j"}, {"_COMM=k"}},
			},
		},
		{spec: "t-cond[family=inet6]", want: FilterDef{FailRegex: []string{"^inet6 <HOST>$"}}},
		{
			spec: "t-secopt",
			want: FilterDef{
				FailRegex:   []string{"^other section default definition <HOST>$", "^other section default definition <HOST>$"},
				DatePattern: "<other/missing>",
			},
		},
		{spec: "t-depth-10", want: FilterDef{FailRegex: []string{"^deep <HOST>$"}}},
		{spec: "t-crlf", want: FilterDef{FailRegex: []string{"^crlf <HOST>$", "^cr <HOST>$", "^lf <HOST>$"}}},
		{spec: "t-nodef", want: FilterDef{}},
		{spec: "t-self-include", want: FilterDef{FailRegex: []string{"^self <HOST>$"}, Files: []string{"t-self-include.conf", "t-self-include.conf"}}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := LoadFilter(unitConf, tt.spec, tt.jailOpts)
			require.NoError(t, err)
			want := tt.want
			want.Name, _, _ = strings.Cut(tt.spec, "[")
			if want.MaxLines == 0 {
				want.MaxLines = 1
			}
			if want.Options != nil {
				for k, v := range want.Options {
					require.Equal(t, v, got.Options[k], "option %s", k)
				}
			}
			if want.Files != nil {
				var files []string
				for _, f := range got.Files {
					files = append(files, strings.TrimPrefix(f, unitConf+"/filter.d/"))
				}
				require.Equal(t, want.Files, files)
			}
			if diff := cmp.Diff(&want, got, cmpopts.IgnoreFields(FilterDef{}, "Options", "Files"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadFilterErrors(t *testing.T) {
	tests := []struct {
		spec     string
		sentinel error
		where    string // expected in the message
	}{
		{"t-tags-27", ErrTagRecursion, "t-tags-27.conf:3: [Definition] failregex"},
		{"t-selfref", ErrTagRecursion, "t-selfref.conf:2: [Definition] failregex"},
		{"t-cycle", ErrTagRecursion, "failregex"},
		{"t-badinterp", ErrInterpolation, "t-badinterp.conf:2: [Definition] failregex"},
		{"t-badpercent", ErrInterpolation, "t-badpercent.conf:2: [Definition] failregex"},
		{"t-secopt-upper", ErrInterpolation, "t-secopt-upper.conf:4: [Definition] failregex"},
		{"t-depth-11", ErrInterpolation, "t-depth-11.conf:2: [Definition] failregex"},
		{"t-syntax", ErrSyntax, "t-syntax.conf:3:"},
		{"t-dupopt", ErrSyntax, "t-dupopt.conf:3:"},
		{"t-nosection", ErrSyntax, "t-nosection.conf:1:"},
		{"t-badjournal", ErrValue, "t-badjournal.conf:3: [Definition] journalmatch"},
		{"no-such-filter", ErrNotFound, "no-such-filter"},
		{"t-init[port=22", ErrOptionSyntax, "t-init[port=22"},
		{"t-init[ port = 22 ]", ErrOptionSyntax, "expected option"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := LoadFilter(unitConf, tt.spec, nil)
			require.ErrorIs(t, err, tt.sentinel)
			require.Contains(t, err.Error(), tt.where)
		})
	}
}

func TestExtractOptions(t *testing.T) {
	tests := []struct {
		in   string
		name string
		opts map[string]string
	}{
		{"sshd", "sshd", map[string]string{}},
		{"sshd[mode=aggressive]", "sshd", map[string]string{"mode": "aggressive"}},
		{`name[k=v, k2="v 2"]`, "name", map[string]string{"k": "v", "k2": "v 2"}},
		{`a[x='y,z]'][b=c]`, "a", map[string]string{"x": "y,z]", "b": "c"}},
		{"a[k=v][k=w]", "a", map[string]string{"k": "w"}},
		{"a[k= spaced ]", "a", map[string]string{"k": "spaced"}},
		{"a[k=]", "a", map[string]string{"k": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, opts, err := ExtractOptions(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.name, name)
			require.Equal(t, tt.opts, opts)
		})
	}
	for _, bad := range []string{"", "[x]", "a[k=v]x", `a[k="v"junk]`, "a[ k=v]]", "a[=v]"} {
		_, _, err := ExtractOptions(bad)
		require.ErrorIs(t, err, ErrOptionSyntax, bad)
	}
}

func TestParseTime(t *testing.T) {
	tests := map[string]float64{
		"600": 600, "10m": 600, "1h": 3600, "1d 2h": 93600, "-1": -1, "1d12h": 129600, "2weeks": 1209600,
		"1mo": 2629800, "1y": 31557600, "1year-6mo": 15778800, "(1+2)*60": 180, "1.5": 1.5, "7 DAYS": 604800,
	}
	for in, sec := range tests {
		d, err := ParseTime(in)
		require.NoError(t, err, in)
		require.InDelta(t, sec, d.Seconds(), 1e-9, in)
	}
	for _, bad := range []string{"", "abc", "1e3", "1ds", "010", "1/0", "__import__('os')"} {
		_, err := ParseTime(bad)
		require.ErrorIs(t, err, ErrValue, bad)
	}
}
