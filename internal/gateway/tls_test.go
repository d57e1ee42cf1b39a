package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/tlstest"
)

// lockedBuffer is a log sink safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds or 10 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		<-time.After(5 * time.Millisecond) // the polling interval
	}
}

func TestTLSServesHTTP2AndReloadsTheCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := tlstest.NewCA(t)
	ca.Issue(t, 100, certFile, keyFile)

	logs := &lockedBuffer{}
	reload := make(chan os.Signal, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"proto":"`+r.Proto+`"}`)
	})
	s := NewServer(Config{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile, Reload: reload}, h,
		slog.New(slog.NewTextHandler(logs, nil)))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	first, ok := s.CertificateNotAfter()
	if until := time.Until(first); !ok || until < 50*time.Minute || until > time.Hour {
		t.Fatalf("CertificateNotAfter = %v, %v; want the served certificate's, in an hour", first, ok)
	}
	if !s.TLS() {
		t.Fatal("TLS() = false with a certificate")
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	url := "https://" + addr.String() + "/"

	// get makes a request on a new connection, so each sees the
	// certificate served at that moment.
	get := func(t *testing.T, h2 bool, conf *tls.Config) (answer, error) {
		t.Helper()
		if conf == nil {
			conf = &tls.Config{RootCAs: ca.Pool}
		}
		tr := &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetHTTP1(true)
		}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
		if err != nil {
			return answer{}, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return answerOf(res), nil
	}
	serial := func(t *testing.T) int64 {
		t.Helper()
		res, err := get(t, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.TLS.PeerCertificates[0].SerialNumber.Int64()
	}

	res, err := get(t, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ProtoMajor != 2 || res.TLS.NegotiatedProtocol != "h2" {
		t.Fatalf("protocol %s (ALPN %q), want HTTP/2 negotiated by ALPN", res.Proto, res.TLS.NegotiatedProtocol)
	}
	if res.TLS.Version != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want TLS 1.3 when the client offers it", res.TLS.Version)
	}
	if got := res.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 100 {
		t.Fatalf("served certificate %d, want 100", got)
	}
	if res, err := get(t, false, nil); err != nil || res.ProtoMajor != 1 {
		t.Fatalf("HTTP/1.1 client: %v, %v", res, err)
	}
	if res, err := get(t, true, &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS12}); err != nil || res.TLS.Version != tls.VersionTLS12 {
		t.Fatalf("TLS 1.2 client: %v, %v", res, err)
	}
	cbc := &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}
	if _, err := get(t, false, cbc); err == nil {
		t.Fatal("a TLS 1.2 client offering only CBC-mode cipher suites was served")
	}
	// (HTTP/1.1: HTTP/2 itself refuses TLS below 1.2.)
	if _, err := get(t, false, &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("a TLS 1.1 client was served")
	}
	plain, err := http.Get("http://" + addr.String() + "/")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the TLS port answered %d", plain.StatusCode)
		}
	}

	// New files and a reload: new connections get the new certificate.
	ca.Issue(t, 200, certFile, keyFile)
	reload <- syscall.SIGHUP
	waitFor(t, "the new certificate", func() bool { return serial(t) == 200 })
	if next, ok := s.CertificateNotAfter(); !ok || next.Before(first) {
		t.Errorf("CertificateNotAfter after the reload = %v, %v; want the new certificate's (not before %v)", next, ok, first)
	}
	waitFor(t, "the reload log line", func() bool { return strings.Contains(logs.String(), "TLS certificate reloaded") })
	if !strings.Contains(logs.String(), "ip_addresses=[127.0.0.1]") {
		t.Errorf("the reload log line does not name the certificate's addresses:\n%s", logs)
	}

	// A broken pair is refused and the certificate in use stays.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- syscall.SIGHUP
	waitFor(t, "the failed reload", func() bool { return strings.Contains(logs.String(), "TLS certificate reload failed") })
	if got := serial(t); got != 200 {
		t.Fatalf("after a failed reload the server serves certificate %d, want 200", got)
	}
}

func TestTLSRefusesBadFilesAtStart(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	certFile, keyFile := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	ca.Issue(t, 1, certFile, keyFile)
	otherCert, otherKey := filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key")
	ca.Issue(t, 2, otherCert, otherKey)
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		name, cert, key, want string
	}{
		{"certificate without key", certFile, "", "both"},
		{"key without certificate", "", keyFile, "both"},
		{"missing file", certFile, filepath.Join(dir, "nope.key"), "nope.key"},
		{"key of another certificate", certFile, otherKey, "private key does not match"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewServer(Config{Addr: "127.0.0.1:0", TLSCert: c.cert, TLSKey: c.key}, http.NotFoundHandler(), log)
			_, err := s.Listen()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Listen error = %v, want one mentioning %q", err, c.want)
			}
			if s.ln != nil {
				t.Fatal("the socket was bound despite the error")
			}
		})
	}
}

// Without TLS the server speaks HTTP/1.1 and h2c, and a reload channel is
// ignored.
func TestPlainServerSpeaksH2C(t *testing.T) {
	s := NewServer(Config{Addr: "127.0.0.1:0"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}), slog.New(slog.DiscardHandler))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if s.TLS() {
		t.Fatal("TLS() = true without a certificate")
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "HTTP/2.0" {
		t.Fatalf("h2c request served as %q", b)
	}
	tr.CloseIdleConnections()
	cancel()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// TestTLSHandshakeIsBounded: a client that connects to the TLS port and
// never completes its handshake is disconnected after the header timeout,
// and does not hold up shutdown.
func TestTLSHandshakeIsBounded(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := tlstest.NewCA(t)
	ca.Issue(t, 1, certFile, keyFile)
	start := func(t *testing.T, readHeaderTimeout time.Duration) (addr string, stop func() error) {
		t.Helper()
		s := NewServer(Config{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile, ReadHeaderTimeout: readHeaderTimeout},
			http.NotFoundHandler(), slog.New(slog.DiscardHandler))
		a, err := s.Listen()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		stopped := false
		stop = func() error {
			if stopped {
				return nil
			}
			stopped = true
			cancel()
			return <-done
		}
		t.Cleanup(func() { _ = stop() })
		return a.String(), stop
	}
	// silent connects and sends nothing; closed reports, within 5 s, that
	// the server closed the connection.
	silent := func(t *testing.T, addr string) (closed func() bool) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return func() bool {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := conn.Read(make([]byte, 1))
			return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}

	t.Run("timeout", func(t *testing.T) {
		addr, _ := start(t, 200*time.Millisecond)
		if !silent(t, addr)() {
			t.Fatal("a connection without a handshake is still open after 5 s")
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		addr, stop := start(t, time.Minute)
		closed := silent(t, addr)
		// A request on another connection shows the server accepted the
		// silent one before the stop.
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		tr.CloseIdleConnections()
		began := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if d := time.Since(began); d > 3*time.Second {
			t.Errorf("shutdown took %v", d)
		}
		if !closed() {
			t.Fatal("a connection without a handshake is still open after shutdown")
		}
	})
}

// TestTLSServerDrainsInFlightRequests: with TLS, shutdown lets requests in
// flight over HTTP/2 and over HTTP/1.1 finish, then refuses connections.
func TestTLSServerDrainsInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := tlstest.NewCA(t)
	ca.Issue(t, 1, certFile, keyFile)
	release := make(chan struct{})
	started := make(chan string, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- r.Proto
		<-release
		_, _ = io.WriteString(w, "done over "+r.Proto)
	})
	s := NewServer(Config{Addr: "127.0.0.1:0", DrainTimeout: 10 * time.Second, TLSCert: certFile, TLSKey: keyFile},
		h, slog.New(slog.DiscardHandler))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	url := "https://" + addr.String() + "/"
	body := make(chan string, 2)
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: h2}
		defer tr.CloseIdleConnections()
		go func() {
			res, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Get(url)
			if err != nil {
				body <- "error: " + err.Error()
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			body <- string(b)
		}()
	}
	protos := map[string]bool{<-started: true, <-started: true}
	if !protos["HTTP/2.0"] || !protos["HTTP/1.1"] {
		t.Fatalf("requests served over %v", protos)
	}
	cancel() // shutdown begins while the requests are in flight
	waitFor(t, "draining", s.Draining)
	close(release)
	got := map[string]bool{<-body: true, <-body: true}
	if !got["done over HTTP/2.0"] || !got["done over HTTP/1.1"] {
		t.Fatalf("in-flight requests got %v", got)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if conn, err := net.Dial("tcp", addr.String()); err == nil {
		conn.Close()
		t.Fatal("server still accepts connections after Run returned")
	}
}
