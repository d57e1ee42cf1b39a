package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/telemetry"
	"github.com/basaltdev/basalt/internal/tlscert"
)

// The components a process runs (--target).
const (
	// TargetGateway serves the public API: REST, gRPC/Connect and the
	// account routes, authenticating and limiting every request and
	// calling the components that serve it.
	TargetGateway = "gateway"
	// TargetDocuments serves collections and documents and what lives
	// beside them: the event log and its relay, realtime streams, search
	// and webhooks.
	TargetDocuments = "documents"
	// TargetAccounts serves accounts, sessions, tokens, API keys and
	// signing keys.
	TargetAccounts = "accounts"
	// TargetAll is every component in one process, the default.
	TargetAll = "all"
)

// Target describes a component for "basalt targets".
type Target struct {
	Name   string
	Serves string
	Needs  string
}

// Targets are the components a process can run, in the order they are
// listed and started.
func Targets() []Target {
	return []Target{
		{TargetGateway, "the public API on --addr: REST, gRPC/Connect/gRPC-Web, /v1/auth; authenticates and rate-limits requests and calls the components below (event streams, search, webhooks and the event log's admin routes are passed on to documents as they came)",
			"documents (here, or --documents-url), accounts (here, or --accounts-url); Redis to share rate limits between gateways"},
		{TargetDocuments, "collections, documents and batches; the event log and its relay, realtime streams, search, webhooks",
			"the database (--db; with SQLite, accounts in the same process), accounts (here, or --accounts-url)"},
		{TargetAccounts, "accounts, sessions, access and refresh tokens, API keys, signing keys, the authentication of credentials for the other components",
			"the database (--db; with SQLite, documents in the same process)"},
	}
}

// PrintTargets writes the components and what each needs ("basalt
// targets").
func PrintTargets(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSERVES\tNEEDS")
	for _, t := range Targets() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Serves, t.Needs)
	}
	fmt.Fprintf(tw, "%s\tevery component above in one process (the default)\tthe database\n", TargetAll)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nRun several with --target=documents,accounts; components not run here are reached over gRPC at --documents-url and --accounts-url, with --internal-token.")
	return err
}

// SplitConfig places the components of a split deployment.
type SplitConfig struct {
	// Targets are the components this process runs (TargetGateway, …);
	// every one of them when empty.
	Targets []string
	// DocumentsURL and AccountsURL are where the components this process
	// does not run are (http:// for cleartext HTTP/2 on a private
	// network, https:// for TLS).
	DocumentsURL, AccountsURL string
	// InternalToken proves calls between components.
	InternalToken string
	// InternalCAFile is a PEM file of the CA that signs the components'
	// certificates: the https:// components are checked against it, and
	// a component that serves other components only (no gateway) asks
	// their callers for a certificate it signed (mutual TLS).
	InternalCAFile string
	// InternalCert and InternalKey are the PEM certificate and key this
	// process presents to the components it calls (mutual TLS).
	InternalCert, InternalKey string
}

type splitFlags struct {
	Target         []string `name:"target" help:"Components to run in this process, comma-separated: all, or any of gateway, documents, accounts (basalt targets lists them) ($$BASALT_TARGET)." default:"all" placeholder:"NAME,…"`
	DocumentsURL   string   `name:"documents-url" help:"Where the documents component is, when this process runs the gateway without it: http://host:port (cleartext HTTP/2, for a private network) or https://host:port ($$BASALT_DOCUMENTS_URL)." placeholder:"URL"`
	AccountsURL    string   `name:"accounts-url" help:"Where the accounts component is, when this process runs the gateway or documents without it ($$BASALT_ACCOUNTS_URL)." placeholder:"URL"`
	InternalToken  string   `name:"internal-token" help:"Shared secret (32 or more bytes) that proves calls between the components of a split deployment; prefer the environment variable to the flag ($$BASALT_INTERNAL_TOKEN)." placeholder:"TOKEN"`
	InternalCAFile string   `name:"internal-ca-file" help:"PEM file of the CA of the components' certificates: https:// component URLs are checked against it, and a process without the gateway requires its callers to present a certificate it signed (mutual TLS) ($$BASALT_INTERNAL_CA_FILE)." placeholder:"FILE"`
	InternalCert   string   `name:"internal-cert" help:"PEM file of the client certificate this process presents to the components it calls (mutual TLS) ($$BASALT_INTERNAL_CERT)." placeholder:"FILE"`
	InternalKey    string   `name:"internal-key" help:"PEM file of the key of --internal-cert ($$BASALT_INTERNAL_KEY)." placeholder:"FILE"`
}

func (f splitFlags) apply(cfg *Config) {
	cfg.Split = SplitConfig{Targets: f.Target, DocumentsURL: f.DocumentsURL, AccountsURL: f.AccountsURL, InternalToken: f.InternalToken,
		InternalCAFile: f.InternalCAFile, InternalCert: f.InternalCert, InternalKey: f.InternalKey}
}

// plan is what a process runs: which components are here.
type plan struct {
	gateway, documents, accounts bool
}

// all reports whether every component is here: no other process is
// called.
func (p plan) all() bool { return p.gateway && p.documents && p.accounts }

// database reports whether the process opens the database.
func (p plan) database() bool { return p.documents || p.accounts }

