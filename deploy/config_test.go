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
	"github.com/banfleet/banfleet/internal/testutil/testpki"
)

// tlsDir is where the examples expect the certificates.
const tlsDir = "/etc/banfleet/tls/"

// example returns an example config with its certificate paths pointing at
// pki's files (in dir) and placeholders replaced by repl, written to dir.
func example(t *testing.T, name, dir, repl string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("config", name))
	require.NoError(t, err)
	s := strings.ReplaceAll(string(b), tlsDir, dir+"/")
	if repl != "" {
		s = strings.ReplaceAll(s, config.PasswordPlaceholder, repl)
	}
	f := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(f, []byte(s), 0o600))
	return f
}

func TestExampleConfigsLoad(t *testing.T) {
	dir := t.TempDir()
	_, err := testpki.Write(dir, "coord.example.net")
	require.NoError(t, err)
	for _, name := range []string{"agent.yaml", "coord.yaml"} {
		b, err := os.ReadFile(filepath.Join("config", name))
		require.NoError(t, err)
		require.Contains(t, string(b), tlsDir, "%s uses TLS", name)
	}

	a, _, err := config.LoadAgent(config.Source{File: example(t, "agent.yaml", dir, ""), Environ: []string{"BANFLEET_AGENT_NATS_PASSWORD=from-the-environment"}})
	require.NoError(t, err)
	require.Equal(t, []uint16{22}, a.Jails["sshd"].Ports)
	require.Equal(t, "web-1", a.NATS.User)
	require.Equal(t, "from-the-environment", a.NATS.Password)
	require.Equal(t, filepath.Join(dir, "ca.pem"), a.NATS.CA)

	// The coordinator's example refuses to start with its placeholder
	// passwords, naming the field …
	f := example(t, "coord.yaml", dir, "")
	_, _, err = config.LoadCoord(config.Source{File: f, Environ: []string{}})
	require.ErrorContains(t, err, f)
	require.ErrorContains(t, err, ".password: still the example's placeholder")
	b, err := os.ReadFile("config/coord.yaml")
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(b), `"`+config.PasswordPlaceholder), "two example logins")

	// … and loads once every login has a password of its own.
	c, _, err := config.LoadCoord(config.Source{File: example(t, "coord.yaml", dir, "0f1e2d3c4b5a-"), Environ: []string{}})
	require.NoError(t, err)
	require.Equal(t, 3, c.Policy("sshd").MaxRetry)
	require.Equal(t, "admin", c.NATS.Users["ops"].Role)
	require.Equal(t, "0.0.0.0:4222", c.NATS.Listen)
	require.Equal(t, filepath.Join(dir, "server.pem"), c.NATS.TLS.Cert)
}
