package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/banfleet/banfleet/internal/testutil/f2bref"
	"github.com/banfleet/banfleet/internal/testutil/testpki"
)

func TestLoadAgentGood(t *testing.T) {
	c, k, err := LoadAgent(Source{File: "testdata/agent-good.yaml", Environ: []string{"BANFLEET_AGENT_NATS_URL=nats://10.9.9.9:4222", "BANFLEET_SOMETHING_ELSE=1"}})
	require.NoError(t, err)
	require.Equal(t, "web-1", c.Host)
	require.Equal(t, "nats://10.9.9.9:4222", c.NATS.URL, "environment wins over file")
	require.Equal(t, "none", c.Firewall.Backend)
	require.Equal(t, "banfleet", c.Firewall.Table, "default kept")
	require.Equal(t, 2*time.Second, c.Heartbeat)
	require.Equal(t, []uint16{22, 2222}, c.Jails["sshd"].Ports)
	require.Equal(t, "sshd", c.Jails["sshd"].Filter)
	require.Equal(t, "tcp", c.Jails["sshd"].Protocol)
	out, err := Dump(k)
	require.NoError(t, err)
	require.Contains(t, string(out), "nats://10.9.9.9:4222")
}

func TestLoadCoordGood(t *testing.T) {
	c, _, err := LoadCoord(Source{File: "testdata/coord-good.yaml", Environ: []string{}, Overrides: map[string]any{"defaults.maxretry": 7}})
	require.NoError(t, err)
	require.Equal(t, time.Hour, c.Policy("sshd").BanTime, "jail inherits defaults")
	require.Equal(t, 3, c.Policy("sshd").MaxRetry)
	require.Equal(t, 7, c.Policy("other").MaxRetry, "flag override")
	require.Equal(t, 10*time.Minute, c.Policy("other").FindTime)
	require.Equal(t, "fleet", c.Policy("sshd").Scope)
	require.Equal(t, []uint16{22}, c.Policy("sshd").Ports)
	require.Equal(t, "agent", c.NATS.Users["web-1"].Role)
}

// TestEmbeddedNATSNeedsLogins: an embedded server reachable from the
// network needs nats.users unless allow_anonymous says otherwise; loopback
// needs nothing.
func TestEmbeddedNATSNeedsLogins(t *testing.T) {
	for yaml, ok := range map[string]bool{
		"nats: {listen: \"0.0.0.0:4222\", store_dir: /x}\n":                                          false,
		"nats: {listen: \"10.0.0.1:4222\", store_dir: /x}\n":                                         false,
		"nats: {listen: \":4222\", store_dir: /x}\n":                                                 false,
		"nats: {listen: \"coord.example:4222\", store_dir: /x}\n":                                    false,
		"nats: {listen: \"10.0.0.1:4222\", store_dir: /x, allow_anonymous: true}\n":                  true,
		"nats: {listen: \"127.0.0.1:4222\", store_dir: /x}\n":                                        true,
		"nats: {listen: \"[::1]:4222\", store_dir: /x}\n":                                            true,
		"nats: {listen: \"localhost:4222\", store_dir: /x}\n":                                        true,
		"nats: {url: \"nats://10.0.0.1:4222\"}\n":                                                    true,
		"nats: {listen: \"0.0.0.0:4222\", store_dir: /x, users: {h1: {password: p, role: agent}}}\n": true,
	} {
		f := filepath.Join(t.TempDir(), "c.yaml")
		require.NoError(t, os.WriteFile(f, []byte(yaml), 0o600))
		_, _, err := LoadCoord(Source{File: f, Environ: []string{}})
		if ok {
			require.NoError(t, err, yaml)
		} else {
			require.ErrorContains(t, err, "nats.users: empty", yaml)
			require.ErrorContains(t, err, "allow_anonymous", yaml)
		}
	}
}

