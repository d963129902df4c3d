package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/v2"

	"github.com/banfleet/banfleet/agent/filter"
	"github.com/banfleet/banfleet/config/fail2ban"

	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
)

// Agent is banfleet-agent's configuration. Every field is documented in
// deploy/config/agent.yaml.
type Agent struct {
	// Host is this host's name in the fleet ([A-Za-z0-9_-]); default: the
	// short hostname.
	Host string `koanf:"host"`
	// NATS says how to reach the fleet's NATS.
	NATS AgentNATS `koanf:"nats"`
	// StateDir keeps log positions between restarts.
	StateDir string `koanf:"state_dir"`
	// Firewall selects how bans are enforced.
	Firewall Firewall `koanf:"firewall"`
	// Metrics is the Prometheus endpoint.
	Metrics Metrics `koanf:"metrics"`
	// Log is the daemon's own log.
	Log Log `koanf:"log"`
	// Heartbeat is how often the agent reports to the agents bucket.
	Heartbeat time.Duration `koanf:"heartbeat"`
	// Reconcile is how often the firewall is compared with the bans bucket
	// and repaired (it is always reconciled at start).
	Reconcile time.Duration `koanf:"reconcile"`
	// Fail2Ban is a Fail2Ban configuration directory (e.g. /etc/fail2ban):
	// the jails enabled there run here, with their filters from filter.d,
	// log paths, ports and thresholds; jails below with the same name
	// override single keys of them. "" = none.
	Fail2Ban string `koanf:"fail2ban"`
	// Jails are the jails this host watches, by name.
	Jails map[string]AgentJail `koanf:"jails"`
	// Offline is what the agent does alone while NATS is unreachable.
	Offline Offline `koanf:"offline"`

	// File is the file the configuration was read from (not a key).
	File string `koanf:"-"`
}

// Offline configures the agent's own decisions while it cannot reach NATS:
// it keeps counting each jail's offences with the jail's own maxretry and
// findtime (Fail2Ban's defaults 5 and 10m when unset), as Fail2Ban would on
// this host alone, and bans for the jail's bantime (10m when unset, 24h for
// a permanent jail) in this host's firewall only. Offences are still sent
// once NATS is back, and the fleet decides as usual.
type Offline struct {
	// Ban turns local bans on (default true).
	Ban bool `koanf:"ban"`
	// After is how long NATS must have been unreachable (no connection, or
	// no offence stored) before the agent bans alone (default 10s).
	After time.Duration `koanf:"after"`
	// IgnoreIP lists addresses and CIDRs never banned locally (the host's
	// own addresses, loopback, the NATS servers and what the coordinator
	// last listed as exempt — its ignoreip and the fleet's hosts — never
	// are).
	IgnoreIP []string `koanf:"ignoreip"`
	// Ignore is IgnoreIP parsed (not a key).
	Ignore *netaddr.Set `koanf:"-"`
}

// AgentNATS is the agent's NATS connection.
type AgentNATS struct {
	// URL of the fleet's NATS (comma-separated for a cluster).
	URL string `koanf:"url"`
	// Creds is an optional NATS credentials file.
	Creds string `koanf:"creds"`
	// CA is a PEM file of the certificates that sign the NATS server's
	// (the coordinator's nats.tls): the connection then uses TLS and
	// checks the server against them. "" with a tls:// URL: the system's.
	CA string `koanf:"ca"`
	// User and Password log in to a coordinator whose nats.users names this
	// host (User defaults to the host name when Password is set).
	User     string `koanf:"user"`
	Password string `koanf:"password"`
}

// Firewall selects the enforcement backend.
type Firewall struct {
	// Backend is "nftables" (default) or "none" (log only).
	Backend string `koanf:"backend"`
	// Table is the nftables table (family inet) banfleet owns.
	Table string `koanf:"table"`
}

