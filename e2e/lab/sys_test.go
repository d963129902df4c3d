package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTailFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "auth.log")
	require.NoError(t, os.WriteFile(p, []byte("a\nb\n"+strings.Repeat("A", 1<<20)+"\nlast\n"), 0o600))
	got := tailFile(p, 3)
	lines := strings.Split(got, "\n")
	require.Len(t, lines, 4)
	require.Equal(t, "(… 1 earlier lines)", lines[0])
	require.Equal(t, "b", lines[1])
	require.Less(t, len(lines[2]), 2*maxDumpLine, "a 1 MiB line is cut")
	require.True(t, strings.HasSuffix(lines[2], "(1048576 bytes)"), lines[2][len(lines[2])-40:])
	require.Equal(t, "last", lines[3])
	require.Contains(t, tailFile(filepath.Join(t.TempDir(), "none"), 3), "no such file")
}
