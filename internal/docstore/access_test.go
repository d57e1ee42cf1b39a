package docstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// engineStore is a storage engine whose event log tests can read.
type engineStore interface {
	docstore.Store
	eventbus.Log
}

// readLog returns every event of log, numbering the committed ones first.
func readLog(ctx context.Context, t *testing.T, log eventbus.Log) []eventbus.Event {
	t.Helper()
	if _, err := log.Sequence(ctx, 100000); err != nil {
		t.Fatal(err)
	}
	evs, err := log.ReadEvents(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// accessFixture is a service over one engine, for the access tests.
type accessFixture struct {
	svc   *docstore.Service
	store engineStore
}

func openEngine(t *testing.T, engine string) engineStore {
	t.Helper()
	switch engine {
	case "sqlite":
		st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	case "postgres":
		st, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.URL(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	t.Fatalf("unknown engine %q", engine)
	return nil
}

func newAccessFixture(t *testing.T, engine string) *accessFixture {
	t.Helper()
	st := openEngine(t, engine)
	svc, err := docstore.NewService(st, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	return &accessFixture{svc: svc, store: st}
}

// onEngines runs fn once per storage engine.
func onEngines(t *testing.T, fn func(t *testing.T, f *accessFixture)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run("engine="+engine, func(t *testing.T) {
			t.Parallel()
			fn(t, newAccessFixture(t, engine))
		})
	}
}

// The callers of the access tests.
func principal(name string) auth.Principal {
	switch name {
	case "owner":
		return auth.Principal{Kind: auth.KindUser, ID: "u1"}
	case "other":
		return auth.Principal{Kind: auth.KindUser, ID: "u2"}
	case "editor":
		return auth.Principal{Kind: auth.KindUser, ID: "u3", Roles: []string{"editor"}}
	case "admin":
		return auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}}
	case "key": // an API key whose scopes cover every collection
		return auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Scopes: []string{"*:read", "*:write"}}
	case "keyOut": // an API key whose scopes cover another collection only
		return auth.Principal{Kind: auth.KindAPIKey, ID: "k2", Scopes: []string{"elsewhere:*"}}
	case "adminKey":
		return auth.Principal{Kind: auth.KindAPIKey, ID: "k3", Roles: []string{auth.RoleAdmin}, Scopes: []string{"*:*"}}
	}
	return auth.Anonymous()
}

func as(t testing.TB, who string) context.Context {
	return auth.WithPrincipal(t.Context(), principal(who))
}

// notesSchema is the schema of the access tests' collections.
const notesSchema = `{"type":"object","properties":{
	"title":{"type":"string"},
	"owner":{"type":"string"},
	"secret":{"type":"string"},
	"author":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string"}}}
}}`

func rule(s string) *string { return &s }

// createNotes creates a collection with notesSchema, the given rules and
// hiddenFields ["secret", "author.email"], as an admin.
func (f *accessFixture) createNotes(t *testing.T, name string, rules docstore.Rules) {
	t.Helper()
	_, err := f.svc.CreateCollection(as(t, "admin"), docstore.CollectionSpec{Name: name, Schema: json.RawMessage(notesSchema),
		Rules: rules, HiddenFields: []string{"secret", "author.email"}})
	if err != nil {
		t.Fatal(err)
	}
}

// seedNotes stores d1 (owner u1, secret "open") and d2 (owner u2, secret
// "closed") as an admin.
func (f *accessFixture) seedNotes(t *testing.T, name string) {
	t.Helper()
	for _, d := range []struct{ id, body string }{
		{"d1", `{"title":"one","owner":"u1","secret":"open","author":{"name":"Ann","email":"ann@example.com"}}`},
		{"d2", `{"title":"two","owner":"u2","secret":"closed"}`},
	} {
		if _, err := f.svc.CreateDocument(as(t, "admin"), docstore.CreateRequest{Collection: name, ID: d.id, Data: data(t, d.body)}); err != nil {
			t.Fatal(err)
		}
	}
}

// outbox returns the outbox's document events.
func (f *accessFixture) outbox(t *testing.T) []eventbus.Event {
	t.Helper()
	return documentEvents(readLog(t.Context(), t, f.store))
}

// noIdempotencyRecord fails if the caller of ctx has an answer stored
// under key.
func (f *accessFixture) noIdempotencyRecord(ctx context.Context, t *testing.T, key string) {
	t.Helper()
	stored := docstore.StoredIdempotencyKey(ctx, key)
	err := f.store.Write(t.Context(), func(tx docstore.Tx) error {
		_, found, err := tx.GetIdempotency(t.Context(), stored)
		if err == nil && found {
			t.Errorf("an idempotency record exists for %q", stored)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// outcome renders the result of a call: "ok" or the error's kind.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return string(fault.KindOf(err))
}

// hasSecret reports whether a document's data shows a hidden field.
func hasSecret(d docstore.Document) bool {
	return strings.Contains(string(d.Data), `"secret"`) || strings.Contains(string(d.Data), `"email"`)
}

// ruleKinds are the rules the table gives to every action.
func ruleKinds() map[string]docstore.Rules {
	all := func(r *string) docstore.Rules {
		return docstore.Rules{List: r, Get: r, Create: r, Update: r, Delete: r}
	}
	return map[string]docstore.Rules{
		"null":   {},
		"open":   all(rule("")),
		"owner":  all(rule(`owner = @auth.id`)),
		"role":   all(rule(`@auth.roles ?= "editor"`)),
		"hidden": all(rule(`secret = "open"`)), // a rule over a hidden field
	}
}

// accessRow is what one caller gets under one kind of rule: list is the
// ids listed ("" for an empty page) or "!<code>"; the others are "ok" or
// the error code.
type accessRow struct {
	rules, who                         string
	list, get, create, update, destroy string
}

func accessTable() []accessRow {
	const (
		ok    = "ok"
		unau  = "unauthenticated"
		forb  = "forbidden"
		nf    = "not_found"
		lUnau = "!unauthenticated"
		lForb = "!forbidden"
	)
	var rows []accessRow
	add := func(rules string, who string, list, get, create, update, destroy string) {
		rows = append(rows, accessRow{rules, who, list, get, create, update, destroy})
	}
	for _, r := range []string{"null", "open", "owner", "role", "hidden"} {
		add(r, "admin", "d1,d2", ok, ok, ok, ok)
		add(r, "adminKey", "d1,d2", ok, ok, ok, ok)
		add(r, "keyOut", lForb, forb, forb, forb, forb)
	}
	for _, who := range []string{"owner", "other", "editor", "key"} {
		add("null", who, lForb, forb, forb, forb, forb)
		add("open", who, "d1,d2", ok, ok, ok, ok)
		add("hidden", who, "d1", ok, ok, ok, ok)
	}
	add("null", "anon", lUnau, unau, unau, unau, unau)
	add("open", "anon", "d1,d2", ok, ok, ok, ok)
	add("hidden", "anon", "d1", ok, ok, ok, ok)

	add("owner", "anon", "", nf, forb, nf, nf)
	add("owner", "owner", "d1", ok, ok, ok, ok)
	add("owner", "other", "d2", nf, forb, nf, nf)
	add("owner", "editor", "", nf, forb, nf, nf)
	add("owner", "key", "", nf, forb, nf, nf)

	for _, who := range []string{"anon", "owner", "other", "key"} {
		add("role", who, "", nf, forb, nf, nf)
	}
	add("role", "editor", "d1,d2", ok, ok, ok, ok)
	return rows
}

// TestAccessRules runs every action as every kind of caller under every
// kind of rule, on both engines, and checks that non-admins never see a
// hidden field.
func TestAccessRules(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		kinds := ruleKinds()
		for i, row := range accessTable() {
			name := fmt.Sprintf("t%02d", i)
			f.createNotes(t, name, kinds[row.rules])
			f.seedNotes(t, name)
			ctx := as(t, row.who)
			admin := row.who == "admin" || row.who == "adminKey"
			at := fmt.Sprintf("rules=%s who=%s", row.rules, row.who)
			check := func(action, want string, err error, docs ...docstore.Document) {
				t.Helper()
				if got := outcome(err); got != want {
					t.Errorf("%s: %s = %s (%v), want %s", at, action, got, err, want)
				}
				for _, d := range docs {
					if hasSecret(d) != admin {
						t.Errorf("%s: %s returned %s: hidden fields shown=%v, want %v", at, action, d.Data, hasSecret(d), admin)
					}
				}
			}

			page, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: name, Total: true})
			if strings.HasPrefix(row.list, "!") {
				check("list", row.list[1:], err)
			} else {
				check("list", "ok", err, page.Items...)
				if err == nil && (ids(page) != row.list || *page.Total != int64(len(page.Items))) {
					t.Errorf("%s: list = %q (total %d), want %q", at, ids(page), *page.Total, row.list)
				}
			}

			d, err := f.svc.GetDocument(ctx, name, "d1")
			if err == nil {
				check("get", row.get, err, d)
			} else {
				check("get", row.get, err)
			}

			body := `{"title":"new","owner":"u1","secret":"open","author":{"email":"e@example.com"}}`
			d, err = f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: name, ID: "new", Data: data(t, body)})
			if err == nil {
				check("create", row.create, err, d)
			} else {
				check("create", row.create, err)
			}

			body = `{"title":"changed","owner":"u1","secret":"open"}`
			d, err = f.svc.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: name, ID: "d1", Data: data(t, body)})
			if err == nil {
				check("update", row.update, err, d)
			} else {
				check("update", row.update, err)
			}

			err = f.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: name, ID: "d1"})
			check("delete", row.destroy, err)

			// What the refused writes left: nothing.
			want := map[string]bool{"d1": row.destroy != "ok", "d2": true, "new": row.create == "ok"}
			all, err := f.svc.ListDocuments(as(t, "admin"), docstore.ListRequest{Collection: name})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range all.Items {
				if !want[d.ID] {
					t.Errorf("%s: document %s exists after the calls", at, d.ID)
				}
				delete(want, d.ID)
				if d.ID == "d1" && row.update != "ok" && strings.Contains(string(d.Data), "changed") {
					t.Errorf("%s: a refused update changed d1: %s", at, d.Data)
				}
			}
			for id, exists := range want {
				if exists {
					t.Errorf("%s: document %s is missing after the calls", at, id)
				}
			}
		}
		// Every successful write, and nothing else, is in the outbox.
		writes := 0
		for _, row := range accessTable() {
			for _, o := range []string{row.create, row.update, row.destroy} {
				if o == "ok" {
					writes++
				}
			}
		}
		if got, want := len(f.outbox(t)), writes+2*len(accessTable()); got != want {
			t.Errorf("outbox has %d events, want %d", got, want)
		}
	})
}