// plan returns the components of s.Targets.
func (s SplitConfig) plan() (plan, error) {
	var p plan
	if len(s.Targets) == 0 {
		return plan{true, true, true}, nil
	}
	for _, t := range s.Targets {
		switch strings.TrimSpace(t) {
		case TargetAll:
			p = plan{true, true, true}
		case TargetGateway:
			p.gateway = true
		case TargetDocuments:
			p.documents = true
		case TargetAccounts:
			p.accounts = true
		default:
			return plan{}, fmt.Errorf("--target: unknown component %q: want all, or any of %s, %s, %s", t, TargetGateway, TargetDocuments, TargetAccounts)
		}
	}
	return p, nil
}

// validate checks that every component this process calls has a URL and
// the calls a token, and that SQLite is not shared between processes.
func (c Config) validateSplit() error {
	s := c.Split
	p, err := s.plan()
	if err != nil {
		return err
	}
	if p.all() {
		if s.DocumentsURL != "" || s.AccountsURL != "" {
			return errors.New("--documents-url and --accounts-url name components in other processes: use them with a --target that leaves those components out")
		}
		return nil
	}
	if c.DB == "" && p.database() && p.documents != p.accounts {
		return errors.New("--target: with the embedded SQLite database, documents and accounts run in one process (one process owns a data directory); use --db postgres://… to run them apart")
	}
	needDocs := p.gateway && !p.documents
	needAccounts := (p.gateway || p.documents) && !p.accounts
	for _, u := range []struct {
		need      bool
		flag, val string
		component string
	}{{needDocs, "--documents-url", s.DocumentsURL, TargetDocuments}, {needAccounts, "--accounts-url", s.AccountsURL, TargetAccounts}} {
		switch {
		case u.need && u.val == "":
			return fmt.Errorf("%s is needed: this process calls the %s component, which it does not run", u.flag, u.component)
		case !u.need && u.val != "":
			return fmt.Errorf("%s: this process does not call the %s component", u.flag, u.component)
		case u.val != "":
			if pu, err := url.Parse(u.val); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || (pu.Path != "" && pu.Path != "/") {
				return fmt.Errorf("%s %q: want http://host:port or https://host:port", u.flag, u.val)
			}
		}
	}
	if len(s.InternalToken) < rpcapi.MinInternalTokenBytes {
		return fmt.Errorf("--internal-token (BASALT_INTERNAL_TOKEN) of at least %d bytes is needed when components run in separate processes", rpcapi.MinInternalTokenBytes)
	}
	if (s.InternalCert == "") != (s.InternalKey == "") {
		return errors.New("--internal-cert and --internal-key go together")
	}
	if s.InternalCAFile != "" && !p.gateway && !c.hasTLS() {
		return errors.New("--internal-ca-file on a process without the gateway asks callers for certificates, which needs TLS: set --tls-cert and --tls-key")
	}
	return nil
}

// hasTLS reports whether the process serves HTTPS.
func (c Config) hasTLS() bool {
	return c.TLSCert != "" || len(c.TLS.Domains) > 0 || c.TLS.SelfSigned
}

// internalClient is the HTTP client of calls to other components: pooled
// HTTP/2, cleartext for http:// URLs, TLS checked against the internal CA
// (or the system's roots) for https:// ones, with this process's
// certificate when it has one, whose end of validity certs is told of.
func (s SplitConfig) internalClient(certs *telemetry.Certificates) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.InternalCAFile != "" {
		pool, err := tlscert.ReadCAFile(s.InternalCAFile)
		if err != nil {
			return nil, fmt.Errorf("--internal-ca-file: %w", err)
		}
		tc.RootCAs = pool
	}
	if s.InternalCert != "" {
		cert, err := tls.LoadX509KeyPair(s.InternalCert, s.InternalKey)
		if err != nil {
			return nil, fmt.Errorf("--internal-cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
		certs.Add("internal-client", func() (time.Time, bool) { return cert.Leaf.NotAfter, cert.Leaf != nil })
	}
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p, TLSClientConfig: tc, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}}, nil
}

// String names the components, as --target does.
func (p plan) String() string {
	if p.all() {
		return TargetAll
	}
	var names []string
	for _, t := range []struct {
		here bool
		name string
	}{{p.gateway, TargetGateway}, {p.documents, TargetDocuments}, {p.accounts, TargetAccounts}} {
		if t.here {
			names = append(names, t.name)
		}
	}
	return strings.Join(names, ",")
}

// componentsOnly serves next to other components only: a request without
// the internal token gets 401, except the probes and metrics (/healthz,
// /readyz, /metrics, gRPC health) and the RPC procedures, which check the
// token themselves and answer in their protocol.
func componentsOnly(next http.Handler, internal *rpcapi.Internal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz" || p == "/readyz" || p == "/metrics",
			strings.HasPrefix(p, "/basalt.") || strings.HasPrefix(p, "/grpc."):
		case !internal.Valid(r.Header.Get(rpcapi.InternalTokenHeader)):
			restapi.WriteStatusProblem(w, r, http.StatusUnauthorized, "this component serves other Basalt components only: call the gateway")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireClientCerts makes a process that serves components only (no
// gateway) ask its callers for a certificate signed by the internal CA
// (mutual TLS), when there is one.
func requireClientCerts(cfg Config, here plan, srv *gateway.Config) error {
	if cfg.Split.InternalCAFile == "" || here.gateway || here.all() {
		return nil
	}
	pool, err := tlscert.ReadCAFile(cfg.Split.InternalCAFile)
	if err != nil {
		return fmt.Errorf("--internal-ca-file: %w", err)
	}
	srv.ClientCAs = pool
	return nil
}
