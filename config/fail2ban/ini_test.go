package fail2ban

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dump renders a parsed file as "[section] key=value" lines.
func dump(f *iniFile) []string {
	var out []string
	add := func(s *section) {
		for _, k := range s.keys {
			out = append(out, "["+s.name+"] "+k+"="+s.vals[k].s)
		}
	}
	add(f.defaults)
	for _, s := range f.sections {
		add(s)
	}
	return out
}

func TestParseINI(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"delimiters and case", "[S]\nKey = v\nother: w\nx=y=z\n", []string{"[S] key=v", "[S] other=w", "[S] x=y=z"}},
		{"first delimiter wins", "[s]\na: b = c\nd = e: f\n", []string{"[s] a=b = c", "[s] d=e: f"}},
		{"full-line comments", "# c\n[s]\n; c\na = 1\n  # indented comment\n", []string{"[s] a=1"}},
		{"inline comment needs whitespace", "[s]\na = x ; c\nb = x;y\nc = x # not a comment\n", []string{"[s] a=x", "[s] b=x;y", "[s] c=x # not a comment"}},
		{"continuation keeps newlines", "[s]\na = 1\n  2\n\t3\nb = 4\n", []string{"[s] a=1\n2\n3", "[s] b=4"}},
		{"empty lines inside a value", "[s]\na = 1\n\n  2\n\n\nb = 3\n", []string{"[s] a=1\n\n2", "[s] b=3"}},
		{"comment lines inside a value are dropped", "[s]\na = 1\n# c\n  2\n", []string{"[s] a=1\n2"}},
		{"empty first line", "[s]\na =\n  x\n  y\n", []string{"[s] a=\nx\ny"}},
		{"continuation is relative to the key's indent", "[s]\n  a = 1\n  b = 2\n    c\n", []string{"[s] a=1", "[s] b=2\nc"}},
		{"DEFAULT", "[DEFAULT]\nd = 1\n[s]\na = %(d)s\n", []string{"[DEFAULT] d=1", "[s] a=%(d)s"}},
		{"DEFAULT twice", "[DEFAULT]\na = 1\n[DEFAULT]\nb = 2\n", []string{"[DEFAULT] a=1", "[DEFAULT] b=2"}},
		{"section names keep case and spaces", "[ My Sect ]\na=1\n[x] trailing\nb=2\n", []string{"[ My Sect ] a=1", "[x] b=2"}},
		{"CRLF and CR", "[s]\r\na = 1\r  2\r\nb = 3", []string{"[s] a=1\n2", "[s] b=3"}},
		{"unicode whitespace", "[s]\n\u00a0a = 1\u00a0\n", []string{"[s] a=1"}},
		{"empty value", "[s]\na =\nb:\n", []string{"[s] a=", "[s] b="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseINI("t.conf", []byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, dump(f))
		})
	}
}

func TestParseINIErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"no section", "a = 1\n", 1, "no section headers"},
		{"no delimiter", "[s]\na = 1\njunk\n", 3, "no '=' or ':'"},
		{"no key", "[s]\n= 1\n", 2, "no option name"},
		{"duplicate key", "[s]\nA = 1\na = 2\n", 3, `option "a" in section "s" already exists`},
		{"duplicate section", "[s]\n[t]\n[s]\n", 3, `section "s" already exists`},
		{"duplicate DEFAULT key", "[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n", 4, "already exists"},
		{"empty header", "[s]\n[]\n", 2, "no '=' or ':'"},
		{"BOM", "\ufeff[s]\na = 1\n", 1, "no section headers"},
		{"not UTF-8", "[s]\na = \xff\n", 2, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseINI("dir/t.conf", []byte(tt.in))
			require.ErrorIs(t, err, ErrSyntax)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "dir/t.conf", e.File)
			require.Equal(t, tt.line, e.Line)
			require.Contains(t, err.Error(), tt.msg)
			require.True(t, strings.HasPrefix(err.Error(), "dir/t.conf:"), err.Error())
		})
	}
}
