package storagetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

func testCollectionCRUD(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	_, err := s.GetCollection(ctx, "posts")
	wantKind(t, "GetCollection before create", err, fault.NotFound)

	posts := collection("posts", docstore.Index{Fields: []string{"score"}})
	posts.CreatedAt = at(0).In(fixedZone())
	createCollection(t, s, posts)
	createCollection(t, s, collection("authors"))

	got, err := s.GetCollection(ctx, "posts")
	wantOK(t, "GetCollection", err)
	if got.Name != "posts" || got.Version != 1 || string(got.Schema) != string(posts.Schema) ||
		len(got.Indexes) != 1 || strings.Join(got.Indexes[0].Fields, ",") != "score" {
		t.Fatalf("GetCollection = %+v", got)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, posts.CreatedAt)

	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, collection("posts")) })
	wantKind(t, "CreateCollection twice", err, fault.Conflict)

	list, err := s.ListCollections(ctx)
	wantOK(t, "ListCollections", err)
	if len(list) != 2 || list[0].Name != "authors" || list[1].Name != "posts" {
		t.Fatalf("ListCollections = %v", list)
	}

	// Update: wrong version, missing collection, then success.
	next := posts
	next.Version, next.UpdatedAt = 2, at(5)
	next.Schema = json.RawMessage(`{"type":"object","required":["title"]}`)
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, next, 7) })
	wantKind(t, "UpdateCollection with a wrong version", err, fault.PreconditionFailed)
	missing := collection("nothing")
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, missing, 1) })
	wantKind(t, "UpdateCollection of a missing collection", err, fault.NotFound)
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.UpdateCollection(ctx, next, 1); err != nil {
			return err
		}
		c, err := tx.GetCollection(ctx, "posts")
		if err != nil {
			return err
		}
		if c.Version != 2 {
			t.Errorf("Tx.GetCollection after update: version %d, want 2", c.Version)
		}
		return nil
	})
	got, err = s.GetCollection(ctx, "posts")
	wantOK(t, "GetCollection after update", err)
	if got.Version != 2 || string(got.Schema) != string(next.Schema) {
		t.Fatalf("after update: %+v", got)
	}
	sameTime(t, "CreatedAt after update", got.CreatedAt, posts.CreatedAt)
	sameTime(t, "UpdatedAt after update", got.UpdatedAt, next.UpdatedAt)

	// Delete: wrong version, missing, then success.
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteCollection(ctx, "posts", 1) })
	wantKind(t, "DeleteCollection with a wrong version", err, fault.PreconditionFailed)
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteCollection(ctx, "nothing", 1) })
	wantKind(t, "DeleteCollection of a missing collection", err, fault.NotFound)
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteCollection(ctx, "posts", 2) })
	_, err = s.GetCollection(ctx, "posts")
	wantKind(t, "GetCollection after delete", err, fault.NotFound)
	list, err = s.ListCollections(ctx)
	wantOK(t, "ListCollections after delete", err)
	if len(list) != 1 || list[0].Name != "authors" {
		t.Fatalf("ListCollections after delete = %v", list)
	}
}

func testCollectionInvalidNames(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	for _, name := range []string{"", "Posts", "1posts", "posts-x", "posts; DROP TABLE collections", "po sts",
		"docs_x'--", strings.Repeat("a", 64), "pösts"} {
		err := write(t, s, func(ctx context.Context, tx docstore.Tx) error {
			return tx.CreateCollection(ctx, collection(name))
		})
		wantKind(t, "CreateCollection("+describe(name)+")", err, fault.Invalid)
		_, err = s.GetDocument(ctx, name, "x")
		if !fault.Is(err, fault.Invalid) && !fault.Is(err, fault.NotFound) {
			t.Fatalf("GetDocument in %q: %v, want invalid or not_found", name, err)
		}
	}
	createCollection(t, s, collection(strings.Repeat("a", 63)))
	for _, field := range []string{"a'b", "a..b", "", "a.b-c", "x) ; DROP TABLE collections; --"} {
		err := write(t, s, func(ctx context.Context, tx docstore.Tx) error {
			return tx.CreateCollection(ctx, collection("badindex", docstore.Index{Fields: []string{field}}))
		})
		wantKind(t, "CreateCollection with index field "+describe(field), err, fault.Invalid)
	}
	_, err := s.GetCollection(ctx, "badindex")
	wantKind(t, "GetCollection after refused creates", err, fault.NotFound)
}

func testCollectionIndexChanges(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	c := collection("items", docstore.Index{Fields: []string{"score"}},
		docstore.Index{Fields: []string{"author.name", "score"}}, docstore.Index{Fields: []string{"createdAt"}})
	createCollection(t, s, c)
	insert(t, s, doc("items", "a", `{"author":{"name":"x"},"score":2}`), doc("items", "b", `{"score":1}`))

	steps := [][]docstore.Index{
		{{Fields: []string{"score"}}, {Fields: []string{"count"}}},
		nil,
		{{Fields: []string{"version", "score"}}, {Fields: []string{"id"}}, {Fields: []string{"author.name"}}},
		{{Fields: []string{"version", "score"}}},
	}
	for i, ix := range steps {
		next := c
		next.Indexes, next.Version = ix, c.Version+1
		mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateCollection(ctx, next, c.Version) })
		c = next
		got, err := s.GetCollection(ctx, "items")
		wantOK(t, "GetCollection", err)
		if len(got.Indexes) != len(ix) {
			t.Fatalf("step %d: indexes = %v, want %v", i, got.Indexes, ix)
		}
		for j := range ix {
			if strings.Join(got.Indexes[j].Fields, ",") != strings.Join(ix[j].Fields, ",") {
				t.Fatalf("step %d: indexes = %v, want %v", i, got.Indexes, ix)
			}
		}
		docs, err := s.ListDocuments(ctx, docstore.ListParams{Collection: "items", Limit: 10,
			Sort: []query.SortKey{{Field: field(query.TypeNumber, "score")}, {Field: sys(query.SystemID)}}})
		wantOK(t, "ListDocuments", err)
		if !sameIDs(ids(docs), []string{"b", "a"}) {
			t.Fatalf("step %d: documents %v, want [b a]", i, ids(docs))
		}
	}
}

func testCollectionDeleteDropsDocuments(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	createCollection(t, s, collection("notes"))
	insert(t, s, doc("notes", "n1", `{"a":1}`))
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteCollection(ctx, "notes", 1) })
	_, err := s.GetDocument(ctx, "notes", "n1")
	wantKind(t, "GetDocument in a deleted collection", err, fault.NotFound)
	_, err = s.ListDocuments(ctx, docstore.ListParams{Collection: "notes", Limit: 10,
		Sort: []query.SortKey{{Field: sys(query.SystemID)}}})
	wantKind(t, "ListDocuments of a deleted collection", err, fault.NotFound)

	createCollection(t, s, collection("notes"))
	n, err := s.CountDocuments(ctx, docstore.CountParams{Collection: "notes"})
	wantOK(t, "CountDocuments", err)
	if n != 0 {
		t.Fatalf("a re-created collection has %d documents, want 0", n)
	}
}
