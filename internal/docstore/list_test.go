package docstore_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

func seed(t *testing.T, f *fixture, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf(`{"title":"post %02d","score":%d,"tags":["t%d"]}`, i, i%5, i%3)
		if i%4 == 0 {
			body = fmt.Sprintf(`{"title":"post %02d","tags":["t%d"]}`, i, i%3) // no score
		}
		if _, err := f.svc.CreateDocument(adminCtx(t), docstore.CreateRequest{Collection: "posts", ID: fmt.Sprintf("p%02d", i), Data: data(t, body)}); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(p docstore.Page) string {
	var b []string
	for _, d := range p.Items {
		b = append(b, d.ID)
	}
	return strings.Join(b, ",")
}

func TestListFilterSortPaginate(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	seed(t, f, 20)
	ctx := adminCtx(t)

	page, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Filter: `score >= 3 && tags ?= "t1"`, Sort: "-score,title", Total: true})
	if err != nil {
		t.Fatal(err)
	}
	// score>=3: i%5 in {3,4}, i%4!=0 → 3,9,14,18,19 minus i%4==0; tags t1: i%3==1 → 19 (4), and ... compute: 3(t0),9(t0),13(t1,3),14(t2,4),18(t0,3),19(t1,4), 4 and 8 have no score.
	if got := ids(page); got != "p19,p13" || *page.Total != 2 || page.NextCursor != "" {
		t.Fatalf("page = %s total=%v next=%q", got, *page.Total, page.NextCursor)
	}

	// Walk every page of a sort with nulls and ties; the pages must
	// concatenate to the single-page order.
	full, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Sort: "score,-title", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Items) != 20 {
		t.Fatalf("full list has %d items", len(full.Items))
	}
	for _, limit := range []int{1, 3, 7} {
		var walked []string
		cursor := ""
		for range 30 {
			p, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Sort: "score,-title", Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, ids(p))
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if got := strings.Join(walked, ","); got != ids(full) {
			t.Fatalf("limit %d walked %s\nwant %s", limit, got, ids(full))
		}
	}

	// A cursor per item continues after that item, and the last is the
	// page's next cursor; without asking, there are none.
	withCursors, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Sort: "score,-title", Limit: 5, Cursors: true})
	if err != nil || len(withCursors.Cursors) != 5 || withCursors.Cursors[4] != withCursors.NextCursor {
		t.Fatalf("cursors: %v %v", withCursors.Cursors, err)
	}
	for i, c := range withCursors.Cursors {
		p, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Sort: "score,-title", Limit: 1, Cursor: c})
		if err != nil || len(p.Items) != 1 || p.Items[0].ID != full.Items[i+1].ID {
			t.Fatalf("after cursor %d: %s, want %s (%v)", i, ids(p), full.Items[i+1].ID, err)
		}
	}
	if page.Cursors != nil || full.Cursors != nil {
		t.Errorf("cursors not asked for: %v", full.Cursors)
	}

	// Field selection keeps only the named paths.
	p, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Filter: `id = "p01"`, Fields: "title"})
	if err != nil || len(p.Items) != 1 || string(p.Items[0].Data) != `{"title":"post 01"}` {
		t.Fatalf("fields: %+v %v", p.Items, err)
	}
}

func TestListRejectsBadQueries(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	seed(t, f, 5)
	ctx := adminCtx(t)
	first, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Sort: "title", Limit: 2})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %+v %v", first, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(first.NextCursor)
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)/2] ^= 1
	cases := []struct {
		name string
		req  docstore.ListRequest
		msg  string
	}{
		{"unknown field", docstore.ListRequest{Filter: `nope = 1`}, "nope"},
		{"type mismatch", docstore.ListRequest{Filter: `score = "x"`}, ""},
		{"sql in filter", docstore.ListRequest{Filter: `title = 'a'; DROP TABLE docs_posts; --`}, ""},
		{"sql as field", docstore.ListRequest{Filter: `1=1 OR title = "a"`}, ""},
		{"unsortable", docstore.ListRequest{Sort: "tags"}, ""},
		{"sql in sort", docstore.ListRequest{Sort: "title; DROP TABLE x"}, ""},
		{"negative limit", docstore.ListRequest{Limit: -1}, "limit"},
		{"garbage cursor", docstore.ListRequest{Sort: "title", Cursor: "not-a-cursor"}, "cursor"},
		{"tampered cursor", docstore.ListRequest{Sort: "title", Cursor: base64.RawURLEncoding.EncodeToString(tampered)}, "cursor"},
		{"cursor of another query", docstore.ListRequest{Sort: "-title", Cursor: first.NextCursor}, "different query"},
		{"cursor of another filter", docstore.ListRequest{Sort: "title", Filter: "score > 1", Cursor: first.NextCursor}, "different query"},
		{"huge cursor", docstore.ListRequest{Sort: "title", Cursor: strings.Repeat("A", 5000)}, "cursor"},
		{"unknown selected field", docstore.ListRequest{Fields: "nope"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Collection = "posts"
			_, err := f.svc.ListDocuments(ctx, tc.req)
			wantKind(t, err, fault.Invalid)
			if !strings.Contains(fault.Message(err), tc.msg) {
				t.Errorf("message %q lacks %q", fault.Message(err), tc.msg)
			}
		})
	}
	// A cursor from another collection (same filter and sort) is refused.
	if _, err := f.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "other", Schema: []byte(postsSchema)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "other", Sort: "title", Limit: 2, Cursor: first.NextCursor})
	wantKind(t, err, fault.Invalid)
	// Limits above the maximum are capped, not refused.
	p, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "posts", Limit: 1 << 20})
	if err != nil || len(p.Items) != 5 {
		t.Fatalf("capped limit: %v %v", len(p.Items), err)
	}
}

func TestBatchIsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	f.posts(t)
	ctx := adminCtx(t)
	if _, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "posts", ID: "a", Data: data(t, `{"title":"A"}`)}); err != nil {
		t.Fatal(err)
	}
	// The third operation fails in the transaction (stale version): the
	// first two must not remain.
	_, err := f.svc.Batch(ctx, []docstore.BatchOp{
		{Op: docstore.OpCreate, Collection: "posts", ID: "b", Data: data(t, `{"title":"B"}`)},
		{Op: docstore.OpPatch, Collection: "posts", ID: "a", Data: data(t, `{"score":1}`)},
		{Op: docstore.OpDelete, Collection: "posts", ID: "a", IfMatch: 1},
	}, "")
	wantKind(t, err, fault.PreconditionFailed)
	if !strings.HasPrefix(fault.Message(err), "/operations/2") {
		t.Errorf("message %q does not name the operation", fault.Message(err))
	}
	if _, err := f.svc.GetDocument(ctx, "posts", "b"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("document b of a failed batch exists: %v", err)
	}
	if d, _ := f.svc.GetDocument(ctx, "posts", "a"); d.Version != 1 {
		t.Fatalf("document a was changed by a failed batch: %+v", d)
	}
	if evs := f.outbox(t); len(evs) != 1 {
		t.Fatalf("failed batch left outbox rows: %d", len(evs))
	}
	// Validation errors point into the failing operation.
	_, err = f.svc.Batch(ctx, []docstore.BatchOp{
		{Op: docstore.OpCreate, Collection: "posts", Data: data(t, `{"title":"ok"}`)},
		{Op: docstore.OpCreate, Collection: "posts", Data: data(t, `{"score":"x"}`)},
	}, "")
	wantKind(t, err, fault.Validation)
	if fe := fault.FieldsOf(err); len(fe) == 0 || !strings.HasPrefix(fe[0].Pointer, "/operations/1/data") {
		t.Fatalf("fields = %+v", fe)
	}
	_, err = f.svc.Batch(ctx, []docstore.BatchOp{{Op: "upsert", Collection: "posts"}}, "")
	wantKind(t, err, fault.Invalid)

	res, err := f.svc.Batch(ctx, []docstore.BatchOp{
		{Op: docstore.OpCreate, Collection: "posts", ID: "b", Data: data(t, `{"title":"B"}`)},
		{Op: docstore.OpPatch, Collection: "posts", ID: "b", Data: data(t, `{"score":2}`)},
		{Op: docstore.OpReplace, Collection: "posts", ID: "a", IfMatch: 1, Data: data(t, `{"title":"A2"}`)},
		{Op: docstore.OpDelete, Collection: "posts", ID: "a", IfMatch: 2},
	}, "batch-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || res[1].Document.Version != 2 || res[3].Document != nil || res[3].ID != "a" {
		t.Fatalf("results = %+v", res)
	}
	again, err := f.svc.Batch(ctx, []docstore.BatchOp{
		{Op: docstore.OpCreate, Collection: "posts", ID: "b", Data: data(t, `{"title":"B"}`)},
		{Op: docstore.OpPatch, Collection: "posts", ID: "b", Data: data(t, `{"score":2}`)},
		{Op: docstore.OpReplace, Collection: "posts", ID: "a", IfMatch: 1, Data: data(t, `{"title":"A2"}`)},
		{Op: docstore.OpDelete, Collection: "posts", ID: "a", IfMatch: 2},
	}, "batch-1")
	if err != nil || len(again) != 4 || again[0].Document.ID != "b" {
		t.Fatalf("replayed batch = %+v, %v", again, err)
	}
	if evs := f.outbox(t); len(evs) != 5 {
		t.Fatalf("outbox has %d events, want 5", len(evs))
	}
	many := make([]docstore.BatchOp, 101)
	for i := range many {
		many[i] = docstore.BatchOp{Op: docstore.OpDelete, Collection: "posts", ID: "x"}
	}
	_, err = f.svc.Batch(ctx, many, "")
	wantKind(t, err, fault.PayloadTooLarge)
}
