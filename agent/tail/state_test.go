package tail

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStateRoundTrip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	s, err := LoadState(file)
	require.NoError(t, err, "a missing file is an empty state")
	require.Nil(t, s.Get("/var/log/auth.log"))

	want := map[string]Position{
		"/var/log/auth.log":      {Dev: 2049, Ino: 131077, Offset: 123456},
		"/var/log/nginx/err.log": {Dev: 2049, Ino: 1 << 40, Offset: 0},
		"/srv/app/ünïcode.log":   {Dev: 1<<63 + 5, Ino: 1<<64 - 1, Offset: 1 << 50},
	}
	for p, pos := range want {
		s.Set(p, pos)
	}
	s.Set("/gone.log", Position{Ino: 9})
	s.Delete("/gone.log")
	require.NoError(t, s.Save())
	require.NoError(t, s.Save(), "saving again over the file")

	got, err := LoadState(file)
	require.NoError(t, err)
	for p, pos := range want {
		require.Equal(t, &pos, got.Get(p), p)
	}
	require.Nil(t, got.Get("/gone.log"))
	require.Equal(t, file, got.File())

	// Get returns a copy.
	g := got.Get("/var/log/auth.log")
	g.Offset = 0
	require.Equal(t, int64(123456), got.Get("/var/log/auth.log").Offset)

	// Nothing but the state file is left behind.
	entries, err := os.ReadDir(filepath.Dir(file))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestStateLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		corrupt bool
	}{
		{"not json", "garbage{", true},
		{"empty file", "", true},
		{"truncated", `{"version":1,"positions":{"/a":{"dev":1,`, true},
		{"trailing data", `{"version":1,"positions":{}} {}`, true},
		{"unknown field", `{"version":1,"positions":{},"extra":1}`, true},
		{"wrong version", `{"version":2,"positions":{}}`, true},
		{"negative offset", `{"version":1,"positions":{"/a":{"dev":1,"ino":2,"offset":-1}}}`, true},
		{"wrong type", `{"version":1,"positions":{"/a":{"dev":"x"}}}`, true},
		{"valid", `{"version":1,"positions":{"/a":{"dev":1,"ino":2,"offset":3}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "state.json")
			require.NoError(t, os.WriteFile(file, []byte(tt.content), 0o600))
			s, err := LoadState(file)
			if !tt.corrupt {
				require.NoError(t, err)
				require.Equal(t, &Position{Dev: 1, Ino: 2, Offset: 3}, s.Get("/a"))
				return
			}
			require.ErrorIs(t, err, ErrCorruptState)
			require.ErrorContains(t, err, file, "the error names the file")
			require.Nil(t, s)
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir() // a directory cannot be read as a file
		_, err := LoadState(dir)
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrCorruptState)
		require.ErrorContains(t, err, dir)
	})
	t.Run("save into a missing directory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "no", "such", "state.json")
		s, err := LoadState(file)
		require.NoError(t, err)
		s.Set("/a", Position{Ino: 1})
		err = s.Save()
		require.Error(t, err)
		require.ErrorContains(t, err, file)
	})
}
