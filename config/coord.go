package config

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/knadh/koanf/v2"

	"github.com/banfleet/banfleet/shared/netaddr"
	"github.com/banfleet/banfleet/shared/subject"
)

// Coord is coord serve's configuration. Every field is documented in
// deploy/config/coord.yaml.
type Coord struct {
	// Name is this coordinator's name (default: the short hostname).
	Name string `koanf:"name"`
	// NATS says which NATS to use: an external one (URL) or the embedded one.
	NATS CoordNATS `koanf:"nats"`
	// Defaults is the policy of every jail not listed under jails.
	Defaults JailPolicy `koanf:"defaults"`
	// Jails override the defaults per jail.
	Jails map[string]JailPolicy `koanf:"jails"`
	// IgnoreIP lists addresses and CIDRs never banned (the fleet's own
	// addresses, which agents report, are never banned either).
	IgnoreIP []string `koanf:"ignoreip"`
	// Limits bound what one host's reports and an admin's manual bans can
	// make the fleet do.
	Limits Limits `koanf:"limits"`
	// Metrics is the Prometheus endpoint.
	Metrics Metrics `koanf:"metrics"`
	// Log is the daemon's own log.
	Log Log `koanf:"log"`

	// Ignore is IgnoreIP parsed (not a key).
	Ignore *netaddr.Set `koanf:"-"`
	// File is the file the configuration was read from (not a key).
	File string `koanf:"-"`
}

// CoordNATS is the coordinator's NATS.
type CoordNATS struct {
	// URL of an external NATS cluster; "" starts the embedded server.
	URL string `koanf:"url"`
	// Creds is an optional credentials file for the external NATS.
	Creds string `koanf:"creds"`
	// CA is a PEM file of the certificates that sign the external NATS's.
	CA string `koanf:"ca"`
	// TLS is the embedded server's certificate: with it, clients must use
	// TLS (agents: nats.ca; CLI: --ca).
	TLS ServerTLS `koanf:"tls"`
	// Listen is the embedded server's client address (host:port).
	Listen string `koanf:"listen"`
	// StoreDir is where the embedded server keeps JetStream data.
	StoreDir string `koanf:"store_dir"`
	// Retention is how long offences stay in the stream.
	Retention time.Duration `koanf:"retention"`
	// StreamMaxMB bounds the offence stream's size (MiB); the oldest
	// offences go first.
	StreamMaxMB int `koanf:"stream_max_mb"`
	// StreamMaxPerHost bounds the offences the stream keeps of one host:
	// a host's flood pushes out only its own older offences.
	StreamMaxPerHost int `koanf:"stream_max_per_host"`
	// Users turns on authentication for the embedded server: each agent
	// logs in as its host name and may publish offences only under its own
	// host token (the subject is the sender's identity), write only its
	// own heartbeat and read the bans; admins (the coord CLI) may do all.
	// Empty: no authentication, which is refused when the embedded server
	// listens beyond loopback unless AllowAnonymous is set.
	Users map[string]NATSUser `koanf:"users"`
	// AllowAnonymous lets the embedded server listen on a network address
	// without users: anyone who reaches it could publish offences and
	// write bans. For a closed network only.
	AllowAnonymous bool `koanf:"allow_anonymous"`
}

// Limits bound what the fleet does on the word of one host or admin.
type Limits struct {
	// MaxBanTime is the longest ban coord ban may ask for, and the longest
	// bantime the hosts' reported jail thresholds may set.
	MaxBanTime time.Duration `koanf:"max_bantime"`
	// MinMaxRetry is the lowest maxretry the hosts' reported thresholds may
	// set for a jail the coordinator's configuration does not name.
	MinMaxRetry int `koanf:"min_maxretry"`
	// OffenceRate is how many offences per second one host may report for
	// one address; more are counted as capped and do not count toward a
	// ban (a stolen login cannot fill a window alone).
	OffenceRate int `koanf:"offence_rate"`
}

// NATSUser is one login of the embedded NATS server.
type NATSUser struct {
	// Password of the user.
	Password string `koanf:"password"`
	// Role is "agent" (the user name is the host name) or "admin".
	Role string `koanf:"role"`
}

