package config

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// Log configures a daemon's structured log.
type Log struct {
	// Format is "json" (default, for journald and log shippers) or "text".
	Format string `koanf:"format"`
	// Level is debug, info (default), warn or error.
	Level string `koanf:"level"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is the host:port serving /metrics; "" disables it.
	Listen string `koanf:"listen"`
}

func (l Log) validate(where string) error {
	switch l.Format {
	case "json", "text":
	default:
		return fieldError(where, "log.format", "%q is not json or text", l.Format)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return fieldError(where, "log.level", "%q is not debug, info, warn or error", l.Level)
	}
	return nil
}

// SlogLevel returns the configured level (info if unset or invalid).
func (l Log) SlogLevel() slog.Level {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(l.Level))
	return lv
}

func (m Metrics) validate(where string) error {
	if m.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(m.Listen); err != nil {
		return fieldError(where, "metrics.listen", "%v", err)
	}
	return nil
}

var services = map[string]uint16{
	"ssh": 22, "ftp": 21, "smtp": 25, "domain": 53, "http": 80, "pop3": 110, "imap": 143,
	"https": 443, "submission": 587, "submissions": 465, "imaps": 993, "pop3s": 995,
	"mysql": 3306, "postgresql": 5432, "rdp": 3389,
}

// ParsePorts resolves Fail2Ban-style port entries: numbers, service names
// (ssh, http, …) and ranges "1000:1010". An empty list means all ports.
func ParsePorts(entries []string) ([]uint16, error) {
	var out []uint16
	for _, e := range entries {
		for _, part := range strings.Split(e, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if part == "0:65535" || part == "1:65535" {
				return nil, nil // every port: Fail2Ban's jail.conf default
			}
			if lo, hi, ok := strings.Cut(part, ":"); ok {
				a, err1 := parsePort(lo)
				b, err2 := parsePort(hi)
				if err1 != nil || err2 != nil || a > b || int(b)-int(a) > 1024 {
					return nil, fmt.Errorf("port range %q invalid", part)
				}
				for p := int(a); p <= int(b); p++ {
					out = append(out, uint16(p))
				}
				continue
			}
			p, err := parsePort(part)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func parsePort(s string) (uint16, error) {
	if p, ok := services[s]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q is neither a number 1-65535 nor a known service", s)
	}
	return uint16(n), nil
}
