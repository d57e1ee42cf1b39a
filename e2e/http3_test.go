package e2e

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/tlstest"
)

// TestWalkthroughOverHTTP3 makes the README's walk-through with an HTTP/3
// client (quic-go) against a server with TLS: every answer comes over
// QUIC, and the answers over TCP advertise HTTP/3 with Alt-Svc.
func TestWalkthroughOverHTTP3(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
		ca := tlstest.NewCA(t)
		ca.Issue(t, 1, certFile, keyFile)
		c, _, logs := serveApp(t, engine, true, func(cfg *app.Config) { cfg.TLSCert, cfg.TLSKey = certFile, keyFile })
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("server logs:\n%s", logs.String())
			}
		})
		base := strings.Replace(c.base, "http://", "https://", 1)

		tcp := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: true}
		t.Cleanup(tcp.CloseIdleConnections)
		overTCP := &client{t: t, base: base, http: &http.Client{Transport: tcp, Timeout: 10 * time.Second}}
		r := overTCP.must(200, "GET", "/healthz", "")
		_, port, _ := strings.Cut(strings.TrimPrefix(base, "https://"), ":")
		if got, want := r.Header.Get("Alt-Svc"), `h3=":`+port+`"; ma=86400`; got != want {
			t.Errorf("Alt-Svc over TCP = %q, want %q", got, want)
		}

		h3 := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}
		t.Cleanup(func() { _ = h3.Close() })
		counted := &protoCounter{rt: h3}
		overQUIC := &client{t: t, base: base, http: &http.Client{Transport: counted, Timeout: 10 * time.Second}}
		overQUIC = overQUIC.as(overQUIC.login(adminEmail, adminPassword).AccessToken)
		walkthroughSteps(t, overQUIC, engine)
		if n, other := counted.h3.Load(), counted.other.Load(); n < 15 || other != 0 {
			t.Errorf("%d answers over HTTP/3 and %d over anything else", n, other)
		}
	})
}

// protoCounter counts the answers of rt by protocol.
type protoCounter struct {
	rt        http.RoundTripper
	h3, other atomic.Int64
}

func (p *protoCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := p.rt.RoundTrip(r)
	if err == nil {
		if res.ProtoMajor == 3 {
			p.h3.Add(1)
		} else {
			p.other.Add(1)
		}
	}
	return res, err
}
