package tlscert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/net/idna"
)

// LetsEncrypt is the directory of Let's Encrypt's production ACME server.
const LetsEncrypt = acme.LetsEncryptURL

// ACMEOptions configures certificates obtained over ACME.
type ACMEOptions struct {
	// Domains are the names certificates are obtained for; the server
	// refuses handshakes for any other name.
	Domains []string
	// Email is the contact address of the ACME account ("" for none):
	// the CA writes to it about expiring certificates and incidents.
	Email string
	// Directory is the ACME server's directory URL (LetsEncrypt when
	// empty).
	Directory string
	// CAFile, when set, is a PEM file of the CA certificates that the
	// ACME server's own HTTPS certificate is checked against (a private
	// ACME server); the system's roots otherwise.
	CAFile string
	// CacheDir holds the account key and the certificates, so that a
	// restart reuses them instead of asking the CA again.
	CacheDir string
	Logger   *slog.Logger
}

// ChallengeProtocol is the ALPN protocol of TLS-ALPN-01 validations (RFC
// 8737), which the ACME certificates answer on the TLS port.
const ChallengeProtocol = acme.ALPNProto

// ACME obtains, caches and renews certificates over ACME. Certificates
// are obtained for each domain when Run starts (so that the first client
// does not wait for one, and a failure shows in the log at once), and
// renewed 30 days before they expire. Control of a domain is proved with
// the TLS-ALPN-01 challenge, answered by GetCertificate on the TLS port
// (the CA connects to port 443 of the domain).
type ACME struct {
	m       *autocert.Manager
	domains []string
	log     *slog.Logger
	stopped chan struct{} // closed when Run returns: no more requests to the CA

	mu       sync.Mutex
	notAfter map[string]time.Time // of the certificate last served per domain
}

// NewACME returns the certificates of opts.
func NewACME(opts ACMEOptions) (*ACME, error) {
	domains, err := NormalizeDomains(opts.Domains)
	if err != nil {
		return nil, err
	}
	if opts.CacheDir == "" {
		return nil, errors.New("ACME certificates need a cache directory")
	}
	if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
		return nil, err
	}
	dir := opts.Directory
	if dir == "" {
		dir = LetsEncrypt
	}
	transport := http.DefaultTransport
	if opts.CAFile != "" {
		pool, err := ReadCAFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ACME CA file: %w", err)
		}
		transport = &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}
	}
	stopped := make(chan struct{})
	client := &acme.Client{DirectoryURL: dir, UserAgent: "basalt",
		HTTPClient: &http.Client{Timeout: time.Minute, Transport: untilStopped{rt: transport, stopped: stopped}}}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(opts.CacheDir),
		HostPolicy: autocert.HostWhitelist(domains...),
		Email:      opts.Email,
		Client:     client,
	}
	return &ACME{m: m, domains: domains, log: log, stopped: stopped, notAfter: map[string]time.Time{}}, nil
}

// errStopped fails the requests to the CA once the server stops.
var errStopped = errors.New("the server is stopping")

// untilStopped sends requests to the CA until stopped is closed: an
// issuance under way when the server stops then fails at its next
// request instead of holding the shutdown (autocert gives it minutes).
type untilStopped struct {
	rt      http.RoundTripper
	stopped chan struct{}
}

func (u untilStopped) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case <-u.stopped:
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, errStopped
	default:
	}
	return u.rt.RoundTrip(r)
}

// NormalizeDomains checks domain names for ACME and returns them in
// their ASCII form, lower case, without duplicates. A name must have at
// least two labels; IP addresses and wildcards (which need the DNS-01
// challenge) are refused.
func NormalizeDomains(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if strings.Contains(n, "*") {
			return nil, fmt.Errorf("ACME domain %q: wildcard names need the DNS-01 challenge, which Basalt does not answer", n)
		}
		a, err := idna.Lookup.ToASCII(n)
		if err != nil {
			return nil, fmt.Errorf("ACME domain %q: %w", n, err)
		}
		a = strings.ToLower(strings.TrimSuffix(a, "."))
		if !strings.Contains(a, ".") || strings.Trim(a, "0123456789.") == "" || strings.Contains(a, ":") {
			return nil, fmt.Errorf("ACME domain %q: a certificate needs a domain name with at least two labels (not localhost nor an IP address)", n)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no ACME domain")
	}
	return out, nil
}

