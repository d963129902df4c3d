package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/coordinator/natsd"
)

// The coord CLI's variables, as an operator exports them for `coord bans`.
var cliEnviron = []string{
	"BANFLEET_NATS_URL=nats://admin.example:4222",
	"BANFLEET_NATS_USER=ops",
	"BANFLEET_NATS_PASSWORD=ops-secret",
	"BANFLEET_NATS_CA=/nonexistent/ca.pem",
	"BANFLEET_NATS_CREDS=/nonexistent/ops.creds",
}

// TestDaemonsIgnoreCLIEnvironment: a shell set up for the CLI changes
// nothing in either daemon's configuration; each daemon reads its own
// prefix, and not the other's.
func TestDaemonsIgnoreCLIEnvironment(t *testing.T) {
	f := filepath.Join(t.TempDir(), "coord.yaml")
	require.NoError(t, os.WriteFile(f, []byte("name: c1\nnats: {store_dir: /x}\n"), 0o600))

	coord := func(env ...string) (*Coord, []byte) {
		c, k, err := LoadCoord(Source{File: f, Environ: env})
		require.NoError(t, err)
		out, err := Dump(k)
		require.NoError(t, err)
		return c, out
	}
	agent := func(env ...string) (*Agent, []byte) {
		c, k, err := LoadAgent(Source{File: "testdata/agent-good.yaml", Environ: env})
		require.NoError(t, err)
		out, err := Dump(k)
		require.NoError(t, err)
		return c, out
	}

	c0, d0 := coord()
	c1, d1 := coord(cliEnviron...)
	require.Equal(t, c0, c1)
	require.Equal(t, string(d0), string(d1))
	require.Empty(t, c1.NATS.URL, "the embedded server, whatever the CLI's BANFLEET_NATS_URL says")

	a0, e0 := agent()
	a1, e1 := agent(cliEnviron...)
	require.Equal(t, a0, a1)
	require.Equal(t, string(e0), string(e1))
	require.Equal(t, "nats://10.0.0.1:4222", a1.NATS.URL)
	require.Empty(t, a1.NATS.User, "no admin login from the CLI's environment")
	require.Empty(t, a1.NATS.Password)

	c2, _ := coord(append(cliEnviron, "BANFLEET_COORD_NATS_URL=nats://10.1.1.1:4222", "BANFLEET_AGENT_NATS_URL=nats://10.2.2.2:4222")...)
	require.Equal(t, "nats://10.1.1.1:4222", c2.NATS.URL, "coord reads BANFLEET_COORD_")
	a2, _ := agent(append(cliEnviron, "BANFLEET_COORD_NATS_URL=nats://10.1.1.1:4222", "BANFLEET_AGENT_NATS_URL=nats://10.2.2.2:4222",
		"BANFLEET_AGENT_NATS_PASSWORD=pw")...)
	require.Equal(t, "nats://10.2.2.2:4222", a2.NATS.URL, "the agent reads BANFLEET_AGENT_")
	require.Equal(t, "pw", a2.NATS.Password)
	require.Equal(t, "web-1", a2.NATS.User, "user defaults to the host")
}

