package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestHashPassword(t *testing.T) {
	var out bytes.Buffer
	cmd := NewRootCommand(&out)
	cmd.SetArgs([]string{"hash-password"})
	cmd.SetIn(strings.NewReader("s3cret-of-web-1\nignored\n"))
	require.NoError(t, cmd.Execute())
	hash := strings.TrimSpace(out.String())
	require.True(t, strings.HasPrefix(hash, "$2a$11$"), hash)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret-of-web-1")))

	for _, in := range []string{"", "\n"} {
		cmd := NewRootCommand(&out)
		cmd.SetArgs([]string{"hash-password"})
		cmd.SetIn(strings.NewReader(in))
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		var ee *ExitError
		require.True(t, errors.As(err, &ee), "%q: %v", in, err)
		require.Equal(t, ExitUsage, ee.Code)
	}
}