// Domains are the names certificates are obtained for.
func (a *ACME) Domains() []string { return slices.Clone(a.domains) }

// GetCertificate answers a TLS handshake: the certificate of the name the
// client asked for (obtaining it first if need be), or the challenge
// certificate of a TLS-ALPN-01 validation.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if offersTLS13Only(hello) {
		// A TLS 1.3 hello (always so over QUIC) lists no ECDSA cipher
		// suite, as TLS 1.3 suites name no signature algorithm; autocert
		// would take that for a client that needs RSA, and obtain a
		// second certificate. Its signature schemes say what it accepts.
		h := *hello
		if slices.Contains(h.SignatureSchemes, tls.ECDSAWithP256AndSHA256) {
			h.CipherSuites = append(slices.Clone(h.CipherSuites), tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
		}
		hello = &h
	}
	cert, err := a.m.GetCertificate(hello)
	if err == nil && !slices.Contains(hello.SupportedProtos, ChallengeProtocol) {
		a.served(strings.ToLower(strings.TrimSuffix(hello.ServerName, ".")), cert)
	}
	return cert, err
}

// served records the end of validity of the certificate served for a
// domain (names outside Domains are not recorded).
func (a *ACME) served(domain string, cert *tls.Certificate) {
	if cert == nil || cert.Leaf == nil || !slices.Contains(a.domains, domain) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.notAfter[domain] = cert.Leaf.NotAfter
}

// NotAfter returns the earliest end of validity among the certificates
// last served for the domains (renewals replace a domain's at its next
// handshake), and false before any was.
func (a *ACME) NotAfter() (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var first time.Time
	for _, t := range a.notAfter {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first, !first.IsZero()
}

// offersTLS13Only reports whether a client hello offers no version below
// TLS 1.3.
func offersTLS13Only(hello *tls.ClientHelloInfo) bool {
	if len(hello.SupportedVersions) == 0 {
		return false
	}
	for _, v := range hello.SupportedVersions {
		if v < tls.VersionTLS13 {
			return false
		}
	}
	return true
}

// Run obtains (or loads from the cache) the certificate of every domain,
// logging the outcome, then waits until ctx ends. A failure is retried
// with a growing delay; handshakes meanwhile try again themselves.
// Renewals run on autocert's own timers. Once Run returns, no request
// goes to the CA any more.
func (a *ACME) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { close(a.stopped) })
	defer func() {
		if stop() { // ctx had not ended: Run failed
			close(a.stopped)
		}
	}()
	pending := slices.Clone(a.domains)
	delay := 10 * time.Second
	for len(pending) > 0 {
		var failed []string
		for _, d := range pending {
			if ctx.Err() != nil {
				return nil
			}
			// The hello of a client that accepts ECDSA, as nearly all do.
			hello := &tls.ClientHelloInfo{ServerName: d, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
				SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12}}
			cert, err := a.m.GetCertificate(hello)
			if err != nil {
				a.log.Error("ACME: no certificate yet; retrying", "domain", d, "err", err, "retry_in", delay.String())
				failed = append(failed, d)
				continue
			}
			a.served(d, cert)
			attrs := []any{"domain", d}
			if leaf := cert.Leaf; leaf != nil {
				attrs = append(attrs, "issuer", leaf.Issuer.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
			}
			a.log.Info("ACME certificate ready", attrs...)
		}
		pending = failed
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Minute)
	}
	<-ctx.Done()
	return nil
}

// ReadCAFile reads a PEM file of CA certificates into a pool.
func ReadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