// TestEnvironmentUnknownKey: a variable under a daemon's prefix that names
// no key is an error naming it (other BANFLEET_ variables are not the
// daemon's business).
func TestEnvironmentUnknownKey(t *testing.T) {
	for _, c := range []struct{ kind, env string }{
		{"agent", "BANFLEET_AGENT_NATS_URLS=nats://x:4222"},
		{"agent", "BANFLEET_AGENT_JAILS_SSHD_LOGPATH=/x"},
		{"coord", "BANFLEET_COORD_NATS_USERS_OPS_PASSWORD=x"},
		{"coord", "BANFLEET_COORD_BANTIME=1h"},
	} {
		t.Run(c.env, func(t *testing.T) {
			var err error
			if c.kind == "agent" {
				_, _, err = LoadAgent(Source{File: "testdata/agent-good.yaml", Environ: []string{c.env}})
			} else {
				_, _, err = LoadCoord(Source{File: "testdata/coord-good.yaml", Environ: []string{c.env}})
			}
			name, _, _ := strings.Cut(c.env, "=")
			require.ErrorContains(t, err, name)
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
}

// TestPeekStringPrefix: the key that decides what else to load is read
// under the daemon's prefix, and a flag wins over the environment.
func TestPeekStringPrefix(t *testing.T) {
	src := Source{Environ: []string{"BANFLEET_FAIL2BAN=/cli", "BANFLEET_COORD_FAIL2BAN=/coord"}}
	require.Empty(t, peekString(src, AgentEnvPrefix, "fail2ban"))
	src.Environ = append(src.Environ, "BANFLEET_AGENT_FAIL2BAN=/agent")
	require.Equal(t, "/agent", peekString(src, AgentEnvPrefix, "fail2ban"))
	src.Overrides = map[string]any{"fail2ban": "/flag"}
	require.Equal(t, "/flag", peekString(src, AgentEnvPrefix, "fail2ban"))
}

// certFiles are a CA, and a server certificate and key it signed.
type certFiles struct{ ca, cert, key string }

// writeCerts makes a CA and a server certificate for names (IP addresses or
// DNS names) valid from notBefore to notAfter, in a new directory.
func writeCerts(t *testing.T, notBefore, notAfter time.Time, names ...string) certFiles {
	t.Helper()
	dir := t.TempDir()
	f := certFiles{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server-key.pem")}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "check test CA"},
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "check test server"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, n)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(f.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644))
	require.NoError(t, os.WriteFile(f.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644))
	require.NoError(t, os.WriteFile(f.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return f
}

func writeYAML(t *testing.T, format string, a ...any) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(f, fmt.Appendf(nil, format, a...), 0o600))
	return f
}

// TestServerCertificateDates: coord serve (its load, not only -t) refuses
// a certificate that has expired or is not valid yet, naming the file and
// the date.
func TestServerCertificateDates(t *testing.T) {
	now := time.Now()
	expired := writeCerts(t, now.Add(-72*time.Hour), now.Add(-24*time.Hour), "127.0.0.1")
	f := writeYAML(t, "nats: {store_dir: /x, tls: {cert: %s, key: %s}}\n", expired.cert, expired.key)
	_, _, err := LoadCoord(Source{File: f, Environ: []string{}})
	require.ErrorContains(t, err, "nats.tls.cert: "+expired.cert+": certificate expired on "+formatTime(now.Add(-24*time.Hour)))

	future := writeCerts(t, now.Add(24*time.Hour), now.Add(72*time.Hour), "127.0.0.1")
	f = writeYAML(t, "nats: {store_dir: /x, tls: {cert: %s, key: %s}}\n", future.cert, future.key)
	_, _, err = LoadCoord(Source{File: f, Environ: []string{}})
	require.ErrorContains(t, err, "nats.tls.cert: "+future.cert+": certificate not valid before")

	good := writeCerts(t, now.Add(-time.Hour), now.Add(24*time.Hour), "127.0.0.1")
	f = writeYAML(t, "nats: {store_dir: /x, tls: {cert: %s, key: %s}}\n", good.cert, good.key)
	c, _, err := LoadCoord(Source{File: f, Environ: []string{}})
	require.NoError(t, err)
	notes, err := c.Check(CheckTimeout)
	require.NoError(t, err)
	require.Len(t, notes, 1, "a certificate that ends within 30 days is noted")
	require.Contains(t, notes[0], "expires on")
}

// TestCoordCheckCertificateNames: -t refuses an embedded server's
// certificate that does not name its listen address (unless that is
// every address).
func TestCoordCheckCertificateNames(t *testing.T) {
	now := time.Now()
	pki := writeCerts(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "10.0.0.1", "coord.example", "localhost")
	for listen, ok := range map[string]bool{
		"10.0.0.1:4222":      true,
		"coord.example:4222": true,
		"0.0.0.0:4222":       true,
		"[::]:4222":          true,
		":4222":              true,
		"127.0.0.1:4222":     true, // localhost, a DNS name of the certificate, resolves to it
		"10.0.0.2:4222":      false,
		"other.example:4222": false,
	} {
		f := writeYAML(t, "nats: {listen: %q, store_dir: /x, allow_anonymous: true, tls: {cert: %s, key: %s}}\n", listen, pki.cert, pki.key)
		c, _, err := LoadCoord(Source{File: f, Environ: []string{}})
		require.NoError(t, err, listen)
		notes, err := c.Check(CheckTimeout)
		require.Empty(t, notes)
		if ok {
			require.NoError(t, err, listen)
			continue
		}
		require.ErrorContains(t, err, "nats.tls.cert: "+pki.cert, listen)
		require.ErrorContains(t, err, "certificate names coord.example, localhost, 10.0.0.1, not ", listen)
	}
}

// TestCheckCA: a CA file that is missing or holds no certificate is
// refused at load; one whose certificates have all expired by -t.
func TestCheckCA(t *testing.T) {
	for _, c := range []struct{ name, ca, want string }{
		{"missing", "/nonexistent/ca.pem", "no such file"},
		{"not pem", "testdata/agent-good.yaml", "holds no PEM certificate"},
	} {
		f := writeYAML(t, "host: h1\nnats: {ca: %s}\nstate_dir: /x\n", c.ca)
		_, _, err := LoadAgent(Source{File: f, Environ: []string{}})
		require.ErrorContains(t, err, "nats.ca", c.name)
		require.ErrorContains(t, err, c.want, c.name)
	}

	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	end := time.Now().Add(-time.Hour)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "old CA"}, NotBefore: end.Add(-time.Hour), NotAfter: end,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	old := filepath.Join(dir, "old-ca.pem")
	require.NoError(t, os.WriteFile(old, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	f := writeYAML(t, "host: h1\nnats: {url: \"nats://127.0.0.1:1\", ca: %s}\nstate_dir: /x\n", old)
	c, _, err := LoadAgent(Source{File: f, Environ: []string{}})
	require.NoError(t, err, "the agent starts (and bans alone) with an old CA")
	_, err = c.Check(CheckTimeout)
	require.ErrorContains(t, err, "nats.ca: "+old+": no valid certificate: certificate expired on "+formatTime(end))
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestAgentCheckConnects: -t connects to nats.url with the agent's TLS and
// login, and names the reason it cannot.
func TestAgentCheckConnects(t *testing.T) {
	now := time.Now()
	pki := writeCerts(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "127.0.0.1")
	otherCA := writeCerts(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "127.0.0.1").ca
	misnamed := writeCerts(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "coord.example")

	start := func(t *testing.T, f certFiles) string {
		srv, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Name: "check",
			Users: natsd.Users(map[string]string{"h1": "h1-secret"}, nil), CertFile: f.cert, KeyFile: f.key})
		require.NoError(t, err)
		t.Cleanup(srv.Shutdown)
		return srv.ClientURL()
	}
	good := start(t, pki)
	badName := start(t, misnamed)
	plain, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Name: "plain"})
	require.NoError(t, err)
	t.Cleanup(plain.Shutdown)

	for _, c := range []struct {
		name, url, ca, password string
		reason                  string // "" = success
		unreachable             bool
	}{
		{"ok", good, pki.ca, "h1-secret", "", false},
		{"nothing listens", "nats://" + freePort(t), pki.ca, "h1-secret", "connection refused", true},
		{"wrong CA", good, otherCA, "h1-secret", "tls: certificate signed by unknown authority", false},
		{"no CA: the system's", good, "", "h1-secret", "tls: certificate signed by unknown authority", false},
		{"misnamed certificate", badName, misnamed.ca, "h1-secret", "tls: certificate does not name 127.0.0.1", false},
		{"wrong password", good, pki.ca, "wrong", "authorization violation: wrong user or password", false},
		{"CA but no TLS", plain.ClientURL(), pki.ca, "", "tls: the server does not offer TLS", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			yaml := fmt.Sprintf("host: h1\nnats: {url: %q, ca: %q, password: %q}\nstate_dir: /x\n", c.url, c.ca, c.password)
			a, _, err := LoadAgent(Source{File: writeYAML(t, "%s", yaml), Environ: []string{}})
			require.NoError(t, err)
			_, err = a.Check(CheckTimeout)
			if c.reason == "" {
				require.NoError(t, err)
				return
			}
			var ne *NATSError
			require.True(t, errors.As(err, &ne), "%v", err)
			require.Equal(t, c.reason, ne.Reason, "%v", err)
			require.Equal(t, c.unreachable, ne.Unreachable)
			require.ErrorContains(t, err, "nats.url")
		})
	}
}

