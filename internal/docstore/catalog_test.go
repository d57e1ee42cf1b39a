package docstore_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// TestCatalog checks what each kind of caller may reach: the collections
// whose rules and scopes could admit them, with those actions only, which
// of them admit anonymous callers too, and schemas without hidden fields
// for callers who are not admins.
func TestCatalog(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		schema := `{"type":"object","properties":{"title":{"type":"string"},"owner":{"type":"string"},` +
			`"salary":{"type":"integer"},"author":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string"}},` +
			`"required":["name","email"]}},"required":["title","salary"]}`
		for _, sp := range []docstore.CollectionSpec{
			{Name: "board", Schema: json.RawMessage(schema), HiddenFields: []string{"salary", "author.email"},
				Rules: docstore.Rules{List: new(""), Get: new(""), Create: new("@auth.id != null"), Update: new("owner = @auth.id")}},
			{Name: "vault", Schema: json.RawMessage(schema)},
			{Name: "sealed", Schema: json.RawMessage(schema), Rules: docstore.Rules{Get: new("@auth.id = null && @auth.id != null")}},
		} {
			if _, err := f.svc.CreateCollection(as(t, "admin"), sp); err != nil {
				t.Fatal(err)
			}
		}
		// describe renders a catalog as "board:list,get(list,get)" lines:
		// the actions, then those open to anonymous callers.
		describe := func(c docstore.Catalog) string {
			var b strings.Builder
			fmt.Fprintf(&b, "view=%v manage=%v\n", c.ViewDefinitions, c.ManageDefinitions)
			for _, e := range c.Collections {
				fmt.Fprintf(&b, "%s:%s(%s)\n", e.Name, strings.Join(e.Actions, ","), strings.Join(e.Anonymous, ","))
			}
			return b.String()
		}
		viewer := auth.Principal{Kind: auth.KindAPIKey, ID: "k4", Roles: []string{auth.RoleAdmin},
			Scopes: []string{auth.ScopeCollectionsView, "board:read"}}
		for who, want := range map[string]string{
			"anonymous": "view=false manage=false\nboard:list,get(list,get)\n",
			"owner":     "view=false manage=false\nboard:list,get,create,update(list,get)\n",
			"key":       "view=false manage=false\nboard:list,get,create,update(list,get)\n",
			"keyOut":    "view=false manage=false\n",
			"admin": "view=true manage=true\nboard:list,get,create,update,delete(list,get)\n" +
				"sealed:list,get,create,update,delete()\nvault:list,get,create,update,delete()\n",
		} {
			cat, err := f.svc.Catalog(as(t, who))
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(cat); got != want {
				t.Errorf("%s: catalog\n%s want\n%s", who, got, want)
			}
			for _, e := range cat.Collections {
				hidden := strings.Contains(string(e.Schema), "salary") || strings.Contains(string(e.Schema), "email")
				if hidden != (who == "admin") {
					t.Errorf("%s: schema of %s: %s", who, e.Name, e.Schema)
				}
			}
		}
		cat, err := f.svc.Catalog(auth.WithPrincipal(t.Context(), viewer))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := describe(cat), "view=true manage=false\nboard:list,get(list,get)\n"; got != want {
			t.Errorf("viewer: catalog\n%s want\n%s", got, want)
		}
		// Hidden fields leave the required lists along their paths too.
		cat, err = f.svc.Catalog(as(t, "owner"))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(cat.Collections[0].Schema); !strings.Contains(s, `"required":["name"]`) || !strings.Contains(s, `"required":["title"]`) {
			t.Errorf("owner's board schema: %s", s)
		}
	})
}

