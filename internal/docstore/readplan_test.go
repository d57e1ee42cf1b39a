package docstore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// TestReadPlanAuthorizesLikeList runs PlanRead as every caller under every
// kind of rule, on both engines: it refuses exactly whom ListDocuments
// refuses, and the documents it admits (GetDocuments, Match) are exactly
// those the list shows, shown the same way.
func TestReadPlanAuthorizesLikeList(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		kinds := ruleKinds()
		all := []string{"d2", "nope", "d1", "d1", "not an id!"}
		for i, row := range accessTable() {
			name := fmt.Sprintf("p%02d", i)
			f.createNotes(t, name, kinds[row.rules])
			f.seedNotes(t, name)
			ctx := as(t, row.who)
			at := fmt.Sprintf("rules=%s who=%s", row.rules, row.who)

			p, err := f.svc.PlanRead(ctx, docstore.ReadRequest{Collection: name})
			if strings.HasPrefix(row.list, "!") {
				if got := outcome(err); got != row.list[1:] {
					t.Errorf("%s: PlanRead = %s (%v), want %s", at, got, err, row.list[1:])
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: PlanRead: %v", at, err)
				continue
			}
			admin := row.who == "admin" || row.who == "adminKey"
			if p.Admin() != admin || p.Collection().Name != name || p.Sort() != nil {
				t.Errorf("%s: admin %v collection %q sort %v", at, p.Admin(), p.Collection().Name, p.Sort())
			}
			docs, err := f.svc.GetDocuments(t.Context(), p, all)
			if err != nil {
				t.Fatalf("%s: GetDocuments: %v", at, err)
			}
			var got []string
			for _, d := range docs {
				s, err := p.Show(d)
				if err != nil {
					t.Fatal(err)
				}
				if hasSecret(s) != admin {
					t.Errorf("%s: shown %s", at, s.Data)
				}
				got = append(got, s.ID)
			}
			// GetDocuments answers in the order asked, once per id.
			want := map[string]string{"": "", "d1": "d1", "d2": "d2", "d1,d2": "d2,d1"}[row.list]
			if strings.Join(got, ",") != want {
				t.Errorf("%s: GetDocuments = %v, want %q", at, got, want)
			}
			if p.None() && row.list != "" {
				t.Errorf("%s: None = %v", at, p.None())
			}
			// Match decides in memory what the store decided.
			for _, id := range []string{"d1", "d2"} {
				d, err := f.svc.GetDocument(as(t, "admin"), name, id)
				if err != nil {
					t.Fatal(err)
				}
				ok, err := p.Match(d)
				if err != nil {
					t.Fatal(err)
				}
				if ok != strings.Contains(row.list, id) {
					t.Errorf("%s: Match(%s) = %v", at, id, ok)
				}
			}
		}
	})
}