// TestCoordCheckExternal: with an external NATS, -t dials it.
func TestCoordCheckExternal(t *testing.T) {
	f := writeYAML(t, "nats: {url: \"nats://%s\"}\n", freePort(t))
	c, _, err := LoadCoord(Source{File: f, Environ: []string{}})
	require.NoError(t, err)
	_, err = c.Check(CheckTimeout)
	var ne *NATSError
	require.True(t, errors.As(err, &ne), "%v", err)
	require.True(t, ne.Unreachable)

	srv, err := natsd.Start(natsd.Options{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Name: "ext"})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	f = writeYAML(t, "nats: {url: %q}\n", srv.ClientURL())
	c, _, err = LoadCoord(Source{File: f, Environ: []string{}})
	require.NoError(t, err)
	_, err = c.Check(CheckTimeout)
	require.NoError(t, err)
}

// TestDiagnoseTimeout: a server that accepts the connection but never
// speaks is a timeout.
func TestDiagnoseTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	err = ProbeNATS("nats://"+ln.Addr().String(), 200*time.Millisecond)
	var ne *NATSError
	require.True(t, errors.As(err, &ne), "%v", err)
	require.Equal(t, "timeout: no answer from the server", ne.Reason, "%v", err)
	require.True(t, ne.Unreachable)
}
