package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// certReloader serves the certificate in a pair of PEM files, and re-reads
// them on demand. A certificate that fails to load never replaces the one
// in use.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time
	cert              atomic.Pointer[tls.Certificate]
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) *certReloader {
	return &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
}

// load reads the files; on success the new certificate serves every
// handshake from then on.
func (c *certReloader) load() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	if cert.Leaf == nil { // LoadX509KeyPair parses it; be sure
		return errors.New("TLS certificate: no leaf certificate")
	}
	c.cert.Store(&cert)
	return nil
}

// reload re-reads the files and logs the outcome.
func (c *certReloader) reload() {
	if err := c.load(); err != nil {
		c.log.Error("TLS certificate reload failed; the previous certificate is still served", "err", err)
		return
	}
	c.logCertificate("TLS certificate reloaded")
}

// logCertificate logs which certificate is served, and warns when it has
// expired or is not valid yet.
func (c *certReloader) logCertificate(msg string) {
	cert := c.cert.Load()
	leaf := cert.Leaf
	sum := sha256.Sum256(leaf.Raw)
	attrs := []any{"subject", leaf.Subject.String(), "dns_names", leaf.DNSNames, "ip_addresses", leaf.IPAddresses,
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "sha256", hex.EncodeToString(sum[:])}
	c.log.Info(msg, attrs...)
	if now := c.now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		c.log.Warn("the TLS certificate is not valid at this time: clients will refuse it", attrs...)
	}
}

// getCertificate serves the current certificate (tls.Config.GetCertificate).
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.cert.Load(); cert != nil {
		return cert, nil
	}
	return nil, errors.New("no TLS certificate loaded")
}

// run reloads the certificate for each value received on reload until ctx
// ends or reload is closed.
func (c *certReloader) run(ctx context.Context, reload <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-reload:
			if !ok {
				return
			}
			c.reload()
		}
	}
}

// tlsConfig is Basalt's TLS configuration, Mozilla's "intermediate"
// profile: TLS 1.3 whenever the client offers it, TLS 1.2 at least, and
// with TLS 1.2 only ECDHE key exchange with AEAD ciphers (Go would also
// accept CBC-mode suites). Go's defaults choose the rest: the TLS 1.3
// suites and the key exchanges (hybrid post-quantum X25519MLKEM768
// first). ALPN offers HTTP/2, then HTTP/1.1, then the challenge
// protocols. The certificate comes from getCertificate.
func tlsConfig(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error), challenges []string) *tls.Config {
	return &tls.Config{
		NextProtos: append([]string{"h2", "http/1.1"}, challenges...),
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{ // TLS 1.2 only; TLS 1.3's are not configurable
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		GetCertificate: getCertificate,
	}
}
