package fail2ban

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// storeFrom merges the given files (name -> text) in order.
func storeFrom(t *testing.T, files ...[2]string) *store {
	t.Helper()
	st := newStore()
	for _, f := range files {
		pf, err := parseINI(f[0], []byte(f[1]))
		require.NoError(t, err)
		st.merge(pf)
	}
	return st
}

func TestInterpolation(t *testing.T) {
	st := storeFrom(t,
		[2]string{"a.conf", `
[DEFAULT]
d = from default
pct = 100%%
name = %(__name__)s

[Definition]
plain = %(d)s
own = mine
ref = <%(own)s>
nested = %(ref)s and %(d)s
escaped = 50%% of %(pct)s
sect = %(other/x)s
sectdefault = %(default/d)s
known = %(known/over)s
knowndefault = %(known/d)s
over = first
upper = %(OWN)s
var = %(arg)s

[other]
x = other's %(own)s
own = other-own
`},
		[2]string{"a.local", `
[Definition]
over = second (was %(known/over)s)
`})
	vars := newSection("")
	vars.setString("arg", "from vars")
	vars.setString("own", "vars win")
	tests := []struct {
		sec, opt string
		vars     *section
		want     string
	}{
		{"Definition", "plain", nil, "from default"},
		{"Definition", "nested", nil, "<mine> and from default"},
		{"Definition", "escaped", nil, "50% of 100%"},
		{"Definition", "name", nil, "Definition"},
		{"other", "name", nil, "other"},
		{"DEFAULT", "name", nil, "DEFAULT"},
		// the referenced raw value is interpolated in the current section
		{"Definition", "sect", nil, "other's mine"},
		{"Definition", "sectdefault", nil, "from default"},
		{"Definition", "known", nil, "first"},
		{"Definition", "over", nil, "second (was first)"},
		{"Definition", "knowndefault", nil, "from default"},
		{"Definition", "upper", nil, "mine"},
		{"Definition", "var", vars, "from vars"},
		{"Definition", "ref", vars, "<vars win>"},
	}
	for _, tt := range tests {
		t.Run(tt.sec+"/"+tt.opt, func(t *testing.T) {
			v, err := st.get(tt.sec, tt.opt, tt.vars)
			require.NoError(t, err)
			require.Equal(t, tt.want, v.s)
		})
	}
}

func TestInterpolationErrors(t *testing.T) {
	st := storeFrom(t, [2]string{"dir/e.conf", `
[Definition]
missing = %(nope)s
bad = 100% sure
badref = %(unclosed
upper = %(Other/x)s
nosect = %(nosuch/x)s
d0 = %(d1)s
d1 = %(d2)s
d2 = %(d3)s
d3 = %(d4)s
d4 = %(d5)s
d5 = %(d6)s
d6 = %(d7)s
d7 = %(d8)s
d8 = %(d9)s
d9 = %(d10)s
d10 = %(d11)s
d11 = end

[Other]
x = 1
`})
	for opt, line := range map[string]int{"missing": 3, "bad": 4, "badref": 5, "upper": 6, "nosect": 7, "d0": 8} {
		t.Run(opt, func(t *testing.T) {
			_, err := st.get("Definition", opt, nil)
			require.ErrorIs(t, err, ErrInterpolation)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "dir/e.conf", e.File)
			require.Equal(t, line, e.Line)
			require.Equal(t, "Definition", e.Section)
			require.Equal(t, opt, e.Key)
		})
	}
	v, err := st.get("Definition", "d1", nil) // 10 levels: fine
	require.NoError(t, err)
	require.Equal(t, "end", v.s)
}

