package regexcmd

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/agent/filter/f2b"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// TestViewAsProcess: the tool's allocation-free f2b.LineView (without
// CheckAll) holds what Process returns, on every line of Fail2Ban's
// sample logs.
func TestViewAsProcess(t *testing.T) {
	tr := f2bref.Require(t)
	list, err := samples(tr)
	require.NoError(t, err)
	now := time.Date(2005, 8, 14, 12, 0, 0, 0, time.UTC)
	for _, s := range list {
		def, _, err := definition(options{confDir: s.confDir}, s.name, "")
		require.NoError(t, err, s.name)
		c, err := f2b.Compile(def, f2b.Options{Dates: newDateCounter().finder})
		require.NoError(t, err, s.name)
		m1, m2 := c.New(), c.New()
		var v f2b.LineView
		f, err := os.Open(filepath.Join(tr.SampleLogs, s.name))
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Bytes()
			r := m1.Process(line, now)
			m2.ProcessView(&v, line, now)
			where := fmt.Sprintf("%s:%d", s.name, n)
			require.Equal(t, r.Verdict, v.Verdict, where)
			require.Equal(t, r.Failure, v.Failure, where)
			require.Equal(t, r.Host, v.Host, where)
			require.Equal(t, [3]bool{r.NoFail, r.Pending, r.NoDate}, [3]bool{v.NoFail, v.Pending, v.NoDate}, where)
			require.Equal(t, r.IgnoreRegex, v.Ignore, where)
			require.Equal(t, r.Attempts, v.Attempts, where)
			groups := map[string]string{}
			for _, g := range v.Groups {
				groups[g.Name] = g.Value
			}
			if r.Groups == nil {
				require.Empty(t, groups, where)
			} else {
				require.Equal(t, r.Groups, groups, where)
			}
			_, mlfid := r.Groups["mlfid"]
			require.Equal(t, mlfid, v.MLFID, where)
			if r.Rule >= 0 && r.IgnoreRegex < 0 {
				require.Len(t, v.Hits, 1, where)
				require.Equal(t, r.Rule, v.Hits[0].Rule, where)
			} else {
				require.Empty(t, v.Hits, where)
			}
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
}
