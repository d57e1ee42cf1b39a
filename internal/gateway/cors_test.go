package gateway

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestParseCORSOrigins(t *testing.T) {
	good := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{"https://app.example.com"}, []string{"https://app.example.com"}},
		{[]string{" https://app.example.com ", "http://localhost:5173"}, []string{"https://app.example.com", "http://localhost:5173"}},
		{[]string{"http://127.0.0.1:3000", "http://[::1]:3000", "https://xn--bcher-kva.example"}, []string{"http://127.0.0.1:3000", "http://[::1]:3000", "https://xn--bcher-kva.example"}},
		{[]string{"*"}, []string{"*"}},
	}
	for _, c := range good {
		got, err := ParseCORSOrigins(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseCORSOrigins(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := []struct {
		in   []string
		want string // part of the error
	}{
		{[]string{"*", "https://app.example.com"}, "cannot be combined"},
		{[]string{"https://app.example.com/"}, `drop the trailing "/"`},
		{[]string{"https://app.example.com/app"}, "no path"},
		{[]string{"app.example.com"}, "scheme://host"},
		{[]string{"ftp://app.example.com"}, "http or https"},
		{[]string{"https://*.example.com"}, "wildcards"},
		{[]string{"null"}, "sandboxed"},
		{[]string{"https://App.Example.com"}, "lower case"},
		{[]string{"https://app.example.com:443"}, "drop :443"},
		{[]string{"http://app.example.com:80"}, "drop :80"},
		{[]string{"https://app.example.com:99999"}, "port"},
		{[]string{"https://app.example.com:"}, "port"},
		{[]string{"https://user@app.example.com"}, "without user"},
		{[]string{"https://app.example.com?x=1"}, "without user, query"},
		{[]string{"https://bücher.example"}, "punycode"},
		{[]string{"https://"}, "scheme://host"},
	}
	for _, c := range bad {
		_, err := ParseCORSOrigins(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--cors-origins") {
			t.Errorf("ParseCORSOrigins(%q) error = %v, want one naming --cors-origins and mentioning %q", c.in, err, c.want)
		}
	}
}

// basaltLikeMux has the shapes of Basalt's routes that matter to CORS: a
// route that needs a bearer token (401 problem without one), an auth route
// and a problem+json 404 for everything else. It counts the requests that
// reach it.
func basaltLikeMux(reached *atomic.Int64) http.Handler {
	mux := http.NewServeMux()
	problem := func(w http.ResponseWriter, status int, code string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"status":`+strconv.Itoa(status)+`,"code":"`+code+`"}`)
	}
	doc := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="basalt"`)
			problem(w, http.StatusUnauthorized, "unauthenticated")
			return
		}
		w.Header().Set("ETag", `"3"`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"0193","version":3,"data":{}}`)
	}
	mux.HandleFunc("GET /v1/collections/{c}/documents/{id}", doc)
	mux.HandleFunc("PUT /v1/collections/{c}/documents/{id}", doc)
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accessToken":"t"}`)
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem(w, http.StatusNotFound, "not_found")
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		mux.ServeHTTP(w, r)
	})
}

// browserPreflight is the preflight Chromium sends before a cross-origin
// fetch(url, {method, headers}) whose headers are not CORS-safelisted:
// Access-Control-Request-Headers lists their names in lower case, sorted,
// comma-separated without spaces; there is no Authorization, no body.
func browserPreflight(path, origin, method, headers string) string {
	return "OPTIONS " + path + " HTTP/1.1\r\n" +
		"Host: api.example.com\r\n" +
		"Connection: keep-alive\r\n" +
		"Accept: */*\r\n" +
		"Access-Control-Request-Method: " + method + "\r\n" +
		"Access-Control-Request-Headers: " + headers + "\r\n" +
		"Origin: " + origin + "\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36\r\n" +
		"Sec-Fetch-Mode: cors\r\n" +
		"Sec-Fetch-Site: cross-site\r\n" +
		"Sec-Fetch-Dest: empty\r\n" +
		"Referer: " + origin + "/\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"\r\n"
}

// rawRoundTrip sends the request text as is over a new connection to
// srv and reads the answer.
// answer is what the tests read of a response whose body has been read and
// closed.
type answer struct {
	StatusCode int
	Proto      string
	ProtoMajor int
	Header     http.Header
	Close      bool
	TLS        *tls.ConnectionState
}