func TestLoadBad(t *testing.T) {
	cases := []struct {
		name, kind, yaml, want string
	}{
		{"unknown key", "agent", "hots: x\n", "hots"},
		{"bad host", "agent", "host: a.b\n", "host"},
		{"bad url", "agent", "nats: {url: http://x}\n", "nats.url"},
		{"bad backend", "agent", "firewall: {backend: iptables}\n", "firewall.backend"},
		{"no logpath", "agent", "jails: {sshd: {port: [22]}}\n", "jails.sshd.logpath"},
		{"relative logpath", "agent", "jails: {sshd: {logpath: [auth.log]}}\n", "jails.sshd.logpath[0]"},
		{"bad port", "agent", "jails: {sshd: {logpath: [/x], port: [sssh]}}\n", "jails.sshd.port"},
		{"unknown jail key", "agent", "jails: {sshd: {logpath: [/x], maxretyr: 3}}\n", "maxretyr"},
		{"bad duration", "coord", "defaults: {bantime: forever}\n", "bantime"},
		{"bad maxretry", "coord", "jails: {sshd: {maxretry: -1}}\n", "jails.sshd.maxretry"},
		{"bad scope", "coord", "defaults: {scope: galaxy}\n", "defaults.scope"},
		{"bad ignoreip", "coord", "ignoreip: [10.0.0.0/33]\n", "ignoreip"},
		{"yaml syntax", "coord", "nats: [\n", "config"},
		{"user role", "coord", "nats: {users: {h1: {password: x, role: root}}}\n", "nats.users.h1.role"},
		{"user password", "coord", "nats: {users: {h1: {role: agent}}}\n", "nats.users.h1.password"},
		{"tls without key", "coord", "nats: {tls: {cert: /x}}\n", "nats.tls"},
		{"tls unreadable", "coord", "nats: {tls: {cert: /nonexistent/c.pem, key: /nonexistent/k.pem}}\n", "nats.tls.cert"},
		{"agent ca missing", "agent", "nats: {ca: /nonexistent/ca.pem}\n", "nats.ca"},
		{"agent ca not pem", "agent", "nats: {ca: testdata/coord-good.yaml}\n", "nats.ca"},
		{"coord ca not pem", "coord", "nats: {url: \"nats://x:4222\", ca: testdata/coord-good.yaml}\n", "nats.ca"},
		{"agent creds missing", "agent", "nats: {creds: /nonexistent/h.creds}\n", "nats.creds"},
		{"coord creds missing", "coord", "nats: {url: \"nats://x:4222\", creds: /nonexistent/c.creds}\n", "nats.creds"},
		{"placeholder password", "coord", "nats: {users: {h1: {password: REPLACE-me, role: agent}}}\n", "nats.users.h1.password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(f, []byte(c.yaml), 0o600))
			var err error
			if c.kind == "agent" {
				_, _, err = LoadAgent(Source{File: f, Environ: []string{}})
			} else {
				_, _, err = LoadCoord(Source{File: f, Environ: []string{}})
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), f, "error names the file")
			require.Contains(t, err.Error(), c.want, "error names the field")
		})
	}
	_, _, err := LoadAgent(Source{File: "testdata/missing.yaml"})
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrInvalid))
}

func TestLoadAgentFromFail2Ban(t *testing.T) {
	tr := f2bref.Require(t)
	f := filepath.Join(t.TempDir(), "agent.yaml")
	// The Debian configuration enables sshd; the YAML overrides its log path only.
	require.NoError(t, os.WriteFile(f, []byte("host: h1\nfail2ban: "+tr.ConfDir+"\njails:\n  sshd:\n    logpath: [/tmp/auth.log]\n"), 0o600))
	c, _, err := LoadAgent(Source{File: f, Environ: []string{}})
	require.NoError(t, err)
	j, ok := c.Jails["sshd"]
	require.True(t, ok)
	require.Equal(t, []string{"/tmp/auth.log"}, j.LogPath)
	require.Equal(t, []uint16{22}, j.Ports)
	require.Equal(t, "sshd[mode=normal]", j.Filter)
	require.NotEmpty(t, j.FailRegex, "regexes from filter.d")
	require.Contains(t, j.PrefRegex, "<F-CONTENT>")
	require.Equal(t, 5, j.MaxRetry)

	// A YAML jail naming a filter.d filter gets its regexes too.
	require.NoError(t, os.WriteFile(f, []byte("host: h1\nfail2ban: "+tr.ConfDir+"\njails:\n  web:\n    filter: nginx-http-auth\n    logpath: [/var/log/nginx/error.log]\n    port: [http, https]\n"), 0o600))
	c, _, err = LoadAgent(Source{File: f, Environ: []string{}})
	require.NoError(t, err)
	require.NotEmpty(t, c.Jails["web"].FailRegex)

	// Without fail2ban, only built-in filters.
	require.NoError(t, os.WriteFile(f, []byte("host: h1\njails:\n  web:\n    filter: nginx-http-auth\n    logpath: [/x]\n"), 0o600))
	_, _, err = LoadAgent(Source{File: f, Environ: []string{}})
	require.ErrorContains(t, err, "jails.web.filter")
}

