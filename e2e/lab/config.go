package lab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CoordJail holds the decision settings of the coordinator, for `defaults`
// and for each jail. Zero fields are left out of the YAML (the coordinator's
// own default or `defaults` applies).
type CoordJail struct {
	Bantime  time.Duration
	Findtime time.Duration
	Maxretry int
	Scope    string // "fleet" (count every host's evidence together) or "host"
	Port     []int
}

// CoordConfig is the configuration of `coord serve -c FILE`.
type CoordConfig struct {
	NATSListen    string // "10.77.0.10:4222"
	StoreDir      string // JetStream storage; "" means <lab dir>/coord/nats
	Defaults      CoordJail
	Jails         map[string]CoordJail
	IgnoreIP      []string
	MetricsListen string
	LogFormat     string
	LogLevel      string
	// Users are the embedded server's logins. Nil means the lab's: h1, h2
	// and h3 as agents and Admin as admin, with the lab's passwords (see
	// [Lab.NATSPassword]); the lab's agents and [Lab.Coord] log in with them.
	Users map[string]NATSLogin
	// AllowAnonymous starts the server without logins (and Users is then
	// ignored).
	AllowAnonymous bool
	// TLSCert and TLSKey are the server's certificate files. Empty means
	// the lab's (see [Lab.NATSCA]); NoTLS turns TLS off.
	TLSCert, TLSKey string
	NoTLS           bool
	// Extra is raw YAML appended at the top level, for settings this struct
	// does not model.
	Extra string
}

// NATSLogin is one login of the coordinator's embedded NATS server.
type NATSLogin struct {
	Password string
	Role     string // "agent" (the name is a host) or "admin"
}

// Admin is the lab's admin login of the coordinator's NATS server.
const Admin = "admin"

// newPasswords makes a fresh password for each of the lab's logins.
func newPasswords() map[string]string {
	out := map[string]string{}
	for _, u := range append(HostNames(), Admin) {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		out[u] = hex.EncodeToString(b)
	}
	return out
}

// NATSCA returns the path of the CA certificate that signs the lab
// coordinator's NATS certificate (clients need it: the server requires TLS).
func (l *Lab) NATSCA() string { return l.pki.CA }

// NATSPassword returns the password of one of the lab's NATS logins (a
// host name or Admin), "" for any other name.
func (l *Lab) NATSPassword(user string) string { return l.passwords[user] }

// logins are the lab's logins as coordinator users.
func (l *Lab) logins() map[string]NATSLogin {
	out := map[string]NATSLogin{}
	for u, p := range l.passwords {
		role := "agent"
		if u == Admin {
			role = "admin"
		}
		out[u] = NATSLogin{Password: p, Role: role}
	}
	return out
}

// DefaultCoordConfig returns the lab's standard coordinator configuration:
// bantime and findtime 10m, maxretry 5, scope fleet; jail sshd with
// maxretry 3 on port 22; ignoreip 127.0.0.0/8; metrics on 127.0.0.1:9720;
// JSON logs at debug level.
func DefaultCoordConfig() CoordConfig {
	return CoordConfig{
		NATSListen: CoordAddr.String() + ":4222",
		Defaults: CoordJail{
			Bantime:  10 * time.Minute,
			Findtime: 10 * time.Minute,
			Maxretry: 5,
			Scope:    "fleet",
		},
		Jails: map[string]CoordJail{
			"sshd": {Maxretry: 3, Port: []int{22}},
		},
		IgnoreIP:      []string{"127.0.0.0/8"},
		MetricsListen: "127.0.0.1:9720",
		LogFormat:     "json",
		LogLevel:      "debug",
	}
}

