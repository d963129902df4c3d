// Package natsd runs the NATS server with JetStream embedded in coord serve:
// the single-node default, so a small fleet has nothing else to run.
package natsd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures the embedded server.
type Options struct {
	Listen   string // host:port for clients; port 0 picks a free one
	StoreDir string // JetStream storage
	Name     string // server name
	Logger   *slog.Logger
	Users    []*server.User // nil: no authentication
	// CertFile and KeyFile, when set, make clients use TLS.
	CertFile, KeyFile string
}

// Server is a running embedded NATS server.
type Server struct {
	s   *server.Server
	tls *tls.Config // nil without TLS
}

// Start starts the server and waits until it accepts clients.
func Start(o Options) (*Server, error) {
	host, portS, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, fmt.Errorf("nats listen %q: %w", o.Listen, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:         o.Name,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		NoSigs:             true,
		MaxPayload:         1 << 20,
		JetStreamMaxMemory: 256 << 20,
		// Every agent watches the bans bucket with a consumer of its own:
		// the server's default of 1,000 consumers per stream would refuse
		// the 1,000th host.
		JetStreamLimits: server.JSLimitOpts{DefaultMaxConsumers: -1},
		Users:           o.Users,
	}
	if o.CertFile != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.CertFile, KeyFile: o.KeyFile})
		if err != nil {
			return nil, fmt.Errorf("nats tls: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, 5
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	if o.Logger != nil {
		s.SetLoggerV2(&logAdapter{l: o.Logger.With("component", "nats")}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server on %s: not ready after 15s", o.Listen)
	}
	return &Server{s: s, tls: opts.TLSConfig}, nil
}

// Certificate is the server's own TLS certificate (DER), nil without TLS.
func (s *Server) Certificate() []byte {
	tc := s.tls
	if tc == nil || len(tc.Certificates) == 0 || len(tc.Certificates[0].Certificate) == 0 {
		return nil
	}
	return tc.Certificates[0].Certificate[0]
}

// AgentConnName is the connection name prefix of agents ("banfleet-agent
// <host>").
const AgentConnName = "banfleet-agent "

// ClientAddrs returns, per agent, the addresses its connections come from
// now: the fleet's hosts as the server sees them, not as they say. An agent
// is known by its login (the user name is the host), or without logins by
// its connection name (AgentConnName + host).
func (s *Server) ClientAddrs() (map[string][]netip.Addr, error) {
	cz, err := s.s.Connz(&server.ConnzOptions{Username: true, Limit: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("nats connections: %w", err)
	}
	out := map[string][]netip.Addr{}
	for _, c := range cz.Conns {
		host := c.AuthorizedUser
		if host == "" {
			h, ok := strings.CutPrefix(c.Name, AgentConnName)
			if !ok {
				continue
			}
			host = h
		}
		ip, err := netip.ParseAddr(c.IP)
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		if !slices.Contains(out[host], ip) {
			out[host] = append(out[host], ip)
		}
	}
	return out, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.s.ClientURL() }

// Shutdown stops the server gracefully.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}

// Run blocks until ctx ends, then shuts the server down.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	s.Shutdown()
	return nil
}

type logAdapter struct{ l *slog.Logger }

func (a *logAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *logAdapter) Tracef(format string, v ...any)  {}
