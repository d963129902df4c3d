package serve

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/banfleet/banfleet/config"
)

// New makes the embedded server's logins; the coordinator's own is a fresh
// secret of which the server holds only the bcrypt hash.
func TestNewMakesLogins(t *testing.T) {
	cfg := &config.Coord{Name: "c1", NATS: config.CoordNATS{Users: map[string]config.NATSUser{
		"h1":    {Password: "agent-secret", Role: "agent"},
		"admin": {Password: "admin-secret", Role: "admin"},
	}}}
	c, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	require.NoError(t, err)
	names := map[string]string{}
	for _, u := range c.users {
		names[u.Username] = u.Password
	}
	require.Contains(t, names, "h1")
	require.Contains(t, names, "admin")
	require.Contains(t, names, coordUser)
	require.Len(t, c.self, 1, "the coordinator logs in with its own secret")

	// An external server: no logins of ours.
	cfg.NATS.URL = "nats://127.0.0.1:4222"
	c, err = New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	require.NoError(t, err)
	require.Nil(t, c.users)
	require.Nil(t, c.self)

	users, own, err := embeddedLogins(map[string]config.NATSUser{})
	require.NoError(t, err)
	require.Len(t, users, 1)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(users[0].Password), []byte(own)), "the server keeps the hash of the secret")
	require.Len(t, own, 48)
}