// JailPolicy is when a jail bans, fleet-wide. Zero fields inherit the
// defaults.
type JailPolicy struct {
	// BanTime is how long a ban lasts.
	BanTime time.Duration `koanf:"bantime"`
	// FindTime is the window offences are counted in.
	FindTime time.Duration `koanf:"findtime"`
	// MaxRetry is how many offences within findtime ban.
	MaxRetry int `koanf:"maxretry"`
	// Scope is "fleet" (count every host's offences together) or "host"
	// (count each host apart, as Fail2Ban on each host would).
	Scope string `koanf:"scope"`
	// Port is what a ban blocks (recorded in the ban; agents use their own
	// jail's ports when they know the jail).
	Port []string `koanf:"port"`
	// Quorum is how many distinct hosts must have reported an address
	// within findtime before it is banned fleet-wide (default 1). Below
	// it, a host whose own offences reach maxretry bans it on that host
	// alone, as Fail2Ban would there.
	Quorum int `koanf:"quorum"`
	// IgnoreIP lists addresses and CIDRs never banned in this jail, besides
	// the global ignoreip.
	IgnoreIP []string `koanf:"ignoreip"`

	// Ports is Port resolved, Ignore IgnoreIP parsed (not keys).
	Ports  []uint16     `koanf:"-"`
	Ignore *netaddr.Set `koanf:"-"`
}

func coordDefaults() map[string]any {
	return map[string]any{
		"nats.listen":              "127.0.0.1:4222",
		"nats.store_dir":           "/var/lib/banfleet/nats",
		"nats.retention":           "24h",
		"nats.stream_max_mb":       DefaultStreamMaxMB,
		"nats.stream_max_per_host": DefaultStreamMaxPerHost,
		"defaults.bantime":         DefaultBanTime.String(),
		"defaults.findtime":        DefaultFindTime.String(),
		"defaults.maxretry":        DefaultMaxRetry,
		"defaults.scope":           "fleet",
		"defaults.quorum":          1,
		"limits.max_bantime":       "168h",
		"limits.min_maxretry":      2,
		"limits.offence_rate":      10,
		"ignoreip":                 []string{"127.0.0.0/8", "::1"},
		"metrics.listen":           "127.0.0.1:9720",
		"log.format":               "json",
		"log.level":                "info",
	}
}

// LoadCoord reads and validates the coordinator's configuration.
func LoadCoord(src Source) (*Coord, *koanf.Koanf, error) {
	var c Coord
	k, err := load(src, CoordEnvPrefix, coordDefaults(), &c)
	if err != nil {
		return nil, nil, err
	}
	c.File = src.File
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	return &c, k, nil
}

func (c *Coord) where() string { return where(c.File) }

func (c *Coord) validate() error {
	w := c.where()
	if c.Name == "" {
		c.Name = shortHostname()
	}
	if c.NATS.URL != "" {
		if err := validNATSURL(c.NATS.URL); err != nil {
			return fieldError(w, "nats.url", "%v", err)
		}
		if err := checkCA(w, "nats.ca", c.NATS.CA); err != nil {
			return err
		}
		if err := checkFile(w, "nats.creds", c.NATS.Creds); err != nil {
			return err
		}
	} else {
		if err := c.NATS.TLS.check(w, "nats.tls"); err != nil {
			return err
		}
		if _, _, err := net.SplitHostPort(c.NATS.Listen); err != nil {
			return fieldError(w, "nats.listen", "%v", err)
		}
		if c.NATS.StoreDir == "" {
			return fieldError(w, "nats.store_dir", "must be set for the embedded server")
		}
		if len(c.NATS.Users) == 0 && !c.NATS.AllowAnonymous && !loopbackListen(c.NATS.Listen) {
			return fieldError(w, "nats.users", "empty, but nats.listen %s accepts connections from the network: anyone reaching it could publish offences and write bans; "+
				"give every agent and admin a login (nats.users), or set nats.allow_anonymous: true on a closed network", c.NATS.Listen)
		}
	}
	for name, u := range c.NATS.Users {
		f := "nats.users." + name
		switch {
		case !subject.ValidName(name):
			return fieldError(w, f, "user name may only hold letters, digits, '-' and '_'")
		case u.Password == "":
			return fieldError(w, f+".password", "must be set")
		case strings.HasPrefix(u.Password, PasswordPlaceholder):
			return fieldError(w, f+".password", "still the example's placeholder: set a password of its own")
		case u.Role != "agent" && u.Role != "admin":
			return fieldError(w, f+".role", "%q is not agent or admin", u.Role)
		}
	}
	if c.NATS.StreamMaxMB < 16 {
		return fieldError(w, "nats.stream_max_mb", "%d is below 16", c.NATS.StreamMaxMB)
	}
	if c.NATS.StreamMaxPerHost < 1000 {
		return fieldError(w, "nats.stream_max_per_host", "%d is below 1000", c.NATS.StreamMaxPerHost)
	}
	if c.NATS.Retention < time.Minute {
		return fieldError(w, "nats.retention", "%v is shorter than 1m", c.NATS.Retention)
	}
	if err := c.Defaults.validate(w, "defaults"); err != nil {
		return err
	}
	switch l := c.Limits; {
	case l.MaxBanTime < time.Minute:
		return fieldError(w, "limits.max_bantime", "%v is shorter than 1m", l.MaxBanTime)
	case l.MinMaxRetry < 1 || l.MinMaxRetry > 1000:
		return fieldError(w, "limits.min_maxretry", "%d is not between 1 and 1000", l.MinMaxRetry)
	case l.OffenceRate < 1:
		return fieldError(w, "limits.offence_rate", "%d is below 1", l.OffenceRate)
	}
	for name, j := range c.Jails {
		if !subject.ValidName(name) || len(name) > 32 {
			return fieldError(w, "jails."+name, "jail name may only hold letters, digits, '-' and '_' (at most 32)")
		}
		j = c.Defaults.merge(j)
		if err := j.validate(w, "jails."+name); err != nil {
			return err
		}
		c.Jails[name] = j
	}
	set, err := netaddr.ParseSet(c.IgnoreIP)
	if err != nil {
		return fieldError(w, "ignoreip", "%v", err)
	}
	c.Ignore = set
	if err := c.Log.validate(w); err != nil {
		return err
	}
	return c.Metrics.validate(w)
}