// YAML renders the configuration.
func (c CoordConfig) YAML() string {
	var w yamlWriter
	w.line(0, "nats:")
	w.kv(1, "listen", yamlString(c.NATSListen))
	w.kv(1, "store_dir", yamlString(c.StoreDir))
	if c.TLSCert != "" {
		w.line(1, "tls:")
		w.kv(2, "cert", yamlString(c.TLSCert))
		w.kv(2, "key", yamlString(c.TLSKey))
	}
	if c.AllowAnonymous {
		w.kv(1, "allow_anonymous", "true")
	} else if len(c.Users) > 0 {
		w.line(1, "users:")
		for _, u := range sortedKeys(c.Users) {
			w.line(2, yamlString(u)+": {password: "+strconv.Quote(c.Users[u].Password)+", role: "+yamlString(c.Users[u].Role)+"}")
		}
	}
	w.line(0, "defaults:")
	c.Defaults.write(&w, 1)
	if len(c.Jails) > 0 {
		w.line(0, "jails:")
		for _, name := range sortedKeys(c.Jails) {
			w.line(1, yamlString(name)+":")
			c.Jails[name].write(&w, 2)
		}
	}
	w.kv(0, "ignoreip", yamlStrings(c.IgnoreIP))
	if c.MetricsListen != "" {
		w.line(0, "metrics:")
		w.kv(1, "listen", yamlString(c.MetricsListen))
	}
	writeLog(&w, c.LogFormat, c.LogLevel)
	w.extra(c.Extra)
	return w.String()
}

func (j CoordJail) write(w *yamlWriter, depth int) {
	start := w.Len()
	w.kv(depth, "bantime", yamlDuration(j.Bantime))
	w.kv(depth, "findtime", yamlDuration(j.Findtime))
	if j.Maxretry != 0 {
		w.kv(depth, "maxretry", strconv.Itoa(j.Maxretry))
	}
	w.kv(depth, "scope", yamlString(j.Scope))
	w.kv(depth, "port", yamlInts(j.Port))
	if w.Len() == start {
		// An empty mapping must still be a mapping.
		w.line(depth, "{}")
	}
}

// AgentJail is one jail of an agent.
type AgentJail struct {
	Filter  string   // Fail2Ban-compatible filter name, "sshd"
	LogPath []string // files to follow
	Port    []int
	// MaxRetry is the jail's own threshold (the agent's local decisions
	// while NATS is away; the coordinator's policy otherwise); 0: unset.
	MaxRetry int
}

// AgentConfig is the configuration of `banfleet-agent -c FILE`.
type AgentConfig struct {
	Host            string
	NATSURL         string
	NATSUser        string // login in the coordinator's nats.users
	NATSPassword    string
	NATSCA          string // CA of the coordinator's NATS certificate
	StateDir        string
	FirewallBackend string
	MetricsListen   string
	LogFormat       string
	LogLevel        string
	Heartbeat       time.Duration
	Jails           map[string]AgentJail
	// Extra is raw YAML appended at the top level.
	Extra string
}

// DefaultAgentConfig returns the standard configuration of the agent on
// host: NATS at NATSURL with the host's login, state in <host dir>/state, nftables, metrics on
// 127.0.0.1:9721 (in the host's namespace), JSON debug logs, heartbeat 1s,
// and jail sshd (filter sshd) following the host's auth.log, port 22.
func (l *Lab) DefaultAgentConfig(host string) AgentConfig {
	dir := filepath.Join(l.Dir, host)
	return AgentConfig{
		Host:            host,
		NATSURL:         NATSURL,
		NATSUser:        host,
		NATSPassword:    l.NATSPassword(host),
		NATSCA:          l.pki.CA,
		StateDir:        filepath.Join(dir, "state"),
		FirewallBackend: "nftables",
		MetricsListen:   "127.0.0.1:9721",
		LogFormat:       "json",
		LogLevel:        "debug",
		Heartbeat:       time.Second,
		Jails: map[string]AgentJail{
			"sshd": {Filter: "sshd", LogPath: []string{filepath.Join(dir, "auth.log")}, Port: []int{22}},
		},
	}
}