// TestAccessUpdateAndDelete covers the write rules that depend on the
// stored and the new content, on both engines.
func TestAccessUpdateAndDelete(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{List: rule(""), Get: rule(""), Create: rule(""),
			Update: rule(`owner = @auth.id`), Delete: rule(`owner = @auth.id`)})
		f.seedNotes(t, "notes")
		before := len(f.outbox(t))
		owner, other := as(t, "owner"), as(t, "other")

		// Visible but not theirs: Forbidden, not NotFound.
		_, err := f.svc.ReplaceDocument(other, docstore.ReplaceRequest{Collection: "notes", ID: "d1", Data: data(t, `{"owner":"u2"}`)})
		wantKind(t, err, fault.Forbidden)
		_, err = f.svc.PatchDocument(other, docstore.PatchRequest{Collection: "notes", ID: "d1", Patch: data(t, `{"title":"x"}`)})
		wantKind(t, err, fault.Forbidden)
		err = f.svc.DeleteDocument(other, docstore.DeleteRequest{Collection: "notes", ID: "d1"})
		wantKind(t, err, fault.Forbidden)
		// Missing: NotFound.
		err = f.svc.DeleteDocument(other, docstore.DeleteRequest{Collection: "notes", ID: "nope"})
		wantKind(t, err, fault.NotFound)

		// The rule is checked on the new content too: the owner cannot
		// hand the document over, by replace, by patch or in a batch.
		_, err = f.svc.ReplaceDocument(owner, docstore.ReplaceRequest{Collection: "notes", ID: "d1",
			Data: data(t, `{"title":"yours","owner":"u2"}`), IdempotencyKey: "handover"})
		wantKind(t, err, fault.Forbidden)
		f.noIdempotencyRecord(owner, t, "handover")
		_, err = f.svc.PatchDocument(owner, docstore.PatchRequest{Collection: "notes", ID: "d1",
			Patch: data(t, `{"owner":"u2"}`), IdempotencyKey: "handover2"})
		wantKind(t, err, fault.Forbidden)
		f.noIdempotencyRecord(owner, t, "handover2")
		_, err = f.svc.Batch(owner, []docstore.BatchOp{
			{Op: docstore.OpPatch, Collection: "notes", ID: "d1", Data: data(t, `{"title":"fine"}`)},
			{Op: docstore.OpReplace, Collection: "notes", ID: "d1", Data: data(t, `{"owner":"u2"}`)},
		}, "batch-handover")
		wantKind(t, err, fault.Forbidden)
		if ptrs := fault.FieldsOf(err); len(ptrs) == 0 || !strings.HasPrefix(ptrs[0].Pointer, "/operations/1") {
			t.Errorf("batch error points at %v, want /operations/1", ptrs)
		}
		f.noIdempotencyRecord(owner, t, "batch-handover")
		if n := len(f.outbox(t)); n != before {
			t.Fatalf("refused writes left %d outbox events", n-before)
		}
		d, err := f.svc.GetDocument(as(t, "admin"), "notes", "d1")
		if err != nil || d.Version != 1 || !strings.Contains(string(d.Data), `"owner":"u1"`) {
			t.Fatalf("d1 after refused writes = %s v%d, %v", d.Data, d.Version, err)
		}

		// Within the rule: the owner may edit and delete.
		d, err = f.svc.PatchDocument(owner, docstore.PatchRequest{Collection: "notes", ID: "d1", Patch: data(t, `{"title":"mine"}`)})
		if err != nil || hasSecret(d) || !strings.Contains(string(d.Data), `"mine"`) {
			t.Fatalf("owner's patch = %s, %v", d.Data, err)
		}
		// If-Match is checked after the rules: a stale version is 412 for
		// the owner only.
		err = f.svc.DeleteDocument(other, docstore.DeleteRequest{Collection: "notes", ID: "d1", IfMatch: docstore.Version(1)})
		wantKind(t, err, fault.Forbidden)
		err = f.svc.DeleteDocument(owner, docstore.DeleteRequest{Collection: "notes", ID: "d1", IfMatch: docstore.Version(1)})
		wantKind(t, err, fault.PreconditionFailed)
		if err := f.svc.DeleteDocument(owner, docstore.DeleteRequest{Collection: "notes", ID: "d1"}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAccessCreateRollback checks that a create the rule refuses leaves
// nothing: no document, no outbox row, no idempotency record — alone or in
// a batch.
func TestAccessCreateRollback(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{List: rule(""), Get: rule(""),
			Create: rule(`owner = @auth.id`), Update: rule(`owner = @auth.id`)})
		f.seedNotes(t, "notes")
		before := len(f.outbox(t))
		other := as(t, "other")
		_, err := f.svc.CreateDocument(other, docstore.CreateRequest{Collection: "notes", ID: "x1",
			Data: data(t, `{"owner":"u1"}`), IdempotencyKey: "k-create"})
		wantKind(t, err, fault.Forbidden)
		f.noIdempotencyRecord(other, t, "k-create")

		results, err := f.svc.Batch(other, []docstore.BatchOp{
			{Op: docstore.OpCreate, Collection: "notes", ID: "x2", Data: data(t, `{"owner":"u2"}`)},
			{Op: docstore.OpPatch, Collection: "notes", ID: "d2", Data: data(t, `{"title":"edited"}`)},
			{Op: docstore.OpCreate, Collection: "notes", ID: "x3", Data: data(t, `{"owner":"u1"}`)},
		}, "k-batch")
		wantKind(t, err, fault.Forbidden)
		if results != nil {
			t.Errorf("a refused batch returned results %v", results)
		}
		f.noIdempotencyRecord(other, t, "k-batch")
		for _, id := range []string{"x1", "x2", "x3"} {
			_, err := f.svc.GetDocument(as(t, "admin"), "notes", id)
			wantKind(t, err, fault.NotFound)
		}
		if d, _ := f.svc.GetDocument(as(t, "admin"), "notes", "d2"); d.Version != 1 {
			t.Errorf("the refused batch changed d2: %s v%d", d.Data, d.Version)
		}
		if n := len(f.outbox(t)); n != before {
			t.Fatalf("refused creates left %d outbox events", n-before)
		}

		// The same batch within the rules commits, and its results leave
		// out hidden fields.
		results, err = f.svc.Batch(other, []docstore.BatchOp{
			{Op: docstore.OpCreate, Collection: "notes", ID: "x2", Data: data(t, `{"owner":"u2","secret":"s"}`)},
			{Op: docstore.OpPatch, Collection: "notes", ID: "d2", Data: data(t, `{"title":"edited"}`)},
			{Op: docstore.OpDelete, Collection: "notes", ID: "x2"},
		}, "")
		if err == nil {
			t.Fatalf("a batch deleting without a delete rule committed: %v", results)
		}
		wantKind(t, err, fault.Forbidden)
		results, err = f.svc.Batch(other, []docstore.BatchOp{
			{Op: docstore.OpCreate, Collection: "notes", ID: "x2", Data: data(t, `{"owner":"u2","secret":"s"}`)},
			{Op: docstore.OpPatch, Collection: "notes", ID: "d2", Data: data(t, `{"title":"edited"}`)},
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Document == nil || hasSecret(*r.Document) {
				t.Errorf("batch result %+v shows hidden fields", r)
			}
		}
		if n := len(f.outbox(t)); n != before+2 {
			t.Fatalf("the batch left %d outbox events, want 2", n-before)
		}
	})
}

