package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/quic-go/quic-go/http3"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"google.golang.org/protobuf/proto"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/internal/tlscert"
)

// ScenarioTransports measures a get by id through each transport of one
// Basalt with TLS: REST over HTTP/2, the Connect protocol (binary
// protobuf) over HTTP/2 as a POST and as a GET, and REST over HTTP/3. The variants are the
// transports of one process, measured one after another in rotating
// rounds, so they see the same server and the same machine.
const ScenarioTransports = "transports"

// The variants of ScenarioTransports; the first is the one the others are
// compared with.
const (
	VariantRESTHTTP2       = "rest-h2"
	VariantConnectHTTP2    = "connect-h2"
	VariantConnectGetHTTP2 = "connect-get-h2"
	VariantRESTHTTP3       = "rest-h3"
)

// TransportVariants are the variants of ScenarioTransports. Their Args
// are empty: they share one process.
func TransportVariants() []Variant {
	return []Variant{
		{VariantRESTHTTP2, nil, "REST GET over HTTP/2 (TLS)"},
		{VariantConnectHTTP2, nil, "GetDocument in the Connect protocol, binary protobuf, over HTTP/2 (TLS): a POST"},
		{VariantConnectGetHTTP2, nil, "the same as a GET, as Basalt's Go client sends a read that changes nothing"},
		{VariantRESTHTTP3, nil, "REST GET over HTTP/3 (QUIC)"},
	}
}

// runTransports runs ScenarioTransports: one Basalt serving HTTPS and
// HTTP/3 with a self-signed certificate, seeded like the comparison
// scenarios; a client per transport; the rate search of each, then the
// full-speed rounds.
func runTransports(ctx context.Context, cfg Config, budget *Budget, fx compareFixture, logf func(string, ...any)) ScenarioReport {
	name := ScenarioTransports
	cc := cfg.Compare
	cr := &CompareReport{Engine: cfg.DB, Docs: cc.Docs, Variants: TransportVariants(), MinConnectRatio: cc.MinConnectRatio}
	sr := ScenarioReport{Name: name, Compare: cr}
	certFile, keyFile, _, err := tlscert.SelfSigned(filepath.Join(fx.dir, "tls-"+name), time.Now())
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	storageArgs, err := fx.storage("data-"+name, cfg.DB)
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	spec := fx.basaltSpec(storageArgs, []string{"--tls-cert=" + certFile, "--tls-key=" + keyFile, "--http3=true"})
	spec.ReadyPath = "" // readiness over HTTPS is checked by the set-up below
	err = withServer(ctx, spec, filepath.Join(fx.dir, "basalt-"+name+".log"), logf, func(p *Process) error {
		return measureTransports(ctx, cfg, budget, cr, "https://"+p.Addr, storageArgs, roots, logf)
	})
	if err != nil {
		sr.Err = err.Error()
	}
	return sr
}

// transportClients are the HTTP clients of the variants, trusting roots.
func transportClients(cfg Config, roots *x509.CertPool) []*http.Client {
	conf := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	h2 := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: int(cfg.Attack.MaxWorkers) + 16,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	h3 := &http3.Transport{TLSClientConfig: conf, DisableCompression: true}
	h2c := &http.Client{Transport: h2, Timeout: cfg.Attack.Timeout}
	return []*http.Client{h2c, h2c, h2c, {Transport: h3, Timeout: cfg.Attack.Timeout}}
}