// YAML renders the configuration.
func (c AgentConfig) YAML() string {
	var w yamlWriter
	w.kv(0, "host", yamlString(c.Host))
	w.line(0, "nats:")
	w.kv(1, "url", yamlString(c.NATSURL))
	w.kv(1, "ca", yamlString(c.NATSCA))
	if c.NATSPassword != "" {
		w.kv(1, "user", yamlString(c.NATSUser))
		w.kv(1, "password", strconv.Quote(c.NATSPassword))
	}
	w.kv(0, "state_dir", yamlString(c.StateDir))
	if c.FirewallBackend != "" {
		w.line(0, "firewall:")
		w.kv(1, "backend", yamlString(c.FirewallBackend))
	}
	if c.MetricsListen != "" {
		w.line(0, "metrics:")
		w.kv(1, "listen", yamlString(c.MetricsListen))
	}
	writeLog(&w, c.LogFormat, c.LogLevel)
	w.kv(0, "heartbeat", yamlDuration(c.Heartbeat))
	if len(c.Jails) > 0 {
		w.line(0, "jails:")
		for _, name := range sortedKeys(c.Jails) {
			j := c.Jails[name]
			w.line(1, yamlString(name)+":")
			start := w.Len()
			w.kv(2, "filter", yamlString(j.Filter))
			w.kv(2, "logpath", yamlStrings(j.LogPath))
			w.kv(2, "port", yamlInts(j.Port))
			if j.MaxRetry != 0 {
				w.kv(2, "maxretry", strconv.Itoa(j.MaxRetry))
			}
			if w.Len() == start {
				w.line(2, "{}")
			}
		}
	}
	w.extra(c.Extra)
	return w.String()
}

// WriteCoordConfig writes cfg to <lab dir>/coord/coord.yaml (StoreDir
// defaults to <lab dir>/coord/nats) and returns the file's path.
func (l *Lab) WriteCoordConfig(cfg CoordConfig) (string, error) {
	dir := filepath.Join(l.Dir, Coord)
	if cfg.StoreDir == "" {
		cfg.StoreDir = filepath.Join(dir, "nats")
	}
	if cfg.Users == nil {
		cfg.Users = l.logins()
	}
	if cfg.TLSCert == "" && !cfg.NoTLS {
		cfg.TLSCert, cfg.TLSKey = l.pki.Cert, l.pki.Key
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write coordinator config: %w", err)
	}
	path := filepath.Join(dir, "coord.yaml")
	if err := os.WriteFile(path, []byte(cfg.YAML()), 0o644); err != nil {
		return "", fmt.Errorf("write coordinator config: %w", err)
	}
	return path, nil
}

// WriteAgentConfig writes cfg to <lab dir>/<host>/agent.yaml, creating the
// state directory, and returns the file's path.
func (l *Lab) WriteAgentConfig(host string, cfg AgentConfig) (string, error) {
	dir := filepath.Join(l.Dir, host)
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
			return "", fmt.Errorf("write agent config for %s: %w", host, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write agent config for %s: %w", host, err)
	}
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg.YAML()), 0o644); err != nil {
		return "", fmt.Errorf("write agent config for %s: %w", host, err)
	}
	return path, nil
}

func writeLog(w *yamlWriter, format, level string) {
	if format == "" && level == "" {
		return
	}
	w.line(0, "log:")
	w.kv(1, "format", yamlString(format))
	w.kv(1, "level", yamlString(level))
}

// yamlWriter writes block YAML; kv skips empty values.
type yamlWriter struct{ strings.Builder }

func (w *yamlWriter) line(depth int, s string) {
	w.WriteString(strings.Repeat("  ", depth))
	w.WriteString(s)
	w.WriteByte('\n')
}

func (w *yamlWriter) kv(depth int, key, value string) {
	if value == "" {
		return
	}
	w.line(depth, key+": "+value)
}

func (w *yamlWriter) extra(s string) {
	if s = strings.TrimSpace(s); s != "" {
		w.WriteString(s)
		w.WriteByte('\n')
	}
}

// plainScalar matches strings that YAML reads back as the same string
// without quotes.
var plainScalar = regexp.MustCompile(`^[A-Za-z_/][A-Za-z0-9_./:@+-]*$`)

// yamlString renders s plain when that is safe, double-quoted otherwise
// ("" stays empty, which kv skips).
func yamlString(s string) string {
	if s == "" {
		return ""
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~":
		return strconv.Quote(s)
	}
	if plainScalar.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

func yamlStrings(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		if q[i] = yamlString(s); q[i] == "" {
			q[i] = `""`
		}
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func yamlInts(is []int) string {
	if len(is) == 0 {
		return ""
	}
	q := make([]string, len(is))
	for i, n := range is {
		q[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// yamlDuration renders d the way people write it in a config: 10m, 1s,
// 1h30m, 500ms ("" for 0).
func yamlDuration(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d < 0 || d%time.Second != 0:
		return d.String()
	}
	var b strings.Builder
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m := d % time.Hour / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s := d % time.Minute / time.Second; s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
