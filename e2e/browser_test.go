package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/tlstest"
)

// browserOrigin is the origin of the browser app of TestBrowserApp.
const browserOrigin = "https://app.example.com"

// TestBrowserApp is a browser app on another origin using Basalt over
// HTTPS: preflights (login, writes, unknown routes), HTTP/2, compressed
// answers whose entity tags still work for If-None-Match and If-Match,
// and a certificate replaced while the server runs.
func TestBrowserApp(t *testing.T) { forEachEngine(t, browserApp) }

func browserApp(t *testing.T, engine string) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.Issue(t, 10, certFile, keyFile)
	reload := make(chan os.Signal, 1)
	b := serveBrowserApp(t, engine, ca.Pool, func(cfg *app.Config) {
		cfg.TLSCert, cfg.TLSKey, cfg.Reload = certFile, keyFile, reload
		cfg.CORSOrigins = []string{browserOrigin, "http://localhost:5173"}
	})

	// Logging in: the preflight needs no token, then the login itself.
	b.preflight("/v1/auth/login", "POST", "content-type")
	res, body := b.fetch("POST", "/v1/auth/login", credentials(t, adminEmail, adminPassword), "")
	if res.StatusCode != 200 {
		t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	token := decodeTokens(t, response{Status: res.StatusCode, Header: res.Header, Body: body}).AccessToken
	if res.ProtoMajor != 2 {
		t.Errorf("served over %s, want HTTP/2", res.Proto)
	}

	b.preflight("/v1/collections", "POST", "authorization,content-type")
	if res, body := b.fetch("POST", "/v1/collections", postsCollection, token); res.StatusCode != 201 {
		t.Fatalf("create collection: %d %s", res.StatusCode, body)
	}
	long := `{"title":"` + strings.Repeat("basalt ", 400) + `","score":1}`
	res, body = b.fetch("POST", "/v1/collections/posts/documents?id=big", long, token)
	if res.StatusCode != 201 {
		t.Fatalf("create document: %d %s", res.StatusCode, body)
	}

	// A large read is compressed (zstd: the browser lists it); its
	// entity tag names the coding; the app can read it.
	res, body = b.fetch("GET", "/v1/collections/posts/documents/big", "", token)
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "zstd" || res.Header.Get("ETag") != `"1-zstd"` {
		t.Fatalf("GET: %d, Content-Encoding %q, ETag %q", res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("ETag"))
	}
	var doc struct {
		Version int             `json:"version"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Version != 1 || !strings.Contains(string(doc.Data), "basalt basalt") {
		t.Fatalf("decoded document: %v %.80s", err, body)
	}

	// Revalidation with the compressed copy's tag: 304 with that tag.
	b.preflight("/v1/collections/posts/documents/big", "GET", "authorization,if-none-match")
	res, _ = b.fetch("GET", "/v1/collections/posts/documents/big", "", token, "If-None-Match", `"1-zstd"`)
	if res.StatusCode != 304 || res.Header.Get("ETag") != `"1-zstd"` {
		t.Fatalf("revalidation: %d, ETag %q; want 304 and \"1-zstd\"", res.StatusCode, res.Header.Get("ETag"))
	}

	// A conditional write with the tag the app was given.
	b.preflight("/v1/collections/posts/documents/big", "PATCH", "authorization,content-type,idempotency-key,if-match")
	res, body = b.fetch("PATCH", "/v1/collections/posts/documents/big", `{"score":2}`, token,
		"Content-Type", "application/merge-patch+json", "If-Match", `"1-zstd"`, "Idempotency-Key", "patch-1")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("ETag"), `"2`) {
		t.Fatalf("conditional PATCH: %d, ETag %q %s", res.StatusCode, res.Header.Get("ETag"), body)
	}
	res, _ = b.fetch("PATCH", "/v1/collections/posts/documents/big", `{"score":3}`, token,
		"Content-Type", "application/merge-patch+json", "If-Match", `"1-zstd"`)
	if res.StatusCode != 412 {
		t.Fatalf("stale If-Match: %d, want 412", res.StatusCode)
	}

	// Unknown routes: the preflight succeeds, the request gets its
	// problem, readable by the app.
	b.preflight("/v1/no/such/route", "DELETE", "authorization")
	res, body = b.fetch("DELETE", "/v1/no/such/route", "", token)
	if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(body), "not_found") {
		t.Fatalf("unknown route: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	// Another origin's preflight gets no permission.
	req := b.request("OPTIONS", "/v1/collections/posts/documents/big", "", "")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "DELETE")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	res, _ = b.do(req)
	if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Fatalf("a preflight from another origin got Access-Control-Allow-Origin %q", v)
	}

	// A new certificate, a reload: new connections get it.
	ca.Issue(t, 20, certFile, keyFile)
	reload <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.http.CloseIdleConnections()
		res, _ := b.do(b.request("GET", "/healthz", "", ""))
		if res.TLS.PeerCertificates[0].SerialNumber.Int64() == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new certificate is not served 10 s after the reload")
		}
		<-time.After(10 * time.Millisecond) // the polling interval
	}
}