// measureTransports sets up and seeds the Basalt at base, then measures
// the variants into cr.
func measureTransports(ctx context.Context, cfg Config, budget *Budget, cr *CompareReport, base string, storageArgs []string, roots *x509.CertPool,
	logf func(string, ...any)) error {
	name := ScenarioTransports
	clients := transportClients(cfg, roots)
	defer func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
		if h3, ok := clients[len(clients)-1].Transport.(*http3.Transport); ok {
			_ = h3.Close()
		}
	}()
	setup := Client{BaseURL: base, HTTP: &http.Client{Transport: clients[0].Transport, Timeout: time.Minute}}
	if err := waitHTTPS(ctx, setup.HTTP, base+"/readyz", time.Minute); err != nil {
		return err
	}
	admin, err := setUpCompare(ctx, cfg, setup, storageArgs)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var rep Report
	ids, err := seed(ctx, cfg, setup, admin, Collection, cr.Docs, "", &rep, func(format string, args ...any) { logf(name+" "+format, args...) })
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	rest, err := GetTargeter(base, Collection, "", ids)
	if err != nil {
		return err
	}
	connect, err := ConnectGetTargeter(base, Collection, ids, false)
	if err != nil {
		return err
	}
	connectGet, err := ConnectGetTargeter(base, Collection, ids, true)
	if err != nil {
		return err
	}
	targeters := []map[string]vegeta.Targeter{{CompareGet: rest}, {CompareGet: connect}, {CompareGet: connectGet}, {CompareGet: rest}}
	// Warm every transport: one read of each document through each.
	atks := make([]*Attacker, len(clients))
	for v := range clients {
		atks[v] = NewAttackerWith(cfg.Attack, clients[v])
		s, err := atks[v].Saturate(ctx, targeters[v][CompareGet], 16, 2*time.Second)
		if err != nil {
			return err
		}
		if s.Errors > 0 {
			return fmt.Errorf("%s: warming %s: %d of %d requests failed (%v, %v)", name, cr.Variants[v].Name, s.Errors, s.Requests, s.StatusCodes, s.ErrorSamples)
		}
		logf("%s: %s warmed with %d reads", name, cr.Variants[v].Name, s.Requests)
	}
	parts := len(clients)
	for v := range clients {
		share := budget.Split(parts)
		parts--
		s := runScenarioWith(ctx, cfg, cfg.Search, share, name+" get "+cr.Variants[v].Name, targeters[v][CompareGet], clients[v], logf)
		budget.Return(share)
		cr.Lines = append(cr.Lines, CompareLine{Request: CompareGet, Variant: cr.Variants[v].Name, Search: s.Search, Err: s.Err})
		if ctx.Err() != nil {
			return fmt.Errorf("load: %s: %w", name, ctx.Err())
		}
	}
	runCompareRounds(ctx, cfg, budget, name, cr, targeters, clients, 0, logf)
	return nil
}

// ConnectGetTargeter calls basalt.v1.DocumentService/GetDocument in the
// Connect protocol with a binary protobuf message, for a document of ids
// in collection drawn uniformly, anonymously: as a POST, or, with get, as
// a GET with the message in the URL (the protocol's form for a call that
// changes nothing).
func ConnectGetTargeter(baseURL, collection string, ids []string, get bool) (vegeta.Targeter, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("load: targeter has no documents")
	}
	url := baseURL + "/basalt.v1.DocumentService/GetDocument"
	bodies, urls := make([][]byte, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		b, err := proto.Marshal(&basaltv1.GetDocumentRequest{Collection: collection, Id: id})
		if err != nil {
			return nil, err
		}
		bodies[i] = b
		urls[i] = url + "?connect=v1&encoding=proto&base64=1&message=" + base64.RawURLEncoding.EncodeToString(b)
	}
	if get {
		return func(t *vegeta.Target) error {
			t.Method, t.URL, t.Header, t.Body = http.MethodGet, urls[rand.IntN(len(urls))], nil, nil
			return nil
		}, nil
	}
	h := http.Header{"Content-Type": {"application/proto"}, "Connect-Protocol-Version": {"1"}}
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header, t.Body = http.MethodPost, url, h, bodies[rand.IntN(len(bodies))]
		return nil
	}, nil
}

// waitHTTPS polls url with client until it answers 200 or timeout passes.
func waitHTTPS(ctx context.Context, client *http.Client, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		switch {
		case err != nil:
			last = err
		case res.StatusCode == http.StatusOK:
			_ = res.Body.Close()
			return nil
		default:
			_ = res.Body.Close()
			last = fmt.Errorf("status %d", res.StatusCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("load: %s not ready (last: %w): %w", url, last, ctx.Err())
		case <-tick.C:
		}
	}
}
