package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/config"
)

// TestCLIEnvironmentIsNotTheDaemons: no variable of the CLI starts with a
// daemon's prefix, so that a shell set up for the CLI configures no daemon.
func TestCLIEnvironmentIsNotTheDaemons(t *testing.T) {
	for _, name := range []string{envNATSURL, envNATSCreds, envNATSCA, envNATSUser, envNATSPassword} {
		require.False(t, strings.HasPrefix(name, config.CoordEnvPrefix), name)
		require.False(t, strings.HasPrefix(name, config.AgentEnvPrefix), name)
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestServeCheckIgnoresCLIEnvironment: `coord serve -t` from a shell with
// the CLI's variables checks the embedded server the file describes; with
// BANFLEET_COORD_NATS_URL naming a NATS that does not answer, it fails
// with exit code 1.
func TestServeCheckIgnoresCLIEnvironment(t *testing.T) {
	f := filepath.Join(t.TempDir(), "coord.yaml")
	require.NoError(t, os.WriteFile(f, []byte("nats: {listen: \"127.0.0.1:4222\", store_dir: /x}\n"), 0o600))
	t.Setenv(envNATSURL, "nats://"+freeAddr(t))
	t.Setenv(envNATSUser, "ops")
	t.Setenv(envNATSPassword, "secret")

	var out, errOut bytes.Buffer
	require.Equal(t, ExitOK, Execute(context.Background(), []string{"serve", "-c", f, "-t"}, &out, &errOut), errOut.String())
	require.Equal(t, "config "+f+": ok\n", out.String())

	out.Reset()
	require.Equal(t, ExitOK, Execute(context.Background(), []string{"serve", "-c", f, "-T"}, &out, &errOut), errOut.String())
	require.NotContains(t, out.String(), "url:", "the embedded server")

	t.Setenv(config.CoordEnvPrefix+"NATS_URL", "nats://"+freeAddr(t))
	errOut.Reset()
	require.Equal(t, ExitFailure, Execute(context.Background(), []string{"serve", "-c", f, "-t"}, &out, &errOut))
	require.Contains(t, errOut.String(), "connection refused")

	t.Setenv(config.CoordEnvPrefix+"NATS_URLS", "x")
	errOut.Reset()
	require.Equal(t, ExitUsage, Execute(context.Background(), []string{"serve", "-c", f, "-t"}, &out, &errOut))
	require.Contains(t, errOut.String(), config.CoordEnvPrefix+"NATS_URLS")
}

// TestLogNATS: coord serve says which NATS it uses, and why an external
// one does not answer.
func TestLogNATS(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	logNATS(log, &config.Coord{NATS: config.CoordNATS{Listen: "0.0.0.0:4222", StoreDir: "/x"}}, time.Now())
	require.Contains(t, buf.String(), `msg="nats: starting the embedded server" listen=0.0.0.0:4222`)

	buf.Reset()
	addr := freeAddr(t)
	logNATS(log, &config.Coord{NATS: config.CoordNATS{URL: "nats://u:pw@" + addr}}, time.Now())
	require.Contains(t, buf.String(), `msg="nats: using an external server" url=nats://u:xxxxx@`+addr)
	require.Contains(t, buf.String(), `reason="connection refused"`)
	require.NotContains(t, buf.String(), "pw@")
}