// TestAccessListNeverLeaks checks that user filters, totals and cursors
// only ever see what the list rule admits, on both engines.
func TestAccessListNeverLeaks(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{List: rule(`owner = @auth.id`)})
		admin := as(t, "admin")
		for i := range 30 {
			owner := []string{"u1", "u2", "u3"}[i%3]
			body := fmt.Sprintf(`{"title":"n%02d","owner":%q,"secret":"s%d"}`, i, owner, i)
			if _, err := f.svc.CreateDocument(admin, docstore.CreateRequest{Collection: "notes", ID: fmt.Sprintf("n%02d", i), Data: data(t, body)}); err != nil {
				t.Fatal(err)
			}
		}
		owner := as(t, "owner")
		for _, filter := range []string{
			``, `owner = "u2"`, `owner != "u1"`, `owner = "u2" || title != ""`, `!(owner = "u1")`,
			`owner in ["u1", "u2", "u3"]`, `title ~ "n"`, `id != "x"`,
		} {
			for _, limit := range []int{1, 4, 50} {
				seen := 0
				cursor := ""
				var total int64
				for {
					page, err := f.svc.ListDocuments(owner, docstore.ListRequest{Collection: "notes", Filter: filter, Sort: "-title",
						Limit: limit, Cursor: cursor, Total: true})
					if err != nil {
						t.Fatalf("filter %q: %v", filter, err)
					}
					for _, d := range page.Items {
						if !strings.Contains(string(d.Data), `"owner":"u1"`) || hasSecret(d) {
							t.Fatalf("filter %q: the list leaked %s", filter, d.Data)
						}
					}
					seen += len(page.Items)
					total = *page.Total
					if page.NextCursor == "" {
						break
					}
					cursor = page.NextCursor
				}
				if int64(seen) != total || total > 10 {
					t.Fatalf("filter %q limit %d: walked %d documents, total %d (u1 owns 10)", filter, limit, seen, total)
				}
			}
		}
		page, err := f.svc.ListDocuments(owner, docstore.ListRequest{Collection: "notes", Total: true, Limit: 100})
		if err != nil || len(page.Items) != 10 || *page.Total != 10 {
			t.Fatalf("owner's list = %d items, total %v, %v", len(page.Items), page.Total, err)
		}
		// A rule that never holds for the caller: an empty page.
		page, err = f.svc.ListDocuments(as(t, "anon"), docstore.ListRequest{Collection: "notes", Total: true})
		if err != nil || len(page.Items) != 0 || *page.Total != 0 || page.NextCursor != "" {
			t.Fatalf("anonymous list = %+v, %v", page, err)
		}
	})
}