// TestReadPlan checks what a plan parses, shows and binds its cursors to.
func TestReadPlan(t *testing.T) {
	f := newAccessFixture(t, "sqlite")
	f.createNotes(t, "notes", docstore.Rules{List: rule(`owner = @auth.id`)})
	f.seedNotes(t, "notes")
	if _, err := f.svc.CreateDocument(as(t, "admin"), docstore.CreateRequest{Collection: "notes", ID: "d3",
		Data: data(t, `{"title":"three","owner":"u1","secret":"s3"}`)}); err != nil {
		t.Fatal(err)
	}
	owner, admin := as(t, "owner"), as(t, "admin")

	// Hidden fields are unknown to callers who are not admins, in filter,
	// sort and fields alike; admins may name them.
	for _, r := range []docstore.ReadRequest{
		{Collection: "notes", Filter: `secret = "open"`},
		{Collection: "notes", Sort: "secret"},
		{Collection: "notes", Fields: "author.email"},
		{Collection: "notes", Filter: `title =`},
		{Collection: "Notes"},
	} {
		_, err := f.svc.PlanRead(owner, r)
		wantKind(t, err, fault.Invalid)
		if r.Collection == "notes" && r.Filter != `title =` {
			if _, err := f.svc.PlanRead(admin, r); err != nil {
				t.Errorf("admin %+v: %v", r, err)
			}
		}
	}
	_, err := f.svc.PlanRead(owner, docstore.ReadRequest{Collection: "missing"})
	wantKind(t, err, fault.NotFound)

	p, err := f.svc.PlanRead(owner, docstore.ReadRequest{Collection: "notes", Filter: `title != "one"`, Sort: "-title", Fields: "title,secret"})
	if err == nil {
		t.Fatalf("fields naming a hidden field: plan %+v", p)
	}
	p, err = f.svc.PlanRead(owner, docstore.ReadRequest{Collection: "notes", Filter: `title != "one"`, Sort: " -title ", Fields: "title"})
	if err != nil {
		t.Fatal(err)
	}
	keys := p.Sort()
	if len(keys) != 2 || keys[0].Field.Name() != "title" || !keys[0].Desc || keys[1].Field.Name() != "id" {
		t.Errorf("sort = %+v", keys)
	}
	if p.Filter() == nil || p.None() {
		t.Errorf("filter %v none %v", p.Filter(), p.None())
	}
	// The owner's rule and filter admit d3 only (d1 is "one", d2 not
	// theirs); shown with the selected field only.
	docs, err := f.svc.GetDocuments(t.Context(), p, []string{"d1", "d2", "d3"})
	if err != nil || len(docs) != 1 || docs[0].ID != "d3" {
		t.Fatalf("GetDocuments = %v, %v", docs, err)
	}
	if !strings.Contains(string(docs[0].Data), `"secret"`) {
		t.Errorf("GetDocuments returns documents as stored, got %s", docs[0].Data)
	}
	shown, err := p.Show(docs[0])
	if err != nil || string(shown.Data) != `{"title":"three"}` || shown.Version != 1 {
		t.Errorf("shown = %s, %v", shown.Data, err)
	}
	// Without a field selection, only the hidden fields go.
	all, err := f.svc.PlanRead(owner, docstore.ReadRequest{Collection: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	shown, err = all.Show(docs[0])
	if err != nil || string(shown.Data) != `{"owner":"u1","title":"three"}` {
		t.Errorf("shown = %s, %v", shown.Data, err)
	}
	adminPlan, err := f.svc.PlanRead(admin, docstore.ReadRequest{Collection: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	if shown, err = adminPlan.Show(docs[0]); err != nil || !strings.Contains(string(shown.Data), `"secret":"s3"`) {
		t.Errorf("admin shown = %s, %v", shown.Data, err)
	}
	if adminPlan.Filter() != nil || adminPlan.None() {
		t.Errorf("admin filter %v none %v", adminPlan.Filter(), adminPlan.None())
	}

	// Fingerprints differ by filter, sort, caller and extra.
	fp := string(p.Fingerprint("q", "text"))
	p2, err := f.svc.PlanRead(owner, docstore.ReadRequest{Collection: "notes", Filter: `title != "one"`, Sort: " -title ", Fields: "title"})
	if err != nil {
		t.Fatal(err)
	}
	if string(p2.Fingerprint("q", "text")) != fp {
		t.Error("the same read has another fingerprint")
	}
	other, err := f.svc.PlanRead(as(t, "other"), docstore.ReadRequest{Collection: "notes", Filter: `title != "one"`, Sort: " -title ", Fields: "title"})
	if err != nil {
		t.Fatal(err)
	}
	for what, g := range map[string][]byte{
		"another caller": other.Fingerprint("q", "text"), "another extra": p.Fingerprint("q", "vector"),
		"extras joined": p.Fingerprint("qtext"), "no extra": p.Fingerprint(), "another read": all.Fingerprint("q", "text"),
	} {
		if string(g) == fp {
			t.Errorf("%s has the same fingerprint", what)
		}
	}

	// Cursors: the state comes back for the read it was signed for only.
	state := json.RawMessage(`{"offset":20,"after":["x"]}`)
	cur := f.svc.SignCursor(p.Fingerprint("q"), state)
	got, err := f.svc.OpenCursor("search", cur, p2.Fingerprint("q"))
	if err != nil || string(got) != string(state) {
		t.Fatalf("OpenCursor = %s, %v", got, err)
	}
	bad := map[string]struct{ cursor, want string }{
		"another read":   {cur, "it belongs to a different query"},
		"another caller": {f.svc.SignCursor(other.Fingerprint("q"), state), "it belongs to a different query"},
		"tampered":       {cur[:len(cur)-3] + "AAA", "not a cursor issued by this server"},
		"not base64":     {"!!!", "not a cursor issued by this server"},
		"too long":       {strings.Repeat("A", 2049), "too long"},
		"foreign key":    {foreignCursor(t, p.Fingerprint("q"), state), "not a cursor issued by this server"},
	}
	for what, b := range bad {
		fpWant := p.Fingerprint("q")
		if what == "another read" {
			fpWant = p.Fingerprint("other")
		}
		_, err := f.svc.OpenCursor("search", b.cursor, fpWant)
		wantKind(t, err, fault.Invalid)
		if !strings.Contains(fault.Message(err), "invalid cursor: "+b.want) {
			t.Errorf("%s: %v", what, err)
		}
	}
	// A list cursor is no search cursor, and the other way round.
	page, err := f.svc.ListDocuments(admin, docstore.ListRequest{Collection: "notes", Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("list: %v", err)
	}
	_, err = f.svc.OpenCursor("search", page.NextCursor, adminPlan.Fingerprint())
	wantKind(t, err, fault.Invalid)
	_, err = f.svc.ListDocuments(admin, docstore.ListRequest{Collection: "notes", Limit: 1,
		Cursor: f.svc.SignCursor(adminPlan.Fingerprint(), state)})
	wantKind(t, err, fault.Invalid)

	// Keyset positions round-trip in the types ListParams.After takes.
	raw, err := docstore.EncodeAfter(keys, docs[0])
	if err != nil {
		t.Fatal(err)
	}
	after, err := docstore.DecodeAfter(keys, raw)
	if err != nil || fmt.Sprint(after) != "[three d3]" {
		t.Errorf("after = %v, %v", after, err)
	}
	_, err = docstore.DecodeAfter(keys, raw[:1])
	wantKind(t, err, fault.Invalid)
	_, err = docstore.DecodeAfter(keys, []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`"d3"`)})
	wantKind(t, err, fault.Invalid)
}

// foreignCursor is a cursor signed with another server's key.
func foreignCursor(t *testing.T, fp []byte, state json.RawMessage) string {
	t.Helper()
	svc, err := docstore.NewService(openEngine(t, "sqlite"), docstore.Options{CursorKey: []byte(strings.Repeat("x", 32))})
	if err != nil {
		t.Fatal(err)
	}
	return svc.SignCursor(fp, state)
}

// TestGetDocumentsManyIDs reads more ids than one store query takes.
func TestGetDocumentsManyIDs(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	ctx := adminCtx(t)
	var ops []docstore.BatchOp
	var ids []string
	for i := range 450 {
		id := fmt.Sprintf("p%03d", i)
		if i%3 != 0 {
			ops = append(ops, docstore.BatchOp{Op: docstore.OpCreate, Collection: "posts", ID: id, Data: data(t, fmt.Sprintf(`{"title":"t%d","score":%d}`, i, i%5))})
		}
		ids = append([]string{id}, ids...) // newest first
		if len(ops) == 100 {
			if _, err := f.svc.Batch(ctx, ops, ""); err != nil {
				t.Fatal(err)
			}
			ops = nil
		}
	}
	if len(ops) > 0 {
		if _, err := f.svc.Batch(ctx, ops, ""); err != nil {
			t.Fatal(err)
		}
	}
	p, err := f.svc.PlanRead(ctx, docstore.ReadRequest{Collection: "posts", Filter: "score >= 1"})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := f.svc.GetDocuments(ctx, p, ids)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, id := range ids {
		var n int
		_, _ = fmt.Sscanf(id, "p%d", &n)
		if n%3 != 0 && n%5 != 0 {
			want = append(want, id)
		}
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %d documents, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
}
