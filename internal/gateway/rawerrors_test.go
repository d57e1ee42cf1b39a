package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/tlstest"
)

// TestMiddlewareLimitsHeaders: a request line and header block over the
// middleware's limit is a 431 problem, before any handler runs.
func TestMiddlewareLimitsHeaders(t *testing.T) {
	m, _ := newTestMiddleware(t)
	reached := 0
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"long URL", func() *http.Request {
			return httptest.NewRequest("GET", "/"+strings.Repeat("a", DefaultMaxHeaderBytes), nil)
		}, 431},
		{"long header", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-Big", strings.Repeat("a", DefaultMaxHeaderBytes))
			return r
		}, 431},
		{"many headers", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			for i := range 2000 {
				r.Header.Add("X-Many", strings.Repeat("b", 30+i%3))
			}
			return r
		}, 431},
		{"long Host", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = strings.Repeat("h", DefaultMaxHeaderBytes)
			return r
		}, 431},
		{"just below", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-Big", strings.Repeat("a", DefaultMaxHeaderBytes-200))
			return r
		}, 200},
	} {
		reached = 0
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, tc.req())
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.status)
		}
		if tc.status == 431 {
			if reached != 0 || rec.Header().Get("Content-Type") != "application/problem+json" || rec.Header().Get("Connection") != "close" {
				t.Errorf("%s: handler reached %d times, headers %v", tc.name, reached, rec.Header())
			}
		}
	}
}

// startRawServer runs a Server with the real middleware and problem
// writer and a handler that answers 204, and returns its address. With
// certFile and keyFile it serves TLS; the handler then names the TLS
// version of the request in X-Test-TLS.
func startRawServer(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	m, err := NewMiddleware(MiddlewareOptions{
		Registerer: prometheus.NewRegistry(), Buckets: []float64{1},
		Fallbacks: []string{"/"}, Problem: restapi.WriteStatusProblem,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("X-Test-TLS", tls.VersionName(r.TLS.Version))
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	s := NewServer(Config{Addr: "127.0.0.1:0", DrainTimeout: time.Second, TLSCert: certFile, TLSKey: keyFile},
		h, slog.New(slog.DiscardHandler))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return addr.String()
}

// rawExchange sends raw bytes on a new connection and reads one answer.
func rawExchange(t *testing.T, addr, raw string) (answer, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return exchangeOn(t, conn, raw)
}

// exchangeOn sends raw bytes on conn and reads one answer.
func exchangeOn(t *testing.T, conn net.Conn, raw string) (answer, []byte) {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// Write concurrently: the server may answer, and stop reading, before
	// a huge request is written.
	go func() { _, _ = io.WriteString(conn, raw) }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%.40q: reading the answer: %v", raw, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%.40q: reading the body: %v", raw, err)
	}
	return answerOf(res), body
}

// malformedRequest is a request Go's HTTP server refuses by itself, and
// the problem Basalt answers instead.
type malformedRequest struct {
	name, raw string
	status    int
	code      string
}

