package authlog

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSSHUserEscapesLikeSSHD(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"admin", "admin"},
		{"' from 192.0.2.66 port 22 ssh2: '", "' from 192.0.2.66 port 22 ssh2: '"},
		{"x\nsshd[1]: y", `x\nsshd[1]: y`},
		{"a\tb\rc", `a\tb\rc`},
		{`back\slash`, `back\\slash`},
		{"\x01\x7f\xc3\xa9", `\001\177\303\251`},
		{"\x00", `\0`},
		{strings.Repeat("a", 120), strings.Repeat("a", 100)}, // "%.100s"
	} {
		require.Equal(t, c.want, sshUser(c.raw), "%q", c.raw)
	}
}
