package config

import (
	"crypto/tls"
	"crypto/x509"
	"os"
)

// ServerTLS is the embedded NATS server's certificate. Both files, PEM;
// empty: no TLS.
type ServerTLS struct {
	// Cert is the certificate (chain) file; its names or IP addresses must
	// cover what agents put in their nats.url.
	Cert string `koanf:"cert"`
	// Key is the private key file.
	Key string `koanf:"key"`
}

// On reports whether TLS is configured.
func (t ServerTLS) On() bool { return t.Cert != "" || t.Key != "" }

// check loads the key pair, so that -t and the start refuse a bad one.
func (t ServerTLS) check(w, field string) error {
	if !t.On() {
		return nil
	}
	if t.Cert == "" || t.Key == "" {
		return fieldError(w, field, "cert and key must both be set")
	}
	if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
		return fieldError(w, field+".cert", "%v", err)
	}
	return nil
}

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
