package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// CheckTimeout bounds each network step of Check: a TCP dial, a NATS
// connection, a name lookup.
const CheckTimeout = 3 * time.Second

// expirySoon is how early Check warns of a certificate's end.
const expirySoon = 30 * 24 * time.Hour

// ClientOptions returns the options that make a NATS client connect as
// the agent's configuration says: its credentials file, its CA (TLS, the
// server checked against it) and its login.
func (n AgentNATS) ClientOptions() []nats.Option {
	opts := clientOptions(n.Creds, n.CA)
	if n.Password != "" {
		opts = append(opts, nats.UserInfo(n.User, n.Password))
	}
	return opts
}

// ClientOptions returns the options that make a NATS client connect to the
// external NATS (URL) as the coordinator's configuration says.
func (n CoordNATS) ClientOptions() []nats.Option { return clientOptions(n.Creds, n.CA) }

func clientOptions(creds, ca string) []nats.Option {
	var opts []nats.Option
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	if ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	return opts
}

// ProbeNATS connects once to url with opts (no reconnection; timeout
// bounds the dial and the handshake of each server) and closes the
// connection. A failure is a *NATSError.
func ProbeNATS(url string, timeout time.Duration, opts ...nats.Option) error {
	d := &lastDialError{dialer: net.Dialer{Timeout: timeout}}
	all := append([]nats.Option{nats.Name("banfleet check"), nats.Timeout(timeout), nats.NoReconnect(), nats.SetCustomDialer(d)}, opts...)
	nc, err := nats.Connect(url, all...)
	if errors.Is(err, nats.ErrNoServers) && d.err != nil {
		// The client sums up refused connections as "no servers".
		err = d.err
	}
	if err != nil {
		return DiagnoseNATS(err)
	}
	nc.Close()
	return nil
}

// lastDialError is a dialer that keeps its last error.
type lastDialError struct {
	dialer net.Dialer
	err    error
}

func (d *lastDialError) Dial(network, address string) (net.Conn, error) {
	c, err := d.dialer.Dial(network, address)
	if err != nil {
		d.err = err
	}
	return c, err
}

// DiagnoseNATS says why a connection to NATS failed: the TLS check of the
// server's certificate, the login, or the network. nil for nil.
func DiagnoseNATS(err error) *NATSError {
	if err == nil {
		return nil
	}
	var ne *NATSError
	if errors.As(err, &ne) {
		return ne
	}
	d := &NATSError{Err: err}
	var (
		unknownCA  x509.UnknownAuthorityError
		badName    x509.HostnameError
		invalid    x509.CertificateInvalidError
		verify     *tls.CertificateVerificationError
		notTLS     tls.RecordHeaderError
		dnsErr     *net.DNSError
		netErr     net.Error
		unreadable *os.PathError
	)
	switch {
	case errors.As(err, &unknownCA):
		d.Reason = "tls: certificate signed by unknown authority"
		d.Hint = "nats.ca must hold the CA that signed the server's certificate"
	case errors.As(err, &badName):
		d.Reason = "tls: certificate does not name " + badName.Host
		d.Hint = "the server's certificate must name the host in nats.url"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		d.Reason, d.Hint = "tls: certificate expired", "the server's certificate must be renewed"
		if invalid.Cert != nil && time.Now().Before(invalid.Cert.NotBefore) {
			d.Reason, d.Hint = "tls: certificate not yet valid", "a clock, or the certificate's dates, are wrong"
		}
	case errors.As(err, &invalid):
		d.Reason = "tls: certificate not valid for a server"
	case errors.As(err, &verify):
		d.Reason = "tls: certificate not verified"
	case errors.Is(err, nats.ErrSecureConnWanted):
		d.Reason = "tls: the server does not offer TLS"
		d.Hint = "nats.ca (or a tls:// URL) asks for TLS: give the server a certificate (nats.tls), or drop nats.ca"
	case errors.As(err, &notTLS):
		d.Reason = "tls: the server does not speak TLS"
	case errors.Is(err, nats.ErrTLS):
		d.Reason = "tls: handshake failed"
	case errors.Is(err, nats.ErrAuthorization):
		d.Reason = "authorization violation: wrong user or password"
		d.Hint = "the login (nats.user and nats.password, or nats.creds) must be one the server knows"
	case errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAccountAuthExpired):
		d.Reason = "authorization expired"
	case errors.Is(err, nats.ErrAuthRevoked):
		d.Reason = "authorization revoked"
	case errors.As(err, &unreadable):
		d.Reason = "file unreadable: " + unreadable.Path
	case errors.Is(err, syscall.ECONNREFUSED):
		d.Reason, d.Unreachable = "connection refused", true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		d.Reason, d.Unreachable = "no route to host", true
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		d.Reason, d.Unreachable = "host not found: "+dnsErr.Name, true
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		d.Reason, d.Unreachable = "name lookup failed: "+dnsErr.Name, true
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		d.Reason, d.Unreachable = "timeout: no answer from the server", true
	case errors.Is(err, nats.ErrNoServers):
		d.Reason, d.Unreachable = "no server available", true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		d.Reason = "connection closed by the server"
	case errors.Is(err, nats.ErrMaxConnectionsExceeded), errors.Is(err, nats.ErrMaxAccountConnectionsExceeded):
		d.Reason = "the server refuses more connections"
	default:
		d.Reason = "connection failed"
	}
	return d
}