// answerOf returns what the tests read of res, whose body the caller
// closes.
func answerOf(res *http.Response) answer {
	return answer{StatusCode: res.StatusCode, Proto: res.Proto, ProtoMajor: res.ProtoMajor,
		Header: res.Header, Close: res.Close, TLS: res.TLS}
}

func rawRoundTrip(t *testing.T, srv *httptest.Server, request string) (answer, string) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: strings.Fields(request)[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answerOf(res), string(b)
}

func newChainServer(t *testing.T, cfg HandlerConfig) (*httptest.Server, *atomic.Int64, *prometheus.Registry) {
	t.Helper()
	m, reg := newTestMiddleware(t)
	reached := new(atomic.Int64)
	h, err := NewHandler(m, basaltLikeMux(reached), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, reached, reg
}

// countRequests sums basalt_http_requests_total over the series with
// status code.
func countRequests(t *testing.T, reg *prometheus.Registry, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "basalt_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() == code {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

func varyLists(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

func TestCORSPreflightAsBrowsersSendIt(t *testing.T) {
	const app = "https://app.example.com"
	srv, reached, reg := newChainServer(t, HandlerConfig{CORSOrigins: []string{app, "http://localhost:5173"}, CompressMinBytes: DefaultCompressMinBytes})

	allowed := []struct {
		name, path, method, headers string
	}{
		{"conditional write", "/v1/collections/posts/documents/0193", "PUT", "authorization,content-type,idempotency-key,if-match,x-request-id"},
		{"read with revalidation", "/v1/collections/posts/documents/0193", "GET", "authorization,if-none-match"},
		{"login needs no token", "/v1/auth/login", "POST", "content-type"},
		{"realtime resume", "/v1/collections/posts/events", "GET", "authorization,last-event-id"},
		{"unknown path", "/v1/no/such/route", "DELETE", "authorization"},
		{"patch", "/v1/collections/posts", "PATCH", "authorization,content-type,if-match"},
	}
	for _, c := range allowed {
		t.Run(c.name, func(t *testing.T) {
			before := reached.Load()
			res, body := rawRoundTrip(t, srv, browserPreflight(c.path, app, c.method, c.headers))
			h := res.Header
			if res.StatusCode != http.StatusNoContent || body != "" {
				t.Fatalf("status %d, body %q; want 204 and no body", res.StatusCode, body)
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != app {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, app)
			}
			if got := h.Get("Access-Control-Allow-Methods"); !strings.Contains(got, c.method) {
				t.Errorf("Access-Control-Allow-Methods = %q, want it to allow %s", got, c.method)
			}
			for name := range strings.SplitSeq(c.headers, ",") {
				if got := strings.ToLower(h.Get("Access-Control-Allow-Headers")); !strings.Contains(got, name) {
					t.Errorf("Access-Control-Allow-Headers = %q, want it to allow %s", got, name)
				}
			}
			if got := h.Get("Access-Control-Max-Age"); got != "7200" {
				t.Errorf("Access-Control-Max-Age = %q, want 7200", got)
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed; Basalt's bearer tokens need none")
			}
			for _, v := range []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"} {
				if !varyLists(h, v) {
					t.Errorf("Vary = %q lacks %s", h.Values("Vary"), v)
				}
			}
			if h.Get(RequestIDHeader) == "" {
				t.Error("a preflight has no request id")
			}
			if n := reached.Load() - before; n != 0 {
				t.Errorf("the preflight reached the routes (%d times): it must be answered before them", n)
			}
		})
	}

	refused := []struct {
		name, origin, method, headers string
	}{
		{"origin not listed", "https://evil.example", "PUT", "authorization,content-type"},
		{"origin differs in scheme", "http://app.example.com", "PUT", "authorization"},
		{"origin differs in port", "https://app.example.com:8443", "GET", "authorization"},
		{"method not allowed", app, "PROPFIND", "authorization"},
		{"header not allowed", app, "PUT", "authorization,x-api-secret"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			res, _ := rawRoundTrip(t, srv, browserPreflight("/v1/collections/posts/documents/0193", c.origin, c.method, c.headers))
			for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"} {
				if v := res.Header.Get(name); v != "" {
					t.Errorf("refused preflight carries %s: %q", name, v)
				}
			}
			if !varyLists(res.Header, "Origin") {
				t.Errorf("Vary = %q lacks Origin", res.Header.Values("Vary"))
			}
		})
	}

	// Preflights are counted like every request.
	if got := countRequests(t, reg, "204"); got != float64(len(allowed)+len(refused)) {
		t.Errorf("preflights counted %v times, want %d", got, len(allowed)+len(refused))
	}
}

