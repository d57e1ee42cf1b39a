package rpcapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// TestCompressMinBytes: answers are gzipped for a client that accepts it
// from Options.CompressMinBytes up, as REST's are, and never with zero.
func TestCompressMinBytes(t *testing.T) {
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc, err := docstore.NewService(store, docstore.Options{CursorKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	admin := auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})
	open := ""
	if _, err := svc.CreateCollection(admin, docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(`{"type":"object"}`),
		Rules: docstore.Rules{Get: &open}}); err != nil {
		t.Fatal(err)
	}
	for id, text := range map[string]string{"small": "hi", "large": strings.Repeat("a long note ", 200)} {
		if _, err := svc.CreateDocument(admin, docstore.CreateRequest{Collection: "notes", ID: id, Data: docstore.Data{"text": text}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, min := range []int{0, 1024} {
		mux := http.NewServeMux()
		rpcapi.New(rpcapi.Services{Documents: svc, Collections: svc}, rpcapi.Options{CompressMinBytes: min}).Register(mux)
		srv := httptest.NewServer(mux)
		for _, id := range []string{"small", "large"} {
			req, err := http.NewRequest("POST", srv.URL+"/basalt.v1.DocumentService/GetDocument", strings.NewReader(`{"collection":"notes","id":"`+id+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Encoding", "gzip")
			tr := &http.Transport{DisableCompression: true}
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			gzipped := res.Header.Get("Content-Encoding") == "gzip"
			if want := min > 0 && id == "large"; res.StatusCode != 200 || gzipped != want {
				t.Errorf("min %d, %s document: %d, gzipped %v, want %v", min, id, res.StatusCode, gzipped, want)
			}
		}
		srv.Close()
	}
}