// RedactURL returns a nats.url fit for a log: passwords in it are hidden.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// Check does what validation cannot do without the network, for -t: the
// CA must hold a certificate still valid, a server in nats.url must accept
// a TCP connection within timeout, and a NATS connection with the agent's
// TLS and login must succeed (which checks the server's certificate
// against nats.ca and the host in nats.url, and the password). notes are
// warnings that do not fail the check (a server of a cluster down, a
// certificate that ends soon). An error that is a *NATSError with
// Unreachable set means the configuration may be right but nothing
// answered.
func (c *Agent) Check(timeout time.Duration) (notes []string, err error) {
	return checkClient(c.where(), c.NATS.URL, c.NATS.CA, timeout, c.NATS.ClientOptions())
}

// Check does what validation cannot do without the network, for -t. With
// an external NATS (nats.url) it checks as the agent's Check does; for the
// embedded server, that its certificate (nats.tls.cert) names the listen
// address unless that is 0.0.0.0 or :: (an IP address is also named when
// one of the certificate's DNS names resolves to it).
func (c *Coord) Check(timeout time.Duration) (notes []string, err error) {
	w := c.where()
	if c.NATS.URL != "" {
		return checkClient(w, c.NATS.URL, c.NATS.CA, timeout, c.NATS.ClientOptions())
	}
	leaf := c.NATS.TLS.Leaf
	if leaf == nil {
		return nil, nil
	}
	if left := time.Until(leaf.NotAfter); left < expirySoon {
		notes = append(notes, fmt.Sprintf("nats.tls.cert: %s expires on %s (in %d days)", c.NATS.TLS.Cert, formatTime(leaf.NotAfter), int(left.Hours()/24)))
	}
	host, _, _ := net.SplitHostPort(c.NATS.Listen)
	if err := namesHost(leaf, host, timeout); err != nil {
		return notes, fieldError(w, "nats.tls.cert", "%s: %v: agents that connect to %s will refuse it", c.NATS.TLS.Cert, err, host)
	}
	return notes, nil
}

func checkClient(w, urls, ca string, timeout time.Duration, opts []nats.Option) ([]string, error) {
	var notes []string
	if ca != "" {
		n, err := checkCAValidity(ca)
		if err != nil {
			return nil, fieldError(w, "nats.ca", "%v", err)
		}
		notes = append(notes, n...)
	}
	n, err := reach(urls, timeout)
	notes = append(notes, n...)
	if err != nil {
		return notes, fmt.Errorf("%s: nats.url %s: %w", w, RedactURL(urls), err)
	}
	if err := ProbeNATS(urls, timeout, opts...); err != nil {
		return notes, fmt.Errorf("%s: nats.url %s: connect: %w", w, RedactURL(urls), err)
	}
	return notes, nil
}

// reach dials every server of a nats.url over TCP. It fails when none
// answers; a server that does not while another does is a note.
func reach(urls string, timeout time.Duration) (notes []string, err error) {
	var first error
	var failed []string
	ok := 0
	for _, one := range strings.Split(urls, ",") {
		u, perr := url.Parse(strings.TrimSpace(one))
		if perr != nil {
			return nil, perr
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
		}
		if port == "" {
			port = "4222"
		}
		addr := net.JoinHostPort(u.Hostname(), port)
		conn, derr := net.DialTimeout("tcp", addr, timeout)
		if derr != nil {
			d := DiagnoseNATS(derr)
			failed = append(failed, addr+": "+d.Reason)
			if first == nil {
				first = fmt.Errorf("%s: %w", addr, d)
			}
			continue
		}
		_ = conn.Close()
		ok++
	}
	if ok == 0 {
		if len(failed) > 1 {
			return nil, fmt.Errorf("no server reachable (%s): %w", strings.Join(failed, "; "), errors.Unwrap(first))
		}
		return nil, first
	}
	for _, f := range failed {
		notes = append(notes, "nats.url: "+f+" (another server answered)")
	}
	return notes, nil
}

// namesHost reports whether the certificate names host: "" or an
// unspecified address (0.0.0.0, ::) need no name; an IP address is named
// by the certificate's IP addresses or by a DNS name of it that resolves
// to the address.
func namesHost(leaf *x509.Certificate, host string, timeout time.Duration) error {
	ip := net.ParseIP(host)
	if host == "" || ip != nil && ip.IsUnspecified() {
		return nil
	}
	if leaf.VerifyHostname(host) == nil {
		return nil
	}
	if ip != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		for _, name := range leaf.DNSNames {
			if strings.Contains(name, "*") {
				continue
			}
			addrs, err := net.DefaultResolver.LookupIP(ctx, "ip", name)
			if err != nil {
				continue
			}
			for _, a := range addrs {
				if a.Equal(ip) {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("certificate names %s, not %s", certNames(leaf), host)
}

func certNames(leaf *x509.Certificate) string {
	var names []string
	names = append(names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no host (no subject alternative name)"
	}
	return strings.Join(names, ", ")
}
