package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func binField(name string, v []byte) []byte {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(v)))
	return append(append(append([]byte(name+"\n"), n[:]...), v...), '\n')
}

// readAll parses a whole stream and returns the formatted lines and the
// error that ended it.
func readAll(data []byte, maxField int) ([]string, *exportReader, error) {
	er := newExportReader(bytes.NewReader(data), maxField)
	var lines []string
	for {
		if err := er.next(); err != nil {
			if err == io.EOF {
				err = nil
			}
			return lines, er, err
		}
		lines = append(lines, string(formatRecord(nil, &er.rec)))
	}
}

func TestExportReader(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	for _, c := range []struct {
		name      string
		in        string
		maxField  int
		want      []string
		err       error
		truncated uint64
	}{
		{name: "empty", in: ""},
		{name: "text", in: "__CURSOR=c\n_HOSTNAME=h\nSYSLOG_IDENTIFIER=sshd\n_PID=1\nMESSAGE=m\n\n",
			want: []string{"h sshd[1]: m"}},
		{name: "two entries and stray separators", in: "\nMESSAGE=a\n\n\n\nMESSAGE=b\n\n",
			want: []string{"a", "b"}},
		{name: "binary message", in: "_HOSTNAME=h\n" + string(binField("MESSAGE", []byte("a\nb\xff\x00"))) + "\n",
			want: []string{"h a\\nb\uFFFD\x00"}},
		{name: "binary unknown field skipped", in: string(binField("BLOB", []byte("\n\n\nMESSAGE=no\n\n"))) + "MESSAGE=yes\n\n",
			want: []string{"yes"}},
		{name: "value with =", in: "MESSAGE=a=b\n\n", want: []string{"a=b"}},
		{name: "repeated message joined", in: "MESSAGE=a\nMESSAGE=b\n" + string(binField("MESSAGE", []byte("c\n"))) + "\n",
			want: []string{"a b c\\n"}},
		{name: "first value wins", in: "_COMM=x\n_PID=1\n_PID=2\n" + string(binField("_COMM", []byte("y"))) + "MESSAGE=m\n\n",
			want: []string{"x[1]: m"}},
		{name: "long text line", in: "MESSAGE=" + long + "\n\n", want: []string{long}},
		{name: "long text line truncated", in: "MESSAGE=" + long + "\n\n", maxField: 1000,
			want: []string{long[:1000]}, truncated: 1},
		{name: "long unknown line", in: "OTHER=" + long + "\nMESSAGE=m\n\n", want: []string{"m"}},
		{name: "binary truncated", in: string(binField("MESSAGE", []byte(long))) + "\n", maxField: 10,
			want: []string{long[:10]}, truncated: 1},
		{name: "unterminated entry", in: "MESSAGE=a\n\nMESSAGE=b\n", want: []string{"a"}, err: io.ErrUnexpectedEOF},
		{name: "unterminated line", in: "MESSAGE=a", err: io.ErrUnexpectedEOF},
		{name: "short binary", in: "MESSAGE\n\x05\x00\x00\x00\x00\x00\x00\x00ab", err: io.ErrUnexpectedEOF},
		{name: "huge binary", in: "MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff", err: ErrMalformedExport},
		{name: "binary without newline", in: "MESSAGE\n\x01\x00\x00\x00\x00\x00\x00\x00ab\n", err: ErrMalformedExport},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines, er, err := readAll([]byte(c.in), c.maxField)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, c.want, lines)
			require.Equal(t, c.truncated, er.truncated)
		})
	}
}

// TestExportFixtureMatchesFail2Ban formats the fixture export streams
// directly: the lines must be those Fail2Ban printed after the same
// streams went through a real journal file.
func TestExportFixtureMatchesFail2Ban(t *testing.T) {
	g := loadE2EGolden(t)
	for i, name := range []string{"e2e-1", "e2e-2", "e2e-3"} {
		lines, _, err := readAll(fixtureExport(t, i), 0)
		require.NoError(t, err)
		var want []string
		for _, e := range g[name] {
			want = append(want, e.Line)
		}
		require.Equal(t, want, lines, name)
	}
}

func FuzzExportReader(f *testing.F) {
	for i := range fixtureBatches() {
		f.Add(encodeExport(fixtureBatches()[i]))
	}
	f.Add([]byte("MESSAGE\n\x03\x00\x00\x00\x00\x00\x00\x00a\nb\n\n"))
	f.Add([]byte("\n\n=x\nMESSAGE=\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		er := newExportReader(bytes.NewReader(data), 4096)
		for range len(data) + 1 {
			err := er.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformedExport) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			line := formatRecord(nil, &er.rec)
			if !utf8.Valid(line) || bytes.IndexByte(line, '\n') >= 0 {
				t.Fatalf("bad line %q", line)
			}
		}
		t.Fatal("reader did not end")
	})
}

// FuzzExportRoundTrip encodes arbitrary values and requires the reader to
// return them unchanged.
func FuzzExportRoundTrip(f *testing.F) {
	f.Add([]byte("web1"), []byte("sshd"), []byte("Failed password\n"), []byte("x"))
	f.Fuzz(func(t *testing.T, host, ident, msg, other []byte) {
		e := exportEntry{{"_HOSTNAME", host}, {"OTHER", other}, {"SYSLOG_IDENTIFIER", ident},
			{"MESSAGE", msg}, {"__CURSOR", []byte("c")}}
		data := encodeExport([]exportEntry{e, e})
		er := newExportReader(bytes.NewReader(data), 1<<20)
		for range 2 {
			require.NoError(t, er.next())
			require.Equal(t, string(host), string(er.rec.get(fHostname)))
			require.Equal(t, string(ident), string(er.rec.get(fIdent)))
			require.Equal(t, 1, er.rec.nmsg)
			require.Equal(t, string(msg), string(er.rec.msgs[0]))
		}
		require.ErrorIs(t, er.next(), io.EOF)
	})
}

func FuzzFormatEntry(f *testing.F) {
	f.Add([]byte("web1"), []byte("sshd"), []byte(""), []byte(""), []byte("4242"), []byte("Failed password\nx"), []byte("5000000"))
	f.Add([]byte(""), []byte("kernel"), []byte(""), []byte(""), []byte(""), []byte("\xff\xe2\x82"), []byte("1"))
	f.Add([]byte("h"), []byte(""), []byte("sshd"), []byte("0x1f"), []byte("a'b"), []byte("m"), []byte(""))
	f.Fuzz(func(t *testing.T, host, ident, comm, spid, pid, msg, mono []byte) {
		fields := map[string][]byte{"_HOSTNAME": host, "SYSLOG_IDENTIFIER": ident, "_COMM": comm,
			"SYSLOG_PID": spid, "_PID": pid, "MESSAGE": msg, "__MONOTONIC_TIMESTAMP": mono}
		line := FormatEntry(fields)
		if !utf8.Valid(line) {
			t.Fatalf("invalid UTF-8: %q", line)
		}
		if bytes.IndexByte(line, '\n') >= 0 {
			t.Fatalf("raw newline: %q", line)
		}
		// Valid UTF-8 text without newlines is copied as is.
		dmsg := appendPyText(nil, msg)
		if utf8.Valid(msg) && bytes.IndexByte(msg, '\n') < 0 {
			require.Equal(t, string(msg), string(dmsg))
		}
		require.True(t, bytes.HasSuffix(line, dmsg))
		if len(host) > 0 {
			require.True(t, bytes.HasPrefix(line, appendPyText(nil, host)))
		}
	})
}