// TestAccessHiddenFields checks that hidden fields cannot be named by
// non-admins (answered exactly like unknown fields) and are left out of
// every answer, including idempotent replays, while the outbox and the
// idempotency record keep the whole document.
func TestAccessHiddenFields(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	open := docstore.Rules{List: rule(""), Get: rule(""), Create: rule(""), Update: rule(""), Delete: rule("")}
	f.createNotes(t, "notes", open)
	f.seedNotes(t, "notes")
	owner, admin := as(t, "owner"), as(t, "admin")

	sameAsUnknown := func(what string, hidden, unknown docstore.ListRequest, name, other string) {
		t.Helper()
		_, herr := f.svc.ListDocuments(owner, hidden)
		_, uerr := f.svc.ListDocuments(owner, unknown)
		wantKind(t, herr, fault.Invalid)
		want := strings.ReplaceAll(fault.Message(uerr), other, name)
		if fault.Message(herr) != want || fault.Message(uerr) == "" {
			t.Errorf("%s: hidden field answer %q, unknown field answer %q", what, fault.Message(herr), fault.Message(uerr))
		}
		if _, err := f.svc.ListDocuments(admin, hidden); err != nil {
			t.Errorf("%s as admin: %v", what, err)
		}
	}
	sameAsUnknown("filter", docstore.ListRequest{Collection: "notes", Filter: `secret = "open"`},
		docstore.ListRequest{Collection: "notes", Filter: `zzzzzz = "open"`}, "secret", "zzzzzz")
	sameAsUnknown("nested filter", docstore.ListRequest{Collection: "notes", Filter: `author.email != null`},
		docstore.ListRequest{Collection: "notes", Filter: `author.zzzzz != null`}, "author.email", "author.zzzzz")
	sameAsUnknown("sort", docstore.ListRequest{Collection: "notes", Sort: "-secret"},
		docstore.ListRequest{Collection: "notes", Sort: "-zzzzzz"}, "secret", "zzzzzz")
	sameAsUnknown("fields", docstore.ListRequest{Collection: "notes", Fields: "title,secret"},
		docstore.ListRequest{Collection: "notes", Fields: "title,zzzzzz"}, "secret", "zzzzzz")

	// Selecting the object that holds a hidden field leaves it out.
	page, err := f.svc.ListDocuments(owner, docstore.ListRequest{Collection: "notes", Fields: "author", Filter: `id = "d1"`})
	if err != nil || len(page.Items) != 1 || string(page.Items[0].Data) != `{"author":{"name":"Ann"}}` {
		t.Fatalf("fields=author = %+v, %v", page.Items, err)
	}
	page, err = f.svc.ListDocuments(admin, docstore.ListRequest{Collection: "notes", Fields: "author", Filter: `id = "d1"`})
	if err != nil || string(page.Items[0].Data) != `{"author":{"email":"ann@example.com","name":"Ann"}}` {
		t.Fatalf("fields=author as admin = %+v, %v", page.Items, err)
	}

	// Writes may set hidden fields; answers and replays leave them out.
	req := docstore.CreateRequest{Collection: "notes", ID: "w1", Data: data(t, `{"title":"w","secret":"mine"}`), IdempotencyKey: "key-1"}
	first, err := f.svc.CreateDocument(owner, req)
	if err != nil || string(first.Data) != `{"title":"w"}` {
		t.Fatalf("create = %s, %v", first.Data, err)
	}
	again, err := f.svc.CreateDocument(owner, req)
	if err != nil || string(again.Data) != `{"title":"w"}` || again.Version != 1 {
		t.Fatalf("replay = %s v%d, %v", again.Data, again.Version, err)
	}
	stored, err := f.svc.GetDocument(admin, "notes", "w1")
	if err != nil || string(stored.Data) != `{"secret":"mine","title":"w"}` {
		t.Fatalf("stored = %s, %v", stored.Data, err)
	}
	evs := f.outbox(t)
	if last := evs[len(evs)-1]; !strings.Contains(string(last.Payload), `"secret":"mine"`) {
		t.Errorf("the outbox payload lacks the hidden field: %s", last.Payload)
	}
	err = f.store.Write(t.Context(), func(tx docstore.Tx) error {
		rec, found, err := tx.GetIdempotency(t.Context(), docstore.StoredIdempotencyKey(owner, "key-1"))
		if err == nil && (!found || !strings.Contains(string(rec.Response), `"secret":"mine"`)) {
			t.Errorf("idempotency record = %s (found %v), want the whole document", rec.Response, found)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() (docstore.Document, error){
		func() (docstore.Document, error) { return f.svc.GetDocument(owner, "notes", "w1") },
		func() (docstore.Document, error) {
			return f.svc.ReplaceDocument(owner, docstore.ReplaceRequest{Collection: "notes", ID: "w1", Data: data(t, `{"title":"w2","secret":"s2"}`)})
		},
		func() (docstore.Document, error) {
			return f.svc.PatchDocument(owner, docstore.PatchRequest{Collection: "notes", ID: "w1", Patch: data(t, `{"secret":"s3"}`)})
		},
	} {
		d, err := call()
		if err != nil || hasSecret(d) {
			t.Errorf("answer %s, %v shows a hidden field", d.Data, err)
		}
	}
}

// TestAccessIdempotencyPerCaller checks that Idempotency-Key values are
// scoped to the caller.
func TestAccessIdempotencyPerCaller(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	f.createNotes(t, "notes", docstore.Rules{Create: rule(""), Get: rule("")})
	body := `{"title":"same"}`
	a, err := f.svc.CreateDocument(as(t, "owner"), docstore.CreateRequest{Collection: "notes", Data: data(t, body), IdempotencyKey: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.CreateDocument(as(t, "other"), docstore.CreateRequest{Collection: "notes", Data: data(t, body), IdempotencyKey: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID {
		t.Fatalf("two callers with one key got the same answer %s", a.ID)
	}
	// A different body under another caller's key is no mismatch either.
	c, err := f.svc.CreateDocument(as(t, "key"), docstore.CreateRequest{Collection: "notes", Data: data(t, `{"title":"other"}`), IdempotencyKey: "shared"})
	if err != nil || c.ID == a.ID || c.ID == b.ID {
		t.Fatalf("API key's create = %s, %v", c.ID, err)
	}
	again, err := f.svc.CreateDocument(as(t, "owner"), docstore.CreateRequest{Collection: "notes", Data: data(t, body), IdempotencyKey: "shared"})
	if err != nil || again.ID != a.ID {
		t.Fatalf("owner's retry = %s, %v; want %s", again.ID, err, a.ID)
	}
	_, err = f.svc.CreateDocument(as(t, "owner"), docstore.CreateRequest{Collection: "notes", Data: data(t, `{"title":"changed"}`), IdempotencyKey: "shared"})
	wantKind(t, err, fault.IdempotencyMismatch)
	if n := len(f.outbox(t)); n != 3 {
		t.Fatalf("outbox has %d events, want 3", n)
	}
}

// TestAccessCursorBoundToCaller checks that a cursor issued to one caller
// is refused for every other caller.
func TestAccessCursorBoundToCaller(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	f.createNotes(t, "notes", docstore.Rules{List: rule("")})
	f.seedNotes(t, "notes")
	req := docstore.ListRequest{Collection: "notes", Limit: 1}
	page, err := f.svc.ListDocuments(as(t, "owner"), req)
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	req.Cursor = page.NextCursor
	if _, err := f.svc.ListDocuments(as(t, "owner"), req); err != nil {
		t.Fatalf("the owner's own cursor: %v", err)
	}
	for _, who := range []string{"other", "anon", "admin", "key"} {
		_, err := f.svc.ListDocuments(as(t, who), req)
		wantKind(t, err, fault.Invalid)
		if !strings.Contains(fault.Message(err), "cursor") {
			t.Errorf("%s replaying the owner's cursor: %v", who, err)
		}
	}
}

// TestAccessScopes checks API key scopes action by action.
func TestAccessScopes(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	open := docstore.Rules{List: rule(""), Get: rule(""), Create: rule(""), Update: rule(""), Delete: rule("")}
	f.createNotes(t, "notes", open)
	f.seedNotes(t, "notes")
	reader := auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindAPIKey, ID: "r1", Scopes: []string{"notes:read"}})
	if _, err := f.svc.ListDocuments(reader, docstore.ListRequest{Collection: "notes"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetDocument(reader, "notes", "d1"); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.CreateDocument(reader, docstore.CreateRequest{Collection: "notes", Data: data(t, `{}`)})
	wantKind(t, err, fault.Forbidden)
	_, err = f.svc.PatchDocument(reader, docstore.PatchRequest{Collection: "notes", ID: "d1", Patch: data(t, `{}`)})
	wantKind(t, err, fault.Forbidden)
	_, err = f.svc.Batch(reader, []docstore.BatchOp{{Op: docstore.OpDelete, Collection: "notes", ID: "d1"}}, "")
	wantKind(t, err, fault.Forbidden)
	// An admin API key is held to its scopes too.
	adminReader := auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindAPIKey, ID: "r2",
		Roles: []string{auth.RoleAdmin}, Scopes: []string{"notes:get"}})
	if _, err := f.svc.GetDocument(adminReader, "notes", "d2"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ListDocuments(adminReader, docstore.ListRequest{Collection: "notes"})
	wantKind(t, err, fault.Forbidden)
	err = f.svc.DeleteDocument(adminReader, docstore.DeleteRequest{Collection: "notes", ID: "d1"})
	wantKind(t, err, fault.Forbidden)
}

// TestAccessManagementAdminsOnly checks that only admins manage
// collections.
func TestAccessManagementAdminsOnly(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	f.createNotes(t, "notes", docstore.Rules{})
	spec := docstore.CollectionSpec{Name: "other", Schema: json.RawMessage(`{"type":"object"}`)}
	for who, want := range map[string]fault.Kind{"anon": fault.Unauthenticated, "owner": fault.Forbidden, "key": fault.Forbidden} {
		ctx := as(t, who)
		_, err := f.svc.CreateCollection(ctx, spec)
		wantKind(t, err, want)
		_, err = f.svc.GetCollection(ctx, "notes")
		wantKind(t, err, want)
		_, err = f.svc.ListCollections(ctx)
		wantKind(t, err, want)
		_, err = f.svc.ReplaceCollection(ctx, "notes", docstore.CollectionSpec{Schema: json.RawMessage(notesSchema)}, nil)
		wantKind(t, err, want)
		_, err = f.svc.PatchCollection(ctx, "notes", data(t, `{"rules":{"get":""}}`), nil)
		wantKind(t, err, want)
		err = f.svc.DeleteCollection(ctx, "notes", nil)
		wantKind(t, err, want)
		if who == "anon" && fault.Message(err) != "authentication required" {
			t.Errorf("anonymous answer %q", fault.Message(err))
		}
	}
	// An admin API key needs a management scope besides the role.
	_, err := f.svc.GetCollection(as(t, "adminKey"), "notes")
	wantKind(t, err, fault.Forbidden)
	viewer := auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindAPIKey, ID: "k-view",
		Roles: []string{auth.RoleAdmin}, Scopes: []string{auth.ScopeCollectionsView}})
	if _, err := f.svc.GetCollection(viewer, "notes"); err != nil {
		t.Fatalf("admin API key with %s: %v", auth.ScopeCollectionsView, err)
	}
	err = f.svc.DeleteCollection(viewer, "notes", nil)
	wantKind(t, err, fault.Forbidden)
	cs, err := f.svc.ListCollections(as(t, "admin"))
	if err != nil || len(cs) != 1 || cs[0].Version != 1 {
		t.Fatalf("collections after refused changes = %v, %v", cs, err)
	}
}

// TestAccessDefinition checks how collections take rules and hidden
// fields: validation with pointers, the canonical shape, and the re-check
// of rules when the schema changes.
func TestAccessDefinition(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	admin := as(t, "admin")
	c, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: "plain", Schema: json.RawMessage(notesSchema)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), `"rules":{"list":null,"get":null,"create":null,"update":null,"delete":null},"hiddenFields":[]`) {
		t.Errorf("canonical collection = %s", b)
	}

	bad := []struct {
		name    string
		rules   docstore.Rules
		hidden  []string
		pointer string
	}{
		{"syntax", docstore.Rules{List: rule(`owner = `)}, nil, "/rules/list"},
		{"unknown field", docstore.Rules{Get: rule(`nope = @auth.id`)}, nil, "/rules/get"},
		{"blank", docstore.Rules{Delete: rule("  ")}, nil, "/rules/delete"},
		{"bad reference", docstore.Rules{Update: rule(`owner = @auth.nope`)}, nil, "/rules/update"},
		{"system field hidden", docstore.Rules{}, []string{"id"}, "/hiddenFields/0"},
		{"collection hidden", docstore.Rules{}, []string{"title", "collection"}, "/hiddenFields/1"},
		{"unknown hidden", docstore.Rules{}, []string{"nope"}, "/hiddenFields/0"},
		{"duplicate hidden", docstore.Rules{}, []string{"secret", "secret"}, "/hiddenFields/1"},
		{"too many hidden", docstore.Rules{}, make([]string, 65), "/hiddenFields"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: "bad", Schema: json.RawMessage(notesSchema),
				Rules: tc.rules, HiddenFields: tc.hidden})
			wantKind(t, err, fault.Validation)
			if fs := fault.FieldsOf(err); len(fs) == 0 || fs[0].Pointer != tc.pointer {
				t.Errorf("fields = %v, want pointer %s", fs, tc.pointer)
			}
		})
	}

	f.createNotes(t, "notes", docstore.Rules{List: rule(`owner = @auth.id`), Get: rule("")})
	// A schema change that leaves a rule without its field is refused, by
	// PUT and by PATCH; so is one that drops a hidden field.
	noOwner := json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"secret":{"type":"string"}}}`)
	_, err = f.svc.ReplaceCollection(admin, "notes", docstore.CollectionSpec{Schema: noOwner,
		Rules: docstore.Rules{List: rule(`owner = @auth.id`)}}, nil)
	wantKind(t, err, fault.Validation)
	if fs := fault.FieldsOf(err); len(fs) == 0 || fs[0].Pointer != "/rules/list" {
		t.Errorf("fields = %v", fs)
	}
	_, err = f.svc.PatchCollection(admin, "notes", data(t, `{"schema":{"properties":{"owner":null}}}`), nil)
	wantKind(t, err, fault.Validation)
	if fs := fault.FieldsOf(err); len(fs) == 0 || fs[0].Pointer != "/rules/list" {
		t.Errorf("fields = %v", fs)
	}
	_, err = f.svc.PatchCollection(admin, "notes", data(t, `{"schema":{"properties":{"author":{"properties":{"email":null}}}}}`), nil)
	wantKind(t, err, fault.Validation)
	if fs := fault.FieldsOf(err); len(fs) == 0 || fs[0].Pointer != "/hiddenFields/1" {
		t.Errorf("fields = %v", fs)
	}
	for _, patch := range []string{`{"rules":{"bogus":""}}`, `{"rules":{"list":1}}`, `{"rules":"x"}`, `{"hiddenFields":[1]}`, `{"hiddenFields":"secret"}`} {
		_, err = f.svc.PatchCollection(admin, "notes", data(t, patch), nil)
		wantKind(t, err, fault.Invalid)
	}

	// PATCH merges rules: null removes one, "" opens one, the rest stay.
	got, err := f.svc.PatchCollection(admin, "notes", data(t, `{"rules":{"list":null,"create":""},"hiddenFields":["author.email"]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rules.List != nil || got.Rules.Get == nil || *got.Rules.Get != "" || got.Rules.Create == nil || *got.Rules.Create != "" ||
		got.Rules.Update != nil || len(got.HiddenFields) != 1 || got.Version != 2 {
		t.Fatalf("patched = %+v", got)
	}
	read, err := f.svc.GetCollection(admin, "notes")
	if err != nil || !read.Rules.Equal(got.Rules) || read.HiddenFields[0] != "author.email" {
		t.Fatalf("read back = %+v, %v", read, err)
	}
	// PUT replaces the whole definition: what it leaves out is reset.
	got, err = f.svc.ReplaceCollection(admin, "notes", docstore.CollectionSpec{Schema: json.RawMessage(notesSchema)}, nil)
	if err != nil || got.Rules.Get != nil || got.Rules.Create != nil || len(got.HiddenFields) != 0 {
		t.Fatalf("replaced = %+v, %v", got, err)
	}
}

