package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/basaltdev/basalt/internal/tlstest"
)

// TestHTTP3 serves one handler over TCP and QUIC: answers over TCP
// advertise HTTP/3 on the same port number with Alt-Svc, an HTTP/3 client
// is served over QUIC with the same certificate, and the drain lets an
// HTTP/3 request in flight finish while an idle HTTP/3 connection does not
// hold it open.
func TestHTTP3(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := tlstest.NewCA(t)
	ca.Issue(t, 1, certFile, keyFile)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "served over "+r.Proto)
	})
	s := NewServer(Config{Addr: "127.0.0.1:0", DrainTimeout: 10 * time.Second, TLSCert: certFile, TLSKey: keyFile, HTTP3: true},
		h, slog.New(slog.DiscardHandler))
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if !s.HTTP3() {
		t.Fatal("HTTP3() = false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	base := "https://" + addr.String()

	tcp := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	defer tcp.CloseIdleConnections()
	res, err := tcp.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	_, port, _ := net.SplitHostPort(addr.String())
	if got, want := res.Header.Get("Alt-Svc"), `h3=":`+port+`"; ma=86400`; got != want {
		t.Errorf("Alt-Svc over %s = %q, want %q", res.Proto, got, want)
	}

	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}
	defer func() { _ = tr.Close() }()
	quic := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	get := func(path string) (string, error) {
		res, err := quic.Get(base + path)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.Proto + ": " + string(b), err
	}
	if got, err := get("/"); err != nil || got != "HTTP/3.0: served over HTTP/3.0" {
		t.Fatalf("over QUIC: %q, %v", got, err)
	}

	// The connection above stays open and idle; a request is in flight
	// on another when the drain begins.
	slow := make(chan string, 1)
	tr2 := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}
	defer func() { _ = tr2.Close() }()
	go func() {
		res, err := (&http.Client{Transport: tr2, Timeout: 20 * time.Second}).Get(base + "/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		slow <- string(b)
	}()
	<-started
	cancel()
	waitFor(t, "draining", s.Draining)
	close(release)
	if got := <-slow; got != "served over HTTP/3.0" {
		t.Errorf("the request in flight got %q", got)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the drain waits for an idle HTTP/3 connection")
	}
}