// browser sends requests as a browser app on browserOrigin does.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
}

// serveBrowserApp runs app.Run with serveApp, with the admin account, and
// returns a browser for it that trusts pool (configure sets up TLS).
func serveBrowserApp(t *testing.T, engine string, pool *x509.CertPool, configure func(*app.Config)) *browser {
	t.Helper()
	c, _, _ := serveApp(t, engine, true, configure)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, base: c.base, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// request is a request of the browser app (see newRequest for the rest).
func (b *browser) request(method, path, body, token string, headers ...string) *http.Request {
	b.t.Helper()
	browserHeaders := []string{"Accept", "*/*", "Accept-Encoding", "gzip, deflate, br, zstd",
		"Sec-Fetch-Mode", "cors", "Sec-Fetch-Site", "cross-site"}
	req, err := newRequest(b.t.Context(), method, b.base+path, body, token, append(browserHeaders, headers...)...)
	if err != nil {
		b.t.Fatal(err)
	}
	return req
}

// reply is what the scenario reads of an answer (whose body do has read
// and closed).
type reply struct {
	StatusCode int
	Proto      string
	ProtoMajor int
	Header     http.Header
	TLS        *tls.ConnectionState
}

// do sends req and returns the answer with its body decoded.
func (b *browser) do(req *http.Request) (reply, []byte) {
	b.t.Helper()
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	var rd io.Reader = res.Body
	switch res.Header.Get("Content-Encoding") {
	case "zstd":
		zr, err := zstd.NewReader(res.Body)
		if err != nil {
			b.t.Fatal(err)
		}
		defer zr.Close()
		rd = zr
	case "":
	default:
		b.t.Fatalf("unexpected Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		b.t.Fatal(err)
	}
	return reply{StatusCode: res.StatusCode, Proto: res.Proto, ProtoMajor: res.ProtoMajor, Header: res.Header, TLS: res.TLS}, body
}

// preflight sends the preflight a browser sends before a cross-origin
// request with method and the non-safelisted headers (lower case, sorted,
// comma-separated), and checks the permission.
func (b *browser) preflight(path, method, headers string) {
	b.t.Helper()
	req := b.request("OPTIONS", path, "", "")
	req.Header.Set("Origin", browserOrigin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", headers)
	req.Header.Set("Sec-Fetch-Dest", "empty")
	res, body := b.do(req)
	h := res.Header
	if res.StatusCode != 204 || len(body) != 0 || h.Get("Access-Control-Allow-Origin") != browserOrigin ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), method) || h.Get("Access-Control-Max-Age") == "" {
		b.t.Fatalf("preflight %s %s: %d %v %s", method, path, res.StatusCode, h, body)
	}
	allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
	for name := range strings.SplitSeq(headers, ",") {
		if !strings.Contains(allowed, name) {
			b.t.Fatalf("preflight %s %s: Access-Control-Allow-Headers %q lacks %s", method, path, allowed, name)
		}
	}
}

// fetch sends a cross-origin request from browserOrigin with token (if
// any) and the header pairs, and checks that the app may read the answer
// and its headers.
func (b *browser) fetch(method, path, body, token string, headers ...string) (reply, []byte) {
	b.t.Helper()
	req := b.request(method, path, body, token, append([]string{"Origin", browserOrigin}, headers...)...)
	res, data := b.do(req)
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != browserOrigin {
		b.t.Fatalf("%s %s: Access-Control-Allow-Origin %q", method, path, got)
	}
	var exposed []string
	for f := range strings.SplitSeq(res.Header.Get("Access-Control-Expose-Headers"), ",") {
		exposed = append(exposed, strings.ToLower(strings.TrimSpace(f)))
	}
	for _, want := range []string{"etag", "location", "retry-after", "x-request-id"} {
		if !slices.Contains(exposed, want) {
			b.t.Fatalf("%s %s: Access-Control-Expose-Headers %q lacks %s", method, path, res.Header.Get("Access-Control-Expose-Headers"), want)
		}
	}
	vary := strings.ToLower(strings.Join(res.Header.Values("Vary"), ","))
	if !strings.Contains(vary, "origin") || !strings.Contains(vary, "accept-encoding") {
		b.t.Fatalf("%s %s: Vary %q", method, path, vary)
	}
	return res, data
}
