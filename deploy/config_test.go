// Package deploy holds the example configurations, systemd units and
// Ansible material; this test keeps the examples valid.
package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
)

func TestExampleConfigsLoad(t *testing.T) {
	a, _, err := config.LoadAgent(config.Source{File: "config/agent.yaml", Environ: []string{"BANFLEET_NATS_PASSWORD=from-the-environment"}})
	require.NoError(t, err)
	require.Equal(t, []uint16{22}, a.Jails["sshd"].Ports)
	require.Equal(t, "web-1", a.NATS.User)
	require.Equal(t, "from-the-environment", a.NATS.Password)

	// The coordinator's example refuses to start with its placeholder
	// passwords, naming the field …
	_, _, err = config.LoadCoord(config.Source{File: "config/coord.yaml", Environ: []string{}})
	require.ErrorContains(t, err, "config/coord.yaml")
	require.ErrorContains(t, err, ".password: still the example's placeholder")

	// … and loads once every login has a password of its own.
	b, err := os.ReadFile("config/coord.yaml")
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(b), `"`+config.PasswordPlaceholder), "two example logins")
	f := filepath.Join(t.TempDir(), "coord.yaml")
	require.NoError(t, os.WriteFile(f, []byte(strings.ReplaceAll(string(b), config.PasswordPlaceholder, "0f1e2d3c4b5a-")), 0o600))
	c, _, err := config.LoadCoord(config.Source{File: f, Environ: []string{}})
	require.NoError(t, err)
	require.Equal(t, 3, c.Policy("sshd").MaxRetry)
	require.Equal(t, "admin", c.NATS.Users["ops"].Role)
	require.Equal(t, "0.0.0.0:4222", c.NATS.Listen)
}
