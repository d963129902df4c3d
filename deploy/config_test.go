// Package deploy holds the example configurations, systemd units and
// Ansible material; this test keeps the examples valid.
package deploy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
)

func TestExampleConfigsLoad(t *testing.T) {
	a, _, err := config.LoadAgent(config.Source{File: "config/agent.yaml", Environ: []string{}})
	require.NoError(t, err)
	require.Equal(t, []uint16{22}, a.Jails["sshd"].Ports)
	c, _, err := config.LoadCoord(config.Source{File: "config/coord.yaml", Environ: []string{}})
	require.NoError(t, err)
	require.Equal(t, 3, c.Policy("sshd").MaxRetry)
}
