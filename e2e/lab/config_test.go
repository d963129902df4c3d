package lab

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCoordConfigYAML(t *testing.T) {
	cfg := DefaultCoordConfig()
	cfg.StoreDir = "/tmp/bf1-lab-x/coord/nats"
	want := `nats:
  listen: "10.77.0.10:4222"
  store_dir: /tmp/bf1-lab-x/coord/nats
defaults:
  bantime: 10m
  findtime: 10m
  maxretry: 5
  scope: fleet
jails:
  sshd:
    maxretry: 3
    port: [22]
ignoreip: ["127.0.0.0/8"]
metrics:
  listen: "127.0.0.1:9720"
log:
  format: json
  level: debug
`
	require.Equal(t, want, cfg.YAML())

	cfg.Defaults.Scope = "host"
	cfg.Jails["recidive"] = CoordJail{Bantime: 168 * time.Hour, Findtime: 24 * time.Hour, Maxretry: 5}
	cfg.Extra = "notify:\n  webhook: http://10.77.0.10:8080/\n"
	got := cfg.YAML()
	require.Contains(t, got, "  scope: host\n")
	require.Contains(t, got, "  recidive:\n    bantime: 168h\n    findtime: 24h\n    maxretry: 5\n  sshd:\n")
	require.Contains(t, got, "log:\n  format: json\n  level: debug\nnotify:\n  webhook: http://10.77.0.10:8080/\n")

	// The lab's logins, as WriteCoordConfig fills them in.
	l := &Lab{passwords: map[string]string{"h1": "p1", Admin: "pa"}}
	cfg.Users = l.logins()
	require.Contains(t, cfg.YAML(), "  users:\n    admin: {password: \"pa\", role: admin}\n    h1: {password: \"p1\", role: agent}\ndefaults:\n")
	cfg.TLSCert, cfg.TLSKey = "/p/server.pem", "/p/server-key.pem"
	require.Contains(t, cfg.YAML(), "  store_dir: /tmp/bf1-lab-x/coord/nats\n  tls:\n    cert: /p/server.pem\n    key: /p/server-key.pem\n  users:\n")
	cfg.AllowAnonymous = true
	require.Contains(t, cfg.YAML(), "  allow_anonymous: true\ndefaults:\n")
	require.Len(t, newPasswords(), 4)
}

func TestAgentConfigYAML(t *testing.T) {
	l := &Lab{Dir: "/tmp/bf1-lab-x"}
	want := `host: h1
nats:
  url: nats://10.77.0.10:4222
state_dir: /tmp/bf1-lab-x/h1/state
firewall:
  backend: nftables
metrics:
  listen: "127.0.0.1:9721"
log:
  format: json
  level: debug
heartbeat: 1s
jails:
  sshd:
    filter: sshd
    logpath: [/tmp/bf1-lab-x/h1/auth.log]
    port: [22]
`
	require.Equal(t, want, l.DefaultAgentConfig("h1").YAML())
	l.passwords = map[string]string{"h1": "p1"}
	l.pki.CA = "/tmp/bf1-lab-x/pki/ca.pem"
	require.Contains(t, l.DefaultAgentConfig("h1").YAML(), "nats:\n  url: nats://10.77.0.10:4222\n  ca: /tmp/bf1-lab-x/pki/ca.pem\n  user: h1\n  password: \"p1\"\nstate_dir:")
}

func TestYAMLScalars(t *testing.T) {
	for in, want := range map[string]string{
		"json":        "json",
		"yes":         `"yes"`,
		"10.0.0.0/8":  `"10.0.0.0/8"`,
		"a b":         `"a b"`,
		"x: y":        `"x: y"`,
		"#comment":    `"#comment"`,
		"/tmp/a.log":  "/tmp/a.log",
		"tab\there":   `"tab\there"`,
		"nats://a:42": "nats://a:42",
	} {
		require.Equal(t, want, yamlString(in), in)
	}
	for d, want := range map[time.Duration]string{
		10 * time.Minute:                "10m",
		time.Second:                     "1s",
		90 * time.Minute:                "1h30m",
		time.Hour + 5*time.Second:       "1h5s",
		1500 * time.Millisecond:         "1.5s",
		500 * time.Millisecond:          "500ms",
		-time.Second:                    "-1s",
		0:                               "",
		100*time.Hour + 10*time.Minute:  "100h10m",
		10*time.Minute + 10*time.Second: "10m10s",
	} {
		require.Equal(t, want, yamlDuration(d), d.String())
	}
}

func TestPrereqErrorMessage(t *testing.T) {
	e := &PrereqError{Missing: []string{"sshpass", "nft"}, Packages: []string{"sshpass", "nftables"}}
	require.Equal(t, "banfleet e2e lab prerequisites not met: missing programs: sshpass, nft; "+
		"install with: apt-get install -y sshpass nftables", e.Error())
}
