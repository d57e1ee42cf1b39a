package graphqlapi

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// countingStore counts the document reads of a store.
type countingStore struct {
	docstore.Store
	reads atomic.Int64
}

func (s *countingStore) GetDocument(ctx context.Context, collection, id string) (docstore.Document, error) {
	s.reads.Add(1)
	return s.Store.GetDocument(ctx, collection, id)
}

func (s *countingStore) GetDocumentWhere(ctx context.Context, collection, id string, filter query.Expr) (docstore.Document, error) {
	s.reads.Add(1)
	return s.Store.GetDocumentWhere(ctx, collection, id, filter)
}

func (s *countingStore) ListDocuments(ctx context.Context, p docstore.ListParams) ([]docstore.Document, error) {
	s.reads.Add(1)
	return s.Store.ListDocuments(ctx, p)
}

// relationsService is a document service on a counting SQLite store with
// orgs, users (each in an org; a user reads only their own document) and
// posts (an author and reviewers, users), posts posts by users u0…u9.
func relationsService(t *testing.T, posts int) (*docstore.Service, *countingStore) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	store := &countingStore{Store: st}
	svc, err := docstore.NewService(store, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	admin := auth.WithPrincipal(t.Context(), auth.System())
	open, own := "", "owner = @auth.id"
	for _, spec := range []docstore.CollectionSpec{
		{Name: "orgs", Rules: docstore.Rules{List: &open, Get: &open}, Schema: json.RawMessage(`{"type": "object", "properties": {"name": {"type": "string"}}}`)},
		{Name: "users", Rules: docstore.Rules{List: &own, Get: &own}, References: map[string]string{"org": "orgs"},
			Schema: json.RawMessage(`{"type": "object", "properties": {"name": {"type": "string"}, "owner": {"type": "string"}, "org": {"type": "string"}}}`)},
		{Name: "posts", Rules: docstore.Rules{List: &open, Get: &open}, References: map[string]string{"author": "users", "reviewers": "users"},
			Schema: json.RawMessage(`{"type": "object", "properties": {"title": {"type": "string"}, "author": {"type": "string"},
				"reviewers": {"type": "array", "items": {"type": "string"}}}}`)},
	} {
		if _, err := svc.CreateCollection(admin, spec); err != nil {
			t.Fatal(err)
		}
	}
	create := func(coll, id, data string) {
		var d docstore.Data
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateDocument(admin, docstore.CreateRequest{Collection: coll, ID: id, Data: d}); err != nil {
			t.Fatal(err)
		}
	}
	create("orgs", "o1", `{"name": "Org one"}`)
	for i := range 10 {
		create("users", fmt.Sprintf("u%d", i), fmt.Sprintf(`{"name": "user %d", "owner": "u%d", "org": "o1"}`, i, i))
	}
	for i := range posts {
		create("posts", fmt.Sprintf("p%03d", i), fmt.Sprintf(`{"title": "post %d", "author": "u%d", "reviewers": ["u%d", "nobody", "u%d"]}`, i, i%10, (i+1)%10, (i+2)%10))
	}
	return svc, store
}

// TestRelationsBatched: a page of posts with their authors, the authors'
// orgs and the reviewers costs the same number of store reads for 5 posts
// as for 50 — one for the page and one per relation and level — and each
// referenced document is shown only to who may get it.
func TestRelationsBatched(t *testing.T) {
	query := `{ posts(first: %d, orderBy: [{id: ASC}]) { nodes { id authorDocument { name orgDocument { name } } reviewersDocuments { id } } } }`
	var reads []int64
	for _, n := range []int{5, 50} {
		svc, store := relationsService(t, n)
		admin := auth.WithPrincipal(t.Context(), auth.System())
		cat, err := svc.Catalog(admin)
		if err != nil {
			t.Fatal(err)
		}
		s, err := BuildSchema(cat)
		if err != nil {
			t.Fatal(err)
		}
		doc, errs := Parse(s, fmt.Sprintf(query, n), Limits{})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		before := store.reads.Load()
		r := Execute(admin, s, Services{Documents: svc}, doc, "", nil)
		reads = append(reads, store.reads.Load()-before)
		b, _ := json.Marshal(r)
		if len(r.Errors) > 0 || !strings.Contains(string(b), `{"id":"p001","authorDocument":{"name":"user 1","orgDocument":{"name":"Org one"}},"reviewersDocuments":[{"id":"u2"},{"id":"u3"}]}`) {
			t.Fatalf("%d posts: %s", n, b)
		}
	}
	if reads[0] != reads[1] || reads[0] != 4 {
		t.Errorf("store reads for 5 and 50 posts: %v; want 4 each (the page, the authors, the reviewers, the orgs)", reads)
	}

	// u1 may get only their own user document: the other authors are null,
	// and so are relations to documents the caller may not get.
	svc, _ := relationsService(t, 3)
	u1 := auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "u1"})
	cat, err := svc.Catalog(u1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := BuildSchema(cat)
	if err != nil {
		t.Fatal(err)
	}
	doc, errs := Parse(s, `{ posts(orderBy: [{id: ASC}]) { nodes { id authorDocument { id } reviewersDocuments { id } } } }`, Limits{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	b, _ := json.Marshal(Execute(u1, s, Services{Documents: svc}, doc, "", nil))
	want := `{"data":{"posts":{"nodes":[{"id":"p000","authorDocument":null,"reviewersDocuments":[{"id":"u1"}]},` +
		`{"id":"p001","authorDocument":{"id":"u1"},"reviewersDocuments":[]},{"id":"p002","authorDocument":null,"reviewersDocuments":[]}]}}}`
	if string(b) != want {
		t.Errorf("u1:\n got %s\nwant %s", b, want)
	}
}

// TestRelationFields: the relation fields a caller's schema has — only to
// collections they may get, named after the field, a list for several ids.
func TestRelationFields(t *testing.T) {
	svc, _ := relationsService(t, 1)
	for who, want := range map[string]string{
		"admin":     "authorDocument: Users, reviewersDocuments: [Users!]!",
		"anonymous": "",
	} {
		ctx := auth.WithPrincipal(t.Context(), auth.System())
		if who == "anonymous" {
			ctx = auth.WithPrincipal(t.Context(), auth.Anonymous())
		}
		cat, err := svc.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := BuildSchema(cat)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range s.AST.Types["Posts"].Fields {
			if strings.HasSuffix(f.Name, "Document") || strings.HasSuffix(f.Name, "Documents") {
				got = append(got, f.Name+": "+f.Type.String())
			}
		}
		if strings.Join(got, ", ") != want {
			t.Errorf("%s: %v, want %s", who, got, want)
		}
	}
}