// The thresholds of a jail that sets none: those of Fail2Ban's jail.conf
// [DEFAULT] (the coordinator's defaults, and an agent's while it decides
// alone).
const (
	DefaultMaxRetry = 5
	DefaultFindTime = 10 * time.Minute
	DefaultBanTime  = 10 * time.Minute
)

// The offence stream's bounds when the configuration sets none.
const (
	DefaultStreamMaxMB      = 1024
	DefaultStreamMaxPerHost = 100_000
)

// PasswordPlaceholder starts the passwords of the example configuration; a
// password that starts with it is refused.
const PasswordPlaceholder = "REPLACE-"

// loopbackListen reports whether a listen address (host:port) accepts
// connections from this machine only.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Policy returns the policy of jail (the defaults if it has none of its own).
func (c *Coord) Policy(jail string) JailPolicy {
	if p, ok := c.Jails[jail]; ok {
		return p
	}
	return c.Defaults
}

func (d JailPolicy) merge(j JailPolicy) JailPolicy {
	if j.BanTime == 0 {
		j.BanTime = d.BanTime
	}
	if j.FindTime == 0 {
		j.FindTime = d.FindTime
	}
	if j.MaxRetry == 0 {
		j.MaxRetry = d.MaxRetry
	}
	if j.Scope == "" {
		j.Scope = d.Scope
	}
	if j.Port == nil {
		j.Port = d.Port
	}
	if j.Quorum == 0 {
		j.Quorum = d.Quorum
	}
	return j
}

func (j *JailPolicy) validate(w, f string) error {
	if j.BanTime < time.Second {
		return fieldError(w, f+".bantime", "%v is shorter than 1s", j.BanTime)
	}
	if j.FindTime < time.Second {
		return fieldError(w, f+".findtime", "%v is shorter than 1s", j.FindTime)
	}
	if j.MaxRetry < 1 || j.MaxRetry > 1000 {
		return fieldError(w, f+".maxretry", "%d is not between 1 and 1000", j.MaxRetry)
	}
	switch j.Scope {
	case "fleet", "host":
	default:
		return fieldError(w, f+".scope", "%q is not fleet or host", j.Scope)
	}
	if j.Quorum < 1 || j.Quorum > j.MaxRetry {
		return fieldError(w, f+".quorum", "%d is not between 1 and maxretry (%d): a ban needs at least one offence from each of quorum hosts", j.Quorum, j.MaxRetry)
	}
	ports, err := ParsePorts(j.Port)
	if err != nil {
		return fieldError(w, f+".port", "%v", err)
	}
	j.Ports = ports
	if j.Ignore, err = netaddr.ParseSet(j.IgnoreIP); err != nil {
		return fieldError(w, f+".ignoreip", "%v", err)
	}
	return nil
}