// TestCatalogFollowsChanges: the catalog reflects a collection created,
// changed or deleted through this process at once, and one changed
// through another process sharing the database within DefinitionTTL (at
// once with a negative one; not before it with an hour).
func TestCatalogFollowsChanges(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	key := []byte(strings.Repeat("k", 32))
	fresh, err := docstore.NewService(f.store, docstore.Options{CursorKey: key, DefinitionTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	trusting, err := docstore.NewService(f.store, docstore.Options{CursorKey: key, DefinitionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	names := func(svc *docstore.Service) string {
		t.Helper()
		cat, err := svc.Catalog(as(t, "anonymous"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range cat.Collections {
			out = append(out, e.Name+":"+strings.Join(e.Actions, ","))
		}
		return strings.Join(out, " ")
	}
	if got := names(trusting); got != "" {
		t.Fatalf("before any collection: %q", got)
	}
	f.createNotes(t, "notes", docstore.Rules{List: rule("")})
	if got := names(f.svc); got != "notes:list" {
		t.Errorf("after a create here: %q", got)
	}
	if _, err := f.svc.PatchCollection(as(t, "admin"), "notes", data(t, `{"rules":{"list":"","get":""}}`), nil); err != nil {
		t.Fatal(err)
	}
	if got := names(f.svc); got != "notes:list,get" {
		t.Errorf("after a change here: %q", got)
	}
	if got := names(fresh); got != "notes:list,get" {
		t.Errorf("another process, DefinitionTTL -1: %q", got)
	}
	if got := names(trusting); got != "" {
		t.Errorf("another process, DefinitionTTL 1 h, within it: %q (the list it read first)", got)
	}
	if err := f.svc.DeleteCollection(as(t, "admin"), "notes", nil); err != nil {
		t.Fatal(err)
	}
	if got := names(f.svc); got != "" {
		t.Errorf("after a delete here: %q", got)
	}
}

// TestReferences: a definition's references are checked against its
// schema, kept by both engines, merged by a patch, and shown in catalogs
// only where their field is (a hidden field's reference is the admins').
func TestReferences(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		admin := as(t, "admin")
		schema := json.RawMessage(`{"type":"object","properties":{"author":{"type":"string"},"reviewers":{"type":"array","items":{"type":"string"}},
			"score":{"type":"integer"},"meta":{"type":"object","properties":{"owner":{"type":"string"}}},"editor":{"type":"string"}}}`)
		for ref, want := range map[string]string{
			"score": "a reference is a string", "meta.owner": "not a top-level property", "nope": "not a top-level property",
			"meta": "a reference is a string", "id": "not a top-level property",
		} {
			_, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: "bad", Schema: schema, References: map[string]string{ref: "users"}})
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), want) {
				t.Errorf("reference %s: %v, want %q", ref, err, want)
			}
		}
		if _, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: "bad", Schema: schema, References: map[string]string{"author": "Not A Name"}}); !fault.Is(err, fault.Invalid) {
			t.Errorf("a target that is no collection name: %v", err)
		}
		c, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: "posts", Schema: schema, Rules: docstore.Rules{List: new(""), Get: new("")},
			HiddenFields: []string{"editor"}, References: map[string]string{"author": "users", "reviewers": "users", "editor": "users"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.GetCollection(admin, "posts")
		if err != nil || len(got.References) != 3 || got.References["reviewers"] != "users" || got.Version != c.Version {
			t.Fatalf("stored: %+v, %v", got.References, err)
		}
		got, err = f.svc.PatchCollection(admin, "posts", data(t, `{"references":{"reviewers":null}}`), nil)
		if err != nil || len(got.References) != 2 || got.References["author"] != "users" {
			t.Fatalf("patched: %+v, %v", got.References, err)
		}
		for who, want := range map[string]string{"anonymous": "author", "admin": "author,editor"} {
			cat, err := f.svc.Catalog(as(t, who))
			if err != nil || len(cat.Collections) != 1 {
				t.Fatalf("%s: %+v, %v", who, cat, err)
			}
			if got := strings.Join(slices.Sorted(maps.Keys(cat.Collections[0].References)), ","); got != want {
				t.Errorf("%s's catalog references %s, want %s", who, got, want)
			}
		}
	})
}

// TestBatchGetDocuments: a batch get answers what gets by id would, in
// the order asked, once each, in one store query per 200 ids.
func TestBatchGetDocuments(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{Get: rule("owner = @auth.id")})
		f.seedNotes(t, "notes")
		for _, who := range []string{"admin", "owner", "other", "anonymous"} {
			ctx := as(t, who)
			ids := []string{"d3", "nope", "d1", "d2", "d1", "not an id!"}
			var want []string
			seen := map[string]bool{}
			for _, id := range ids {
				if d, err := f.svc.GetDocument(ctx, "notes", id); err == nil && !seen[id] {
					seen[id] = true
					want = append(want, id+":"+string(d.Data))
				}
			}
			docs, err := f.svc.BatchGetDocuments(ctx, "notes", ids)
			if err != nil && !fault.Is(err, fault.Unauthenticated) {
				t.Fatalf("%s: %v", who, err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, d.ID+":"+string(d.Data))
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s: %v, want %v", who, got, want)
			}
		}
		if _, err := f.svc.BatchGetDocuments(as(t, "admin"), "notes", make([]string, docstore.MaxBatchGetIDs+1)); !fault.Is(err, fault.Invalid) {
			t.Errorf("too many ids: %v", err)
		}
	})
}
