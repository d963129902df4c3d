package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// ServerTLS is the embedded NATS server's certificate. Both files, PEM;
// empty: no TLS.
type ServerTLS struct {
	// Cert is the certificate (chain) file; its names or IP addresses must
	// cover what agents put in their nats.url.
	Cert string `koanf:"cert"`
	// Key is the private key file.
	Key string `koanf:"key"`

	// Leaf is Cert's first certificate, read by the validation (not a key).
	Leaf *x509.Certificate `koanf:"-"`
}

// On reports whether TLS is configured.
func (t ServerTLS) On() bool { return t.Cert != "" || t.Key != "" }

// check loads the key pair, so that -t and the start refuse a bad one, or a
// certificate that has expired or is not valid yet (clients would refuse
// it).
func (t *ServerTLS) check(w, field string) error {
	if !t.On() {
		return nil
	}
	if t.Cert == "" || t.Key == "" {
		return fieldError(w, field, "cert and key must both be set")
	}
	pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return fieldError(w, field+".cert", "%v", err)
	}
	leaf := pair.Leaf // LoadX509KeyPair parses it (Go 1.23 on)
	if err := validNow(leaf, time.Now()); err != nil {
		return fieldError(w, field+".cert", "%s: %v", t.Cert, err)
	}
	t.Leaf = leaf
	return nil
}

// validNow says whether a certificate is valid at now.
func validNow(c *x509.Certificate, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("certificate expired on %s", formatTime(c.NotAfter))
	case now.Before(c.NotBefore):
		return fmt.Errorf("certificate not valid before %s", formatTime(c.NotBefore))
	}
	return nil
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// checkCA reads a CA file (PEM certificates a client trusts for the NATS
// server's certificate); "" is fine.
func checkCA(w, field, file string) error {
	if file == "" {
		return nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return fieldError(w, field, "%v", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return fieldError(w, field, "%s holds no PEM certificate", file)
	}
	return nil
}

// checkCAValidity fails when none of a CA file's certificates is valid
// now; notes name those that end within expirySoon.
func checkCAValidity(file string) (notes []string, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var firstErr error
	valid := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if err := validNow(c, now); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		valid++
		if left := c.NotAfter.Sub(now); left < expirySoon {
			notes = append(notes, fmt.Sprintf("nats.ca: %s: certificate %q expires on %s (in %d days)", file, c.Subject.CommonName, formatTime(c.NotAfter), int(left.Hours()/24)))
		}
	}
	switch {
	case valid > 0:
		return notes, nil
	case firstErr != nil:
		return nil, fmt.Errorf("%s: no valid certificate: %w", file, firstErr)
	}
	return nil, fmt.Errorf("%s holds no PEM certificate", file)
}

// checkFile fails when a file named by field cannot be read.
func checkFile(w, field, file string) error {
	if file == "" {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return fieldError(w, field, "%v", err)
	}
	return f.Close()
}