// AgentJail is one jail on one host. The keys are Fail2Ban's jail options,
// so a jail read from a Fail2Ban configuration decodes into the same struct.
type AgentJail struct {
	// Enabled turns the jail on (default true).
	Enabled *bool `koanf:"enabled"`
	// Filter is the filter spec, such as "sshd" or "sshd[mode=aggressive]":
	// with fail2ban set, the filter.d filter of that name, else (or when
	// filter.d has none) banfleet's built-in filter of that name (sshd).
	// Default: the jail's name.
	Filter string `koanf:"filter"`
	// Backend is where the log comes from: auto, polling, pyinotify (log
	// files) or systemd (the journal; logpath is then not used).
	Backend string `koanf:"backend"`
	// Journal is set for a systemd backend (read from Fail2Ban configs).
	Journal bool `koanf:"journal"`
	// LogPath lists the log files to follow (globs).
	LogPath []string `koanf:"logpath"`
	// LogPathTail lists those of LogPath marked "tail" in a Fail2Ban
	// configuration. Accepted for compatibility: banfleet reads every log
	// from its end on first start (and from where it stopped afterwards).
	LogPathTail []string `koanf:"logpath_tail"`
	// Port lists the ports the jail's bans block: numbers, service names or
	// ranges a:b; empty = all ports.
	Port []string `koanf:"port"`
	// Protocol is tcp (default), udp or all.
	Protocol string `koanf:"protocol"`
	// IgnoreIP lists addresses and CIDRs this agent never bans on its own
	// for this jail (Fail2Ban's ignoreip; host names in it are not resolved
	// and are skipped). The coordinator's ignoreip is its own.
	IgnoreIP []string `koanf:"ignoreip"`
	// MaxRetry, FindTime and BanTime are the jail's thresholds as this host
	// knows them (from Fail2Ban): reported to the coordinator, whose own
	// configuration wins. 0 = not set; a negative bantime is permanent.
	MaxRetry int           `koanf:"maxretry"`
	FindTime time.Duration `koanf:"findtime"`
	BanTime  time.Duration `koanf:"bantime"`
	// The filter itself, as Fail2Ban's failregex engine takes it; set by a
	// Fail2Ban configuration, or by hand for a jail without a filter file.
	PrefRegex    string     `koanf:"prefregex"`
	FailRegex    []string   `koanf:"failregex"`
	IgnoreRegex  []string   `koanf:"ignoreregex"`
	MaxLines     int        `koanf:"maxlines"`
	DatePattern  string     `koanf:"datepattern"`
	JournalMatch [][]string `koanf:"journalmatch"`
	UseDNS       string     `koanf:"usedns"`

	// FilterFiles are the files the filter was read from (not a key);
	// a built-in filter's are named "builtin:filter.d/<name>.conf".
	FilterFiles []string `koanf:"-"`

	// Ports is Port resolved (not a key).
	Ports []uint16 `koanf:"-"`
	// Ignore is IgnoreIP's addresses and CIDRs, IgnoreNames the host
	// names it holds (not keys).
	Ignore      *netaddr.Set `koanf:"-"`
	IgnoreNames []string     `koanf:"-"`
}

// FromJournal reports whether the jail reads the systemd journal.
func (j AgentJail) FromJournal() bool { return j.Journal || strings.HasPrefix(j.Backend, "systemd") }

// SetFilter makes def (a filter.d filter as config/fail2ban reads it) the
// jail's filter; a journalmatch the jail sets itself is kept.
func (j *AgentJail) SetFilter(def *fail2ban.FilterDef) {
	j.PrefRegex, j.FailRegex, j.IgnoreRegex = def.PrefRegex, def.FailRegex, def.IgnoreRegex
	j.MaxLines, j.DatePattern, j.UseDNS = def.MaxLines, def.DatePattern, def.UseDNS
	j.FilterFiles = def.Files
	if len(j.JournalMatch) == 0 {
		j.JournalMatch = def.JournalMatch
	}
}

// BuiltinFilter reports whether the jail's filter is one of banfleet's
// built-in filters (rather than a filter.d file or the jail's own regexes).
func (j AgentJail) BuiltinFilter() bool {
	return len(j.FilterFiles) > 0 && strings.HasPrefix(j.FilterFiles[0], fail2ban.BuiltinPrefix)
}

// Regex reports whether the jail's filter is given as Fail2Ban regexes
// (rather than a built-in filter).
func (j AgentJail) Regex() bool { return len(j.FailRegex) > 0 }

// On reports whether the jail is enabled.
func (j AgentJail) On() bool { return j.Enabled == nil || *j.Enabled }

func agentDefaults() map[string]any {
	return map[string]any{
		"nats.url":         "nats://127.0.0.1:4222",
		"state_dir":        "/var/lib/banfleet-agent",
		"firewall.backend": "nftables",
		"firewall.table":   "banfleet",
		"metrics.listen":   "127.0.0.1:9721",
		"log.format":       "json",
		"log.level":        "info",
		"heartbeat":        "5s",
		"reconcile":        "60s",
		"offline.ban":      true,
		"offline.after":    "10s",
	}
}

// fail2banKeys are the jail keys taken from a Fail2Ban configuration.
var fail2banKeys = []string{"enabled", "filter", "backend", "journal", "logpath", "logpath_tail", "port", "protocol", "ignoreip",
	"maxretry", "findtime", "bantime", "prefregex", "failregex", "ignoreregex", "maxlines", "datepattern", "journalmatch", "usedns"}

// LoadAgent reads and validates the agent's configuration. When it names a
// Fail2Ban configuration (fail2ban: DIR), the jails enabled there are
// loaded under the YAML's.
func LoadAgent(src Source) (*Agent, *koanf.Koanf, error) {
	var c Agent
	var under []koanf.Provider
	if dir := peekString(src, AgentEnvPrefix, "fail2ban"); dir != "" {
		under = append(under, fail2ban.NewProvider(dir, fail2ban.WithKeys(fail2banKeys...), fail2ban.WithBuiltinFilters(filter.BuiltinConf())))
	}
	k, err := load(src, AgentEnvPrefix, agentDefaults(), &c, under...)
	if err != nil {
		return nil, nil, err
	}
	c.File = src.File
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	return &c, k, nil
}

