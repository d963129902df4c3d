package fail2ban

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

// A filter the configuration directory lacks is read from the built-in
// directory, for LoadFilterOr and for jails (WithBuiltinFilters); one it
// has is its own.
func TestBuiltinFallback(t *testing.T) {
	builtin := fstest.MapFS{
		"filter.d/demo.conf": {Data: []byte("[Definition]\nmode = normal\nfailregex = ^built-in <mode> from <HOST>$\n")},
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "filter.d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jail.conf"), []byte("[demo]\nenabled = true\nfilter = demo\nlogpath = /x\n"), 0o600))

	d, err := LoadFilterOr(dir, builtin, "demo[mode=strict]", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"^built-in strict from <HOST>$"}, d.FailRegex)
	require.Equal(t, []string{"builtin:filter.d/demo.conf"}, d.Files)
	d, err = LoadFilterOr("", builtin, "demo", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"^built-in normal from <HOST>$"}, d.FailRegex)

	_, err = LoadFilter(dir, "demo", nil)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = LoadFilterOr(dir, builtin, "other", nil)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = LoadFilterOr(dir, builtin, "../filter.d/demo", nil)
	require.ErrorIs(t, err, ErrNotFound)

	_, err = LoadJails(dir)
	require.ErrorIs(t, err, ErrNotFound)
	jails, err := LoadJailsOr(dir, builtin)
	require.NoError(t, err)
	require.Len(t, jails, 1)
	require.Equal(t, []string{"^built-in normal from <HOST>$"}, jails[0].Filter.FailRegex)

	// The directory's own filter wins.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "filter.d", "demo.conf"), []byte("[Definition]\nfailregex = ^own from <HOST>$\n"), 0o600))
	d, err = LoadFilterOr(dir, builtin, "demo", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"^own from <HOST>$"}, d.FailRegex)
}
