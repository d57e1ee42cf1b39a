package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	basalt "github.com/basaltdev/basalt/client"
)

// TestGoClient drives a real `basalt serve --tls-self-signed` with the
// public Go client, in gRPC over HTTP/2 and in Connect over HTTP/3,
// trusting the development certificate the server made: login, a
// collection, writes with compare-and-set, a list, errors by code.
func TestGoClient(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startProcess(t, dataDir, "--tls-self-signed")
	createAdmin(t, "--data-dir", dataDir)
	pem, err := os.ReadFile(filepath.Join(dataDir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	conf := &tls.Config{RootCAs: roots}
	h2 := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}
	t.Cleanup(h2.CloseIdleConnections)
	h3 := &http3.Transport{TLSClientConfig: conf}
	t.Cleanup(func() { _ = h3.Close() })

	for name, opts := range map[string]basalt.Options{
		"grpc-h2":    {Protocol: basalt.ProtocolGRPC, HTTPClient: &http.Client{Transport: h2, Timeout: 10 * time.Second}},
		"connect-h3": {Protocol: basalt.ProtocolConnect, HTTPClient: &http.Client{Transport: h3, Timeout: 10 * time.Second}},
	} {
		t.Run(name, func(t *testing.T) {
			goClientScenario(t, "https://"+s.addr, opts, "things_"+map[string]string{"grpc-h2": "a", "connect-h3": "b"}[name])
		})
	}
}

// goClientScenario is the Go client's scenario as the admin, on the server
// at base, with collection coll: login, a collection, writes with
// compare-and-set, a list, errors by code.
func goClientScenario(t *testing.T, base string, opts basalt.Options, coll string) {
	t.Helper()
	ctx := context.Background()
	c, err := basalt.New(base, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	spec := basalt.CollectionSpec{Name: coll, Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer"}}}`)}
	if err := c.CreateCollection(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateCollection(ctx, spec); !basalt.IsConflict(err) {
		t.Errorf("the same collection again: %v", err)
	}
	things := c.Documents(coll)
	d, err := things.Create(ctx, map[string]any{"n": 1}, basalt.WriteOptions{ID: "one"})
	if err != nil || d.ID != "one" {
		t.Fatalf("create: %+v, %v", d, err)
	}
	if _, err := things.Replace(ctx, "one", map[string]any{"n": 2}, basalt.WriteOptions{ExpectedVersion: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := things.Replace(ctx, "one", map[string]any{"n": 3}, basalt.WriteOptions{ExpectedVersion: 1}); !basalt.IsPreconditionFailed(err) {
		t.Errorf("a replace at an old version: %v", err)
	}
	page, err := things.List(ctx, basalt.ListOptions{Filter: "n = 2"})
	if err != nil || len(page.Items) != 1 || page.Items[0].Version != 2 {
		t.Fatalf("list: %+v, %v", page, err)
	}
	if err := c.DeleteCollection(ctx, coll); err != nil {
		t.Fatal(err)
	}
	if _, err := things.Get(ctx, "one"); !basalt.IsNotFound(err) {
		t.Errorf("a document of a deleted collection: %v", err)
	}
}