func TestCORSActualRequests(t *testing.T) {
	const app = "https://app.example.com"
	srv, _, _ := newChainServer(t, HandlerConfig{CORSOrigins: []string{app}, CompressMinBytes: DefaultCompressMinBytes})
	get := func(t *testing.T, path, origin, token string) answer {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Mode", "cors")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return answerOf(res)
	}
	exposed := func(h http.Header) []string {
		var names []string
		for f := range strings.SplitSeq(h.Get("Access-Control-Expose-Headers"), ",") {
			names = append(names, strings.ToLower(strings.TrimSpace(f)))
		}
		return names
	}

	// An allowed origin reads the answer and its headers, errors included
	// (the app must see the problem, Retry-After and the request id).
	for _, c := range []struct {
		name, path, token string
		status            int
	}{
		{"document", "/v1/collections/posts/documents/0193", "tok", 200},
		{"unauthenticated", "/v1/collections/posts/documents/0193", "", 401},
		{"not found", "/v1/nope", "tok", 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := get(t, c.path, app, c.token)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != app {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, app)
			}
			names := exposed(res.Header)
			for _, want := range []string{"etag", "location", "retry-after", "x-request-id", "www-authenticate", "ratelimit", "ratelimit-policy"} {
				if !slices.Contains(names, want) {
					t.Errorf("Access-Control-Expose-Headers = %q lacks %s", res.Header.Get("Access-Control-Expose-Headers"), want)
				}
			}
			if !varyLists(res.Header, "Origin") || !varyLists(res.Header, "Accept-Encoding") {
				t.Errorf("Vary = %q, want Origin and Accept-Encoding", res.Header.Values("Vary"))
			}
			if res.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed")
			}
		})
	}

	// Another origin gets the answer without CORS headers (the browser
	// hides it from the page), and caches know the answer varies.
	res := get(t, "/v1/collections/posts/documents/0193", "https://evil.example", "tok")
	if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("disallowed origin got Access-Control-Allow-Origin %q", v)
	}
	if v := res.Header.Get("Access-Control-Expose-Headers"); v != "" {
		t.Errorf("disallowed origin got Access-Control-Expose-Headers %q", v)
	}
	if !varyLists(res.Header, "Origin") {
		t.Errorf("Vary = %q lacks Origin", res.Header.Values("Vary"))
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	srv, _, _ := newChainServer(t, HandlerConfig{CORSOrigins: []string{"*"}})
	res, _ := rawRoundTrip(t, srv, browserPreflight("/v1/collections/posts/documents/0193", "https://anyone.example", "PUT", "authorization,content-type,if-match"))
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("status %d, Access-Control-Allow-Origin %q; want 204 and *", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	if res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatal(`"*" with credentials`)
	}
}

// Without --cors-origins a preflight is an ordinary request: it reaches
// the routes and gets no CORS headers, so browsers refuse cross-origin
// calls.
func TestNoCORSByDefault(t *testing.T) {
	srv, reached, _ := newChainServer(t, HandlerConfig{CompressMinBytes: DefaultCompressMinBytes})
	res, _ := rawRoundTrip(t, srv, browserPreflight("/v1/collections/posts/documents/0193", "https://app.example.com", "PUT", "authorization"))
	if res.StatusCode == http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "" || res.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("status %d, headers %v: want no CORS answer", res.StatusCode, res.Header)
	}
	if reached.Load() != 1 {
		t.Fatalf("routes reached %d times, want 1", reached.Load())
	}
	if _, err := NewHandler(nil, http.NotFoundHandler(), HandlerConfig{CORSOrigins: []string{"*", "https://a.example"}}); err == nil {
		t.Fatal("NewHandler accepted * with another origin")
	}
}