// TestAccessRuleChangesApply checks that a definition change applies at
// once to later requests of the process that made it, and to another
// process whose DefinitionTTL is negative.
func TestAccessRuleChangesApply(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	second, err := docstore.NewService(f.store, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)), DefinitionTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	f.createNotes(t, "notes", docstore.Rules{Get: rule("")})
	f.seedNotes(t, "notes")
	other := as(t, "other")
	for _, svc := range []*docstore.Service{f.svc, second} {
		d, err := svc.GetDocument(other, "notes", "d1")
		if err != nil || hasSecret(d) {
			t.Fatalf("get before the change = %s, %v", d.Data, err)
		}
	}
	if _, err := f.svc.PatchCollection(as(t, "admin"), "notes", data(t, `{"rules":{"get":"owner = @auth.id"},"hiddenFields":[]}`), nil); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*docstore.Service{f.svc, second} {
		_, err := svc.GetDocument(other, "notes", "d1")
		wantKind(t, err, fault.NotFound)
		d, err := svc.GetDocument(as(t, "owner"), "notes", "d1")
		if err != nil || !strings.Contains(string(d.Data), `"secret"`) {
			t.Fatalf("the owner's get after the change = %s, %v", d.Data, err)
		}
	}
}

// TestAccessRefusalsDoNotRevealExistence checks that a refusal that does
// not depend on the document is the same for a document that exists and
// one that does not.
func TestAccessRefusalsDoNotRevealExistence(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	f.createNotes(t, "notes", docstore.Rules{List: rule(""), Get: rule("")})
	f.seedNotes(t, "notes")
	for who, want := range map[string]fault.Kind{"anon": fault.Unauthenticated, "owner": fault.Forbidden} {
		ctx := as(t, who)
		for _, id := range []string{"d1", "missing"} {
			_, err := f.svc.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: "notes", ID: id, Data: data(t, `{}`)})
			wantKind(t, err, want)
			_, err = f.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: "notes", ID: id, Patch: data(t, `{}`)})
			wantKind(t, err, want)
			err = f.svc.DeleteDocument(ctx, docstore.DeleteRequest{Collection: "notes", ID: id, IfMatch: docstore.Version(7)})
			wantKind(t, err, want)
			_, err = f.svc.Batch(ctx, []docstore.BatchOp{{Op: docstore.OpPatch, Collection: "notes", ID: id, Data: data(t, `{}`)}}, "")
			wantKind(t, err, want)
		}
	}
}
