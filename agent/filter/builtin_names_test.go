package filter

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
)

// TestBuiltinNamesKnownToConfig: the configuration's list of built-in
// filters (kept there so that config links no detection code) is this
// package's.
func TestBuiltinNamesKnownToConfig(t *testing.T) {
	require.Equal(t, BuiltinNames(), config.BuiltinFilters)
}