func (c *Agent) where() string { return where(c.File) }

func (c *Agent) validate() error {
	w := c.where()
	if c.Host == "" {
		c.Host = shortHostname()
	}
	if !subject.ValidName(c.Host) {
		return fieldError(w, "host", "%q may only hold letters, digits, '-' and '_'", c.Host)
	}
	if err := validNATSURL(c.NATS.URL); err != nil {
		return fieldError(w, "nats.url", "%v", err)
	}
	if err := checkCA(w, "nats.ca", c.NATS.CA); err != nil {
		return err
	}
	if err := checkFile(w, "nats.creds", c.NATS.Creds); err != nil {
		return err
	}
	if c.NATS.Password != "" && c.NATS.User == "" {
		c.NATS.User = c.Host
	}
	if c.StateDir == "" {
		return fieldError(w, "state_dir", "must be set")
	}
	if c.Offline.After < time.Second {
		return fieldError(w, "offline.after", "%v is shorter than 1s (a connection needs a moment at start)", c.Offline.After)
	}
	set, err := netaddr.ParseSet(c.Offline.IgnoreIP)
	if err != nil {
		return fieldError(w, "offline.ignoreip", "%v", err)
	}
	c.Offline.Ignore = set
	switch c.Firewall.Backend {
	case "nftables", "none":
	default:
		return fieldError(w, "firewall.backend", "%q is not nftables or none", c.Firewall.Backend)
	}
	if !subject.ValidName(c.Firewall.Table) {
		return fieldError(w, "firewall.table", "%q is not a valid table name", c.Firewall.Table)
	}
	if c.Heartbeat < 100*time.Millisecond {
		return fieldError(w, "heartbeat", "%v is shorter than 100ms", c.Heartbeat)
	}
	if c.Reconcile < time.Second {
		return fieldError(w, "reconcile", "%v is shorter than 1s", c.Reconcile)
	}
	if err := c.Log.validate(w); err != nil {
		return err
	}
	if err := c.Metrics.validate(w); err != nil {
		return err
	}
	for _, name := range c.JailNames() {
		j := c.Jails[name]
		f := "jails." + name
		if !subject.ValidName(name) || len(name) > 32 {
			return fieldError(w, f, "jail name may only hold letters, digits, '-' and '_' (at most 32)")
		}
		if j.Filter == "" {
			j.Filter = name
		}
		if j.On() && len(j.LogPath) == 0 && !j.FromJournal() {
			return fieldError(w, f+".logpath", "no log file given")
		}
		for i, p := range j.LogPath {
			if !filepath.IsAbs(p) {
				return fieldError(w, fmt.Sprintf("%s.logpath[%d]", f, i), "%q is not an absolute path", p)
			}
		}
		switch {
		case !j.On():
		case j.Regex() && !(j.FromJournal() && c.Fail2Ban != "" && j.Filter != ""):
			// Regexes given (by hand, or by the Fail2Ban jail as read for its
			// own backend). A journal jail re-reads its filter below, so that
			// a backend switched to systemd here gets the journal form.
		default:
			// A filter.d filter (with fail2ban set) or a built-in one.
			if err := j.ResolveFilter(c.Fail2Ban); err != nil {
				return fieldError(w, f+".filter", "%v", err)
			}
		}
		var nets []string
		for _, e := range j.IgnoreIP {
			if _, err := netaddr.ParsePrefix(e); err == nil {
				nets = append(nets, e)
			} else if isHostName(e) {
				j.IgnoreNames = append(j.IgnoreNames, e)
			} else {
				return fieldError(w, f+".ignoreip", "%q is neither an address, a CIDR nor a host name", e)
			}
		}
		if j.Ignore, err = netaddr.ParseSet(nets); err != nil {
			return fieldError(w, f+".ignoreip", "%v", err)
		}
		ports, err := ParsePorts(j.Port)
		if err != nil {
			return fieldError(w, f+".port", "%v", err)
		}
		j.Ports = ports
		switch j.Protocol {
		case "":
			j.Protocol = "tcp"
		case "tcp", "udp", "all":
		default:
			return fieldError(w, f+".protocol", "%q is not tcp, udp or all", j.Protocol)
		}
		c.Jails[name] = j
	}
	return nil
}

// JailNames returns the jail names in order.
func (c *Agent) JailNames() []string {
	names := make([]string, 0, len(c.Jails))
	for n := range c.Jails {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func shortHostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

func validNATSURL(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	for _, one := range strings.Split(s, ",") {
		u, err := url.Parse(one)
		if err != nil {
			return err
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("%q: scheme must be nats, tls, ws or wss", one)
		}
		if u.Host == "" {
			return fmt.Errorf("%q: no host", one)
		}
	}
	return nil
}

// isHostName reports whether s looks like a DNS name (as Fail2Ban's
// ignoreip may hold).
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
