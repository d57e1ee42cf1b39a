package docstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
)

func BenchmarkCreateDocument(b *testing.B) {
	f := newFixtureTB(b)
	f.postsTB(b)
	i := 0
	for b.Loop() {
		i++
		if _, err := f.svc.CreateDocument(adminCtx(b), docstore.CreateRequest{Collection: "posts", Data: dataTB(b, fmt.Sprintf(`{"title":"t%d","score":%d}`, i, i))}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetDocument(b *testing.B) {
	f := newFixtureTB(b)
	f.postsTB(b)
	d, err := f.svc.CreateDocument(adminCtx(b), docstore.CreateRequest{Collection: "posts", Data: dataTB(b, `{"title":"t","score":1}`)})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.svc.GetDocument(adminCtx(b), "posts", d.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetDocumentAccess compares a read of a public collection by an
// anonymous caller with the same read under an owner rule by the owner:
// the cost of the rule on the hot path, on SQLite.
func BenchmarkGetDocumentAccess(b *testing.B) {
	benchGetDocumentAccess(b, newFixtureTB(b).svc)
}

// BenchmarkGetDocumentAccessPG is BenchmarkGetDocumentAccess on PostgreSQL.
func BenchmarkGetDocumentAccessPG(b *testing.B) {
	st, err := postgres.Open(adminCtx(b), postgres.Options{URL: pgtest.URL(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	svc, err := docstore.NewService(st, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		b.Fatal(err)
	}
	benchGetDocumentAccess(b, svc)
}

func benchGetDocumentAccess(b *testing.B, svc *docstore.Service) {
	everyone, owner := "", "owner = @auth.id"
	schema := json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"owner":{"type":"string"}}}`)
	for name, rule := range map[string]*string{"public": &everyone, "owned": &owner} {
		r := docstore.Rules{List: rule, Get: rule, Create: rule, Update: rule, Delete: rule}
		if _, err := svc.CreateCollection(adminCtx(b), docstore.CollectionSpec{Name: name, Schema: schema, Rules: r}); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.CreateDocument(adminCtx(b), docstore.CreateRequest{Collection: name, ID: "d1", Data: dataTB(b, `{"title":"t","owner":"u1"}`)}); err != nil {
			b.Fatal(err)
		}
	}
	user := auth.WithPrincipal(b.Context(), auth.Principal{Kind: auth.KindUser, ID: "u1", SessionID: "s1"})
	other := auth.WithPrincipal(b.Context(), auth.Principal{Kind: auth.KindUser, ID: "u2", SessionID: "s2"})
	if _, err := svc.GetDocument(other, "owned", "d1"); !fault.Is(err, fault.NotFound) {
		b.Fatalf("GetDocument by another user: %v, want NotFound", err)
	}
	for _, c := range []struct {
		name, collection string
		ctx              context.Context
	}{
		{"public-anonymous", "public", b.Context()},
		{"owner-rule", "owned", user},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.GetDocument(c.ctx, c.collection, "d1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
