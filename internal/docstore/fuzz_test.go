package docstore_test

import (
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// FuzzListDocuments drives filters and sorts through the whole read path:
// parser, checker, the SQLite compiler and the database. Whatever the input,
// the answer is a page or an Invalid error — never an internal error, which
// would mean the compiler produced SQL the database refused.
func FuzzListDocuments(f *testing.F) {
	seeds := [][2]string{
		{`score >= 3 && tags ?= "t1"`, `-score,title`},
		{`title ~ "post" || !(score < 2)`, `title`},
		{`author.name = null && score in [1, 2, 3]`, `-createdAt`},
		{`tags ?~ "T" && id != "p01"`, `updatedAt,-version`},
		{`title = 'a''; DROP TABLE docs_posts; --'`, `id`},
		{`score not in [0] && createdAt > "2026-01-01T00:00:00Z"`, `-id`},
		{`tags ?!= "t2" || title !~ "%_"`, ``},
		{`((((score = 1))))`, `score`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	fx := newFixtureTB(f)
	fx.postsTB(f)
	for i, body := range []string{
		`{"title":"post 00","score":0,"tags":["t0","t1"],"author":{"name":"Ada"}}`,
		`{"title":"post 01","score":1,"tags":[]}`,
		`{"title":"POST %_ 02","tags":["t2"]}`,
		`{"title":"ünïcode","score":3,"author":{}}`,
	} {
		if _, err := fx.svc.CreateDocument(adminCtx(f), docstore.CreateRequest{Collection: "posts", ID: "p0" + string(rune('0'+i)), Data: dataTB(f, body)}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, filter, sort string) {
		page, err := fx.svc.ListDocuments(adminCtx(t), docstore.ListRequest{Collection: "posts", Filter: filter, Sort: sort, Limit: 2, Total: true})
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("filter %q sort %q: %v error %v", filter, sort, k, err)
			}
			return
		}
		if int64(len(page.Items)) > *page.Total {
			t.Fatalf("page has %d items but total is %d", len(page.Items), *page.Total)
		}
		if page.NextCursor != "" {
			if _, err := fx.svc.ListDocuments(adminCtx(t), docstore.ListRequest{Collection: "posts", Filter: filter, Sort: sort, Limit: 2, Cursor: page.NextCursor}); err != nil {
				t.Fatalf("next page of filter %q sort %q: %v", filter, sort, err)
			}
		}
	})
}