func TestKnownSections(t *testing.T) {
	st := storeFrom(t,
		[2]string{"1.conf", "[s]\na = 1\nb = 1\n[Init?family=inet6]\nx = 6\n"},
		[2]string{"2.conf", "[s]\na = 2\n"},
		[2]string{"3.conf", "[s]\na = 3\nb = 3\n[Init]\nx = 4\n"})
	require.Equal(t, "3", st.secs["s"].vals["a"].s)
	require.Equal(t, "2", st.secs["KNOWN/s"].vals["a"].s, "KNOWN holds the last overridden value")
	require.Equal(t, "1", st.secs["KNOWN/s"].vals["b"].s)
	require.Equal(t, "6", st.secs["Init"].vals["x?family=inet6"].s)
	require.Equal(t, "4", st.secs["Init"].vals["x"].s)
}

func TestSubstituteTags(t *testing.T) {
	mk := func(kv ...string) *section {
		s := newSection("")
		for i := 0; i < len(kv); i += 2 {
			s.setString(kv[i], kv[i+1])
		}
		return s
	}
	tests := []struct {
		name   string
		tags   *section
		ignore map[string]bool
		extra  map[string]string // what addrepl knows
		want   map[string]string
		err    bool
	}{
		{name: "simple", tags: mk("a", "3", "b", "<a>_3"), want: map[string]string{"a": "3", "b": "3_3"}},
		{name: "recursive", tags: mk("a", "<b>", "b", "<c>", "c", "x"), want: map[string]string{"a": "x", "b": "x", "c": "x"}},
		{name: "nested", tags: mk("f", "<mdre-<mode>>", "mode", "extra", "mdre-extra", "E"), want: map[string]string{"f": "E"}},
		{name: "unknown tags stay", tags: mk("f", "<HOST> <F-USER>x</F-USER> <a b>"), want: map[string]string{"f": "<HOST> <F-USER>x</F-USER> <a b>"}},
		{name: "addrepl", tags: mk("f", "<x/y> <lt_<t>/p>", "t", "file"), extra: map[string]string{"x/y": "XY", "lt_file/p": "P"},
			want: map[string]string{"f": "XY P"}},
		{name: "ignored", tags: mk("a", "<b>", "b", "B"), ignore: map[string]bool{"b": true}, want: map[string]string{"a": "<b>"}},
		{name: "self", tags: mk("a", "x<a>"), err: true},
		{name: "cycle", tags: mk("a", "<b>", "b", "<a>"), err: true},
		{name: "every occurrence", tags: mk("a", "<b>-<b>-<b>", "b", "B"), want: map[string]string{"a": "B-B-B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addrepl := func(n string) (*value, error) {
				if v, ok := tt.extra[n]; ok {
					return &value{s: v}, nil
				}
				return nil, nil
			}
			got, err := substituteTags(tt.tags, tt.ignore, addrepl)
			if tt.err {
				require.ErrorIs(t, err, ErrTagRecursion)
				return
			}
			require.NoError(t, err)
			for k, v := range tt.want {
				require.Equal(t, v, got.vals[k].s, k)
			}
		})
	}
}

// TestTagLimit checks the boundary of MaxTagReplaceCount: within one value
// a tag may be substituted 26 times (the check runs before each
// substitution and fails once the count exceeds 25).
func TestTagLimit(t *testing.T) {
	for _, n := range []int{MaxTagReplaceCount + 1, MaxTagReplaceCount + 2} {
		tags := newSection("")
		tags.setString("f", "<c1>")
		extra := map[string]string{"b": "B"}
		for i := 1; i <= n; i++ {
			next := "<c" + strconv.Itoa(i+1) + ">"
			if i == n {
				next = ""
			}
			extra["c"+strconv.Itoa(i)] = "<b>" + next
		}
		got, err := substituteTags(tags, nil, func(name string) (*value, error) {
			if v, ok := extra[name]; ok {
				return &value{s: v}, nil
			}
			return nil, nil
		})
		if n <= MaxTagReplaceCount+1 {
			require.NoError(t, err, n)
			require.Len(t, got.vals["f"].s, n)
		} else {
			require.ErrorIs(t, err, ErrTagRecursion, n)
		}
	}
}
