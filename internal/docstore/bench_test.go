package docstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"

	"github.com/basaltdev/basalt/internal/docstore"
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
// the cost of the rule on the hot path.
func BenchmarkGetDocumentAccess(b *testing.B) {
	f := newFixtureTB(b)
	everyone, owner := "", "owner = @auth.id"
	schema := json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"owner":{"type":"string"}}}`)
	for name, rule := range map[string]*string{"public": &everyone, "owned": &owner} {
		r := docstore.Rules{List: rule, Get: rule, Create: rule, Update: rule, Delete: rule}
		if _, err := f.svc.CreateCollection(adminCtx(b), docstore.CollectionSpec{Name: name, Schema: schema, Rules: r}); err != nil {
			b.Fatal(err)
		}
		if _, err := f.svc.CreateDocument(adminCtx(b), docstore.CreateRequest{Collection: name, ID: "d1", Data: dataTB(b, `{"title":"t","owner":"u1"}`)}); err != nil {
			b.Fatal(err)
		}
	}
	user := auth.WithPrincipal(b.Context(), auth.Principal{Kind: auth.KindUser, ID: "u1", SessionID: "s1"})
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
				if _, err := f.svc.GetDocument(c.ctx, c.collection, "d1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
