package authlog_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/authlog"
	"github.com/banfleet/banfleet/internal/testutil/f2bref"
)

// TestFail2BanRecognisesEveryFailureKind runs fail2ban-regex (Debian's
// 1.0.2, filter.d/sshd.conf, mode normal) once per failure kind, on a small
// log whose attacks all produce that kind, and checks that Fail2Ban counts
// every such line as a failure of its real source: on the line itself, or,
// for the address-less kinds, on a later line of the same connection
// (F-MLFID). Injection kinds must be recognised at least once; the test
// logs whom Fail2Ban blamed.
func TestFail2BanRecognisesEveryFailureKind(t *testing.T) {
	tree := f2bref.Require(t)
	for _, kind := range authlog.FailureKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "auth.log")
			fh, err := os.Create(path)
			require.NoError(t, err)
			st, err := authlog.Generate(fh, authlog.Options{Lines: 1000, Seed: 3, Kinds: []authlog.Kind{kind}})
			require.NoError(t, err)
			require.NoError(t, fh.Close())
			require.Positive(t, st.ByKind[kind], "the sample has no %s line", kind)

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := authlog.RunFail2Ban(ctx, tree, path, authlog.Fail2BanOptions{})
			require.NoError(t, err)
			hit := map[int]authlog.Hit{}
			for _, h := range res.Hits {
				hit[h.Line] = h
			}
			truth := map[int]authlog.Truth{}
			for _, tr := range st.Truth {
				truth[tr.Line] = tr
			}

			var real, injected, other, missed int
			for _, tr := range st.Truth {
				if tr.Kind != kind {
					continue
				}
				h, ok := hit[tr.Line]
				switch {
				case kind.Hostless():
					if !continues(st.Truth, tr) {
						continue // the log ends before the connection does
					}
					found := false
					for _, h := range res.Hits {
						if h.Line >= tr.Line && truth[h.Line].Conn == tr.Conn && h.Addr == tr.Addr {
							found = true
						}
					}
					require.True(t, found, "line %d: no failure of %s in its connection", tr.Line, tr.Addr)
				case kind.Injection():
					switch {
					case !ok:
						missed++
					case h.Addr == tr.Addr:
						real++
					case h.Addr == tr.Injected:
						injected++
					default:
						other++
					}
				default:
					require.True(t, ok, "line %d: not a failure for fail2ban-regex", tr.Line)
					require.Equal(t, tr.Addr, h.Addr, "line %d", tr.Line)
				}
			}
			if kind.Injection() {
				t.Logf("%s: fail2ban blamed the real source %d times, the injected address %d, another %d, nobody %d", kind, real, injected, other, missed)
				require.Positive(t, real+injected+other, "fail2ban-regex never recognised %s", kind)
				require.Zero(t, other)
			}
		})
	}
}

// continues reports whether tr's connection logs another line after it.
func continues(truths []authlog.Truth, tr authlog.Truth) bool {
	for _, o := range truths {
		if o.Conn == tr.Conn && o.Line > tr.Line {
			return true
		}
	}
	return false
}