func malformedRequests() []malformedRequest {
	huge := strings.Repeat("a", 4*DefaultMaxHeaderBytes+8<<10) // beyond the HTTP server's own limit
	big := strings.Repeat("a", DefaultMaxHeaderBytes+1<<10)    // beyond the middleware's
	return []malformedRequest{
		// (Requests of 14 bytes at least: a shorter one could still become
		// the h2c preface, and the server waits for more.)
		{"garbage request line", "GARBAGE GARBAGE GARBAGE\r\n\r\n", 400, "invalid"},
		{"binary", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\r\n\r\n", 400, "invalid"},
		{"no version", "GET /a/path/that/is/long\r\n\r\n", 400, "invalid"},
		{"bad header line", "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400, "invalid"},
		{"bad header name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400, "invalid"},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, "invalid"},
		{"two Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, "invalid"},
		{"HTTP/9.9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505, "invalid"},
		{"bad Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "invalid"},
		{"huge URL", "GET /" + huge + " HTTP/1.1\r\nHost: x\r\n\r\n", 431, "payload_too_large"},
		{"huge header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + huge + "\r\n\r\n", 431, "payload_too_large"},
		{"big URL", "GET /" + big + " HTTP/1.1\r\nHost: x\r\n\r\n", 431, "payload_too_large"},
		{"big header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431, "payload_too_large"},
	}
}

// checkProblem checks the answer to tc: a problem with tc's status and
// code that closes the connection.
func checkProblem(t *testing.T, tc malformedRequest, res answer, body []byte) {
	t.Helper()
	if res.StatusCode != tc.status {
		t.Errorf("status %d, want %d; %s", res.StatusCode, tc.status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != restapi.ProblemContentType {
		t.Errorf("Content-Type %q; body %q", ct, body)
	}
	if !res.Close {
		t.Errorf("the answer keeps the connection open: %v", res.Header)
	}
	var p restapi.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if p.Status != tc.status || p.Code != tc.code || p.Type != "urn:basalt:problem:"+tc.code || p.Title == "" || p.Detail == "" {
		t.Errorf("problem %+v", p)
	}
}

// checkKeepAliveThenBroken sends well-formed requests on conn, kept alive,
// then a broken one, whose answer must be a problem too. It returns the
// X-Test-TLS header of the last good answer.
func checkKeepAliveThenBroken(t *testing.T, conn net.Conn) string {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	var tlsVersion string
	for range 3 {
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNoContent || res.Close {
			t.Fatalf("status %d, close %v", res.StatusCode, res.Close)
		}
		tlsVersion = res.Header.Get("X-Test-TLS")
	}
	if _, err := io.WriteString(conn, "BROKEN REQUEST LINE\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != restapi.ProblemContentType {
		t.Fatalf("status %d, headers %v", res.StatusCode, res.Header)
	}
	return tlsVersion
}

// TestServerErrorsAreProblems sends malformed requests over raw TCP: what
// Go's HTTP server answers by itself, before any handler, is answered as
// problem+json with the same status, and the connection is closed.
func TestServerErrorsAreProblems(t *testing.T) {
	addr := startRawServer(t, "", "")
	for _, tc := range malformedRequests() {
		t.Run(tc.name, func(t *testing.T) {
			res, body := rawExchange(t, addr, tc.raw)
			checkProblem(t, tc, res, body)
		})
	}

	// A well-formed request on the same server still works, on a
	// connection kept alive over several requests, and an error after
	// good requests on a kept-alive connection is a problem too.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if v := checkKeepAliveThenBroken(t, conn); v != "" {
		t.Errorf("a plain HTTP request has TLS %s", v)
	}
}

// TestServerErrorsAreProblemsOverTLS: with TLS, what Go's HTTP server
// answers by itself to a malformed HTTP/1.1 request inside the encrypted
// connection is a problem too, whether the client chose HTTP/1.1 by ALPN
// or chose nothing.
func TestServerErrorsAreProblemsOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := dir+"/tls.crt", dir+"/tls.key"
	ca := tlstest.NewCA(t)
	ca.Issue(t, 1, certFile, keyFile)
	addr := startRawServer(t, certFile, keyFile)
	dial := func(t *testing.T, alpn []string) *tls.Conn {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, NextProtos: alpn})
		if err != nil {
			t.Fatal(err)
		}
		if got := conn.ConnectionState().NegotiatedProtocol; got != strings.Join(alpn, "") {
			t.Fatalf("ALPN chose %q for %q", got, alpn)
		}
		return conn
	}
	for _, alpn := range [][]string{{"http/1.1"}, nil} {
		t.Run("alpn="+strings.Join(alpn, ""), func(t *testing.T) {
			for _, tc := range malformedRequests() {
				t.Run(tc.name, func(t *testing.T) {
					conn := dial(t, alpn)
					defer conn.Close()
					res, body := exchangeOn(t, conn, tc.raw)
					checkProblem(t, tc, res, body)
				})
			}
			conn := dial(t, alpn)
			defer conn.Close()
			if v := checkKeepAliveThenBroken(t, conn); v != "TLS 1.3" {
				t.Errorf("the handler saw TLS %q, want TLS 1.3", v)
			}
		})
	}
}

// TestRewriteCanned: an ordinary answer that merely starts like one of
// net/http's fixed ones is left alone.
func TestRewriteCanned(t *testing.T) {
	for _, b := range []string{
		"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Fri, 04 Dec 2026 18:00:00 GMT\r\n\r\nhello",
		"HTTP/1.1 200 OK" + cannedHeaders + "fine",
		"HTTP/1.1 400 Bad Request" + cannedHeaders + "two\r\nlines",
	} {
		if got := rewriteCanned([]byte(b)); got != nil {
			t.Errorf("%q rewritten to %q", b, got)
		}
	}
}

// TestPlainHTTPToTheTLSPortIsAProblem: plain HTTP sent to the TLS port is
// answered with a problem too.
func TestPlainHTTPToTheTLSPortIsAProblem(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := dir+"/tls.crt", dir+"/tls.key"
	tlstest.NewCA(t).Issue(t, 1, certFile, keyFile)
	s := NewServer(Config{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile},
		http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for _, method := range []string{"GET", "POST", "PATCH", "DELETE"} {
		res, body := rawExchange(t, addr.String(), method+" / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != restapi.ProblemContentType ||
			!strings.Contains(string(body), "HTTPS") {
			t.Errorf("%s: %d %v %s", method, res.StatusCode, res.Header, body)
		}
	}
}
