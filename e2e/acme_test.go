package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// TestACMEWithPebble obtains a certificate from a real ACME server,
// Let's Encrypt's pebble, started on loopback with a DNS server that
// resolves every name to 127.0.0.1. Pebble validates the order for real:
// it connects to Basalt's port with the TLS-ALPN-01 challenge, which
// Basalt answers. Basalt then serves HTTPS and HTTP/3 with the
// certificate, refuses names it was not given, and after a restart serves
// the same certificate from its cache without asking the CA again.
func TestACMEWithPebble(t *testing.T) {
	p := startPebble(t)
	const domain = "basalt.test"
	dataDir := filepath.Join(t.TempDir(), "data")
	args := []string{"--addr", "127.0.0.1:" + p.validationPort, "--tls-domain", domain, "--acme-directory", p.directory,
		"--acme-ca-file", p.caFile, "--acme-email", "ops@basalt.test", "--metrics-token", metricsToken}
	s := startProcess(t, dataDir, args...)
	s.waitForLog(t, "ACME certificate ready")

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.root(t)) {
		t.Fatal("pebble's root is not PEM")
	}
	conf := &tls.Config{RootCAs: roots, ServerName: domain}
	url := "https://" + s.addr + "/healthz"
	serial := func(t *testing.T, rt http.RoundTripper) string {
		t.Helper()
		res, err := (&http.Client{Transport: rt, Timeout: 10 * time.Second}).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode != 200 || res.TLS == nil {
			t.Fatalf("GET /healthz: %d over %s", res.StatusCode, res.Proto)
		}
		leaf := res.TLS.PeerCertificates[0]
		if err := leaf.VerifyHostname(domain); err != nil || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
			t.Fatalf("served %v issued by %q: %v", leaf.DNSNames, leaf.Issuer.CommonName, err)
		}
		return leaf.SerialNumber.String()
	}
	tcp := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}
	defer tcp.CloseIdleConnections()
	first := serial(t, tcp)
	h3 := &http3.Transport{TLSClientConfig: conf}
	defer func() { _ = h3.Close() }()
	if got := serial(t, h3); got != first {
		t.Errorf("HTTP/3 serves certificate %s, TCP %s", got, first)
	}

	// The metrics tell when the served certificate expires.
	metrics := &client{t: t, base: "https://" + s.addr, http: &http.Client{Transport: tcp, Timeout: 10 * time.Second}}
	body := string(metrics.as(metricsToken).must(200, "GET", "/metrics", "").Body)
	m := regexp.MustCompile(`(?m)^basalt_tls_certificate_expiry_timestamp_seconds\{certificate="server"\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the metrics have no expiry of the ACME certificate")
	}
	if v, err := strconv.ParseFloat(m[1], 64); err != nil || time.Until(time.Unix(int64(v), 0)) < 24*time.Hour {
		t.Errorf("the ACME certificate expires at %s: %v", m[1], err)
	}

	// Another name: no certificate, so no handshake.
	other := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "other.test"}}
	defer other.CloseIdleConnections()
	if res, err := (&http.Client{Transport: other, Timeout: 10 * time.Second}).Get(url); err == nil {
		_ = res.Body.Close()
		t.Error("a handshake for a name Basalt was not given succeeded")
	}

	// A restart serves the cached certificate: no new order.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.exitCode(t); code != 0 {
		t.Fatalf("exit status %d\n%s", code, s.logs.String())
	}
	orders := p.orders()
	if orders == 0 || !strings.Contains(p.logs.String(), "set VALID by completed challenge") {
		t.Errorf("pebble's log shows %d orders and no completed challenge:\n%s", orders, p.logs.String())
	}
	s = startProcess(t, dataDir, args...)
	s.waitForLog(t, "ACME certificate ready")
	again := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}
	defer again.CloseIdleConnections()
	if got := serial(t, again); got != first {
		t.Errorf("after a restart the certificate is %s, was %s", got, first)
	}
	if n := p.orders(); n != orders {
		t.Errorf("the restart made %d new orders", n-orders)
	}
}

// pebble is a running ACME server for one test.
type pebble struct {
	directory      string // the ACME directory URL
	caFile         string // the roots of its own HTTPS certificate
	management     string // host:port of its management interface
	validationPort string // the port it connects to for TLS-ALPN-01
	logs           *syncBuffer
	client         *http.Client // trusts caFile
}

// startPebble starts pebble-challtestsrv as a DNS server that answers
// 127.0.0.1 for every name, and pebble resolving through it, validating
// TLS-ALPN-01 challenges on a free port of 127.0.0.1 (validationPort),
// where the test's server is to listen.
func startPebble(t *testing.T) *pebble {
	t.Helper()
	bin := pebbleBinaries(t)
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if err != nil {
		t.Fatalf("locating pebble's module: %v", err)
	}
	src := strings.TrimSpace(string(out))
	dns, listen, management, validation := freePort(t), freePort(t), freePort(t), freePort(t)
	p := &pebble{
		directory:      "https://127.0.0.1:" + listen + "/dir",
		caFile:         filepath.Join(src, "test/certs/pebble.minica.pem"),
		management:     "127.0.0.1:" + management,
		validationPort: validation,
		logs:           &syncBuffer{},
	}
	start := func(name string, args []string, env ...string) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		cmd.Stdout, cmd.Stderr = p.logs, p.logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s logs:\n%s", name, p.logs.String())
			}
		})
	}
	start("pebble-challtestsrv", []string{"-dnsserver", "127.0.0.1:" + dns, "-http01", "", "-https01", "", "-tlsalpn01", "",
		"-doh", "", "-management", "127.0.0.1:" + freePort(t), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""})
	config := map[string]any{"pebble": map[string]any{
		"listenAddress":           "127.0.0.1:" + listen,
		"managementListenAddress": p.management,
		"certificate":             filepath.Join(src, "test/certs/localhost/cert.pem"),
		"privateKey":              filepath.Join(src, "test/certs/localhost/key.pem"),
		"httpPort":                mustAtoi(t, freePort(t)),
		"tlsPort":                 mustAtoi(t, validation),
		"keyAlgorithm":            "ecdsa",
		"profiles":                map[string]any{"default": map[string]any{"description": "test", "validityPeriod": 7776000}},
	}}
	b, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "pebble.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// NOSLEEP: pebble otherwise waits up to 15 s before each validation,
	// as real CAs are slow.
	start("pebble", []string{"-config", file, "-dnsserver", "127.0.0.1:" + dns}, "PEBBLE_VA_NOSLEEP=1")

	pem, err := os.ReadFile(p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	p.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := p.client.Get(p.directory)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not serve its directory within 30 s: %v\n%s", err, p.logs.String())
		}
		<-time.After(50 * time.Millisecond) // the polling interval
	}
}

// root returns pebble's root certificate, which issues the certificates.
func (p *pebble) root(t *testing.T) []byte {
	t.Helper()
	res, err := p.client.Get("https://" + p.management + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("pebble's root: %d %v", res.StatusCode, err)
	}
	return b
}

// orders counts the orders pebble was sent, from its log.
func (p *pebble) orders() int {
	return strings.Count(p.logs.String(), "POST /order-plz")
}

var pebbleBuild struct {
	sync.Once
	dir string
	err error
}

// pebbleBinaries builds pebble and pebble-challtestsrv (tools of the
// module: go.mod pins their version) once per test binary, and returns
// their directory.
func pebbleBinaries(t *testing.T) string {
	t.Helper()
	pebbleBuild.Do(func() {
		dir, err := os.MkdirTemp("", "basalt-e2e-pebble")
		if err != nil {
			pebbleBuild.err = err
			return
		}
		pebbleBuild.dir = dir
		for _, name := range []string{"pebble", "pebble-challtestsrv"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			out, err := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name),
				"github.com/letsencrypt/pebble/v2/cmd/"+name).CombinedOutput()
			cancel()
			if err != nil {
				pebbleBuild.err = fmt.Errorf("go build %s: %w\n%s", name, err, out)
				return
			}
		}
	})
	if pebbleBuild.err != nil {
		t.Fatal(pebbleBuild.err)
	}
	return pebbleBuild.dir
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
