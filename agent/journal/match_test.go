package journal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseMatchGolden compares ParseMatch with the match groups Fail2Ban
// adds to the journal for the same journalmatch (testdata/gen_golden.py).
func TestParseMatchGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "match_golden.json"))
	require.NoError(t, err)
	var cases []struct {
		Journalmatch string     `json:"journalmatch"`
		Groups       [][]string `json:"groups"`
		Error        string     `json:"error"`
	}
	require.NoError(t, json.Unmarshal(data, &cases))
	for _, c := range cases {
		t.Run(c.Journalmatch, func(t *testing.T) {
			got, err := ParseMatch(c.Journalmatch)
			if c.Error != "" {
				require.ErrorIs(t, err, ErrInvalidMatch, "Fail2Ban: %s", c.Error)
				return
			}
			require.NoError(t, err)
			if len(c.Groups) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, c.Groups, got)
		})
	}
}

func TestValidCursor(t *testing.T) {
	good := []string{
		"s=c3b23acb0ef3480c8b675aa9f26cc6dc;i=1;b=0123456789abcdef0123456789abcdef;m=4c4b40;t=60a24182d8240;x=a0157a15982d209c",
		"t=60a24182d8240",
		"b=01234567-89ab-cdef-0123-456789abcdef;m=1",
		"s=c3b23acb0ef3480c8b675aa9f26cc6dc;i=ff;q=ignored",
	}
	for _, c := range good {
		require.NoError(t, ValidCursor(c), c)
	}
	bad := []string{"", "garbage", "s=c3b23acb0ef3480c8b675aa9f26cc6dc", "i=1;m=2", "t=xyz", "t=",
		"s=abc;i=1", "t=1\n", "t=11111111111111111"}
	for _, c := range bad {
		require.ErrorIs(t, ValidCursor(c), ErrInvalidCursor, c)
	}
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, (&Options{}).Validate())
	require.ErrorIs(t, (&Options{Directory: "/d", Files: []string{"/f"}}).Validate(), ErrInvalidOptions)
	require.ErrorIs(t, (&Options{Files: []string{""}}).Validate(), ErrInvalidOptions)
	require.ErrorIs(t, (&Options{Since: -1}).Validate(), ErrInvalidOptions)
	require.ErrorIs(t, (&Options{Match: [][]string{{"lower=x"}}}).Validate(), ErrInvalidMatch)
}