// TestTLSFilesLoad: valid certificate files are accepted (and checked at
// load, so -t catches a bad one).
func TestTLSFilesLoad(t *testing.T) {
	dir := t.TempDir()
	pki, err := testpki.Write(dir, "10.0.0.1", "coord.example")
	require.NoError(t, err)
	f := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(f, []byte("nats: {listen: \"127.0.0.1:4222\", store_dir: /x, tls: {cert: "+pki.Cert+", key: "+pki.Key+"}}\n"), 0o600))
	c, _, err := LoadCoord(Source{File: f, Environ: []string{}})
	require.NoError(t, err)
	require.True(t, c.NATS.TLS.On())
	a, _, err := LoadAgent(Source{File: "testdata/agent-good.yaml", Environ: []string{"BANFLEET_AGENT_NATS_CA=" + pki.CA}})
	require.NoError(t, err)
	require.Equal(t, pki.CA, a.NATS.CA)
}

// A jail's ignoreip (Fail2Ban's key) takes addresses, CIDRs and host names
// (kept apart: banfleet does not resolve them); anything else is refused.
func TestAgentJailIgnoreIP(t *testing.T) {
	f := filepath.Join(t.TempDir(), "a.yaml")
	require.NoError(t, os.WriteFile(f, []byte("host: h1\njails:\n  sshd:\n    logpath: [/x]\n    ignoreip: [127.0.0.1/8, \"::1\", 192.0.2.7, bastion.example.net]\n"), 0o600))
	c, _, err := LoadAgent(Source{File: f, Environ: []string{}})
	require.NoError(t, err)
	j := c.Jails["sshd"]
	require.True(t, j.Ignore.Contains(netip.MustParseAddr("127.9.9.9")))
	require.True(t, j.Ignore.Contains(netip.MustParseAddr("192.0.2.7")))
	require.False(t, j.Ignore.Contains(netip.MustParseAddr("192.0.2.8")))
	require.Equal(t, []string{"bastion.example.net"}, j.IgnoreNames)

	require.NoError(t, os.WriteFile(f, []byte("host: h1\njails:\n  sshd:\n    logpath: [/x]\n    ignoreip: [\"not an address!\"]\n"), 0o600))
	_, _, err = LoadAgent(Source{File: f, Environ: []string{}})
	require.ErrorContains(t, err, "jails.sshd.ignoreip")

	require.NoError(t, os.WriteFile(f, []byte("host: h1\noffline: {after: 0s}\njails:\n  sshd:\n    logpath: [/x]\n"), 0o600))
	_, _, err = LoadAgent(Source{File: f, Environ: []string{}})
	require.ErrorContains(t, err, "offline.after")
}

// TestDumpHidesPasswords: -T prints the merged configuration without its
// secrets.
func TestDumpHidesPasswords(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "coord.yaml")
	require.NoError(t, os.WriteFile(file, []byte("nats:\n  store_dir: "+dir+"\n  users:\n    h1: {password: secret-h1-pw, role: agent}\n"), 0o600))
	_, k, err := LoadCoord(Source{File: file, Environ: []string{}})
	require.NoError(t, err)
	out, err := Dump(k)
	require.NoError(t, err)
	require.NotContains(t, string(out), "secret-h1-pw")
	require.Contains(t, string(out), Hidden)
}
