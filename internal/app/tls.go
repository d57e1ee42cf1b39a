package app

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/tlscert"
)

// TLSConfig says where the certificates of HTTPS come from: files
// (Config.TLSCert and TLSKey), ACME (Domains), or a self-signed
// development certificate (SelfSigned); at most one of them.
type TLSConfig struct {
	// Domains are the names certificates are obtained for over ACME.
	Domains []string
	// ACMEEmail is the ACME account's contact address.
	ACMEEmail string
	// ACMEDirectory is the ACME server's directory URL.
	ACMEDirectory string
	// ACMECAFile is a PEM file of the roots the ACME server's own HTTPS
	// certificate is checked against ("" for the system's).
	ACMECAFile string
	// ACMECacheDir holds the ACME account key and certificates ("" for
	// <data-dir>/acme).
	ACMECacheDir string
	// SelfSigned serves a self-signed certificate for localhost, kept in
	// <data-dir>/tls.
	SelfSigned bool
	// HTTP3 serves HTTP/3 beside HTTPS.
	HTTP3 bool
}

// DefaultTLSConfig is the default of the TLS flags: no TLS; HTTP/3 once
// there is.
func DefaultTLSConfig() TLSConfig {
	return TLSConfig{ACMEDirectory: tlscert.LetsEncrypt, HTTP3: true}
}

type tlsFlags struct {
	TLSCert       string   `name:"tls-cert" help:"PEM file of the TLS certificate chain; with --tls-key, Basalt serves HTTPS (HTTP/2 and HTTP/1.1, and HTTP/3 unless --http3=false) and re-reads both files on SIGHUP ($$BASALT_TLS_CERT)." placeholder:"FILE"`
	TLSKey        string   `name:"tls-key" help:"PEM file of the TLS private key ($$BASALT_TLS_KEY)." placeholder:"FILE"`
	TLSDomains    []string `name:"tls-domain" help:"Comma-separated domain names to serve HTTPS for with certificates obtained and renewed automatically over ACME (Let's Encrypt unless --acme-directory); the CA checks control of each name by connecting to its port 443, which must reach --addr ($$BASALT_TLS_DOMAIN)." placeholder:"NAME,…"`
	ACMEEmail     string   `name:"acme-email" help:"Contact address of the ACME account, for the CA's notices ($$BASALT_ACME_EMAIL)." placeholder:"EMAIL"`
	ACMEDirectory string   `name:"acme-directory" help:"Directory URL of the ACME server of --tls-domain ($$BASALT_ACME_DIRECTORY)." default:"${acme_directory}" placeholder:"URL"`
	ACMECAFile    string   `name:"acme-ca-file" help:"PEM file of the CA certificates the ACME server's own HTTPS certificate is checked against, for a private ACME server; the system's by default ($$BASALT_ACME_CA_FILE)." placeholder:"FILE"`
	ACMECacheDir  string   `name:"acme-cache-dir" help:"Directory of the ACME account key and certificates, kept across restarts; <data-dir>/acme by default. Processes that serve the same names should share it ($$BASALT_ACME_CACHE_DIR)." placeholder:"DIR"`
	TLSSelfSigned bool     `name:"tls-self-signed" help:"Serve HTTPS with a self-signed certificate for localhost, 127.0.0.1 and ::1, made once and kept in <data-dir>/tls: for development, with clients told to trust it ($$BASALT_TLS_SELF_SIGNED)."`
	HTTP3         bool     `name:"http3" help:"With TLS, also serve HTTP/3 over QUIC on the UDP port of --addr, advertised with Alt-Svc ($$BASALT_HTTP3)." default:"true" negatable:""`
}

func (f tlsFlags) apply(cfg *Config) {
	cfg.TLSCert, cfg.TLSKey = f.TLSCert, f.TLSKey
	cfg.TLS = TLSConfig{Domains: f.TLSDomains, ACMEEmail: f.ACMEEmail, ACMEDirectory: f.ACMEDirectory,
		ACMECAFile: f.ACMECAFile, ACMECacheDir: f.ACMECacheDir, SelfSigned: f.TLSSelfSigned, HTTP3: f.HTTP3}
}

// validateTLS checks that the certificates come from one source at most.
func (c Config) validateTLS() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
	}
	sources := 0
	for _, on := range []bool{c.TLSCert != "", len(c.TLS.Domains) > 0, c.TLS.SelfSigned} {
		if on {
			sources++
		}
	}
	if sources > 1 {
		return errors.New("--tls-cert/--tls-key, --tls-domain and --tls-self-signed are alternatives: give one")
	}
	if len(c.TLS.Domains) > 0 {
		if _, err := tlscert.NormalizeDomains(c.TLS.Domains); err != nil {
			return fmt.Errorf("--tls-domain: %w", err)
		}
	}
	return nil
}

// serverTLS completes the server's configuration with its certificates:
// files, a self-signed certificate made now if need be, or ACME, whose
// component obtains and renews them; with ACME, notAfter tells when the
// certificates served expire (the server tells it of files).
func serverTLS(cfg Config, gc *gateway.Config, log *slog.Logger) (comps []component, notAfter func() (time.Time, bool), err error) {
	gc.HTTP3 = cfg.TLS.HTTP3
	switch {
	case cfg.TLSCert != "":
		gc.TLSCert, gc.TLSKey, gc.Reload = cfg.TLSCert, cfg.TLSKey, cfg.Reload
	case cfg.TLS.SelfSigned:
		certFile, keyFile, made, err := tlscert.SelfSigned(filepath.Join(cfg.DataDir, "tls"), time.Now())
		if err != nil {
			return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
		}
		if made {
			log.Info("made a self-signed TLS certificate for localhost: clients must be told to trust it", "cert", certFile)
		}
		gc.TLSCert, gc.TLSKey = certFile, keyFile
	case len(cfg.TLS.Domains) > 0:
		dir := cfg.TLS.ACMECacheDir
		if dir == "" {
			dir = filepath.Join(cfg.DataDir, "acme")
		}
		a, err := tlscert.NewACME(tlscert.ACMEOptions{Domains: cfg.TLS.Domains, Email: cfg.TLS.ACMEEmail,
			Directory: cfg.TLS.ACMEDirectory, CAFile: cfg.TLS.ACMECAFile, CacheDir: dir, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		gc.GetCertificate = a.GetCertificate
		gc.ChallengeProtocols = []string{tlscert.ChallengeProtocol}
		log.Info("TLS certificates come from ACME", "domains", a.Domains(), "directory", cfg.TLS.ACMEDirectory, "cache_dir", dir)
		return []component{{name: "ACME certificates", run: a.Run}}, a.NotAfter, nil
	}
	return nil, nil, nil
}
