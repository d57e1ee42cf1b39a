package docstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
)

// countingStore records the counts the service asks its store for.
type countingStore struct {
	docstore.Store
	mu     sync.Mutex
	counts []docstore.CountParams
}

func (s *countingStore) CountDocuments(ctx context.Context, p docstore.CountParams) (int64, error) {
	s.mu.Lock()
	s.counts = append(s.counts, p)
	s.mu.Unlock()
	return s.Store.CountDocuments(ctx, p)
}

// take returns the counts recorded since the last call.
func (s *countingStore) take() []docstore.CountParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.counts
	s.counts = nil
	return out
}

// TestListTotalCap checks the total of a list under a cap of 5: exact up
// to the cap, the cap and TotalCapped beyond; the same on every page
// (whatever the cursor); taken from the page itself when the first page is
// the last; through the caller's list rule; on both engines.
func TestListTotalCap(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run("engine="+engine, func(t *testing.T) {
			t.Parallel()
			st := &countingStore{Store: openEngine(t, engine)}
			svc, err := docstore.NewService(st, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)),
				Limits: docstore.Limits{ListTotalCap: 5}})
			if err != nil {
				t.Fatal(err)
			}
			f := &accessFixture{svc: svc}
			f.createNotes(t, "notes", docstore.Rules{List: rule(`owner = @auth.id`)})
			admin := as(t, "admin")
			for i := range 20 {
				owner := []string{"u1", "u2"}[i%2] // u1 owns n00, n02, …, n18
				body := fmt.Sprintf(`{"title":"n%02d","owner":%q}`, i, owner)
				if _, err := svc.CreateDocument(admin, docstore.CreateRequest{Collection: "notes", ID: fmt.Sprintf("n%02d", i), Data: data(t, body)}); err != nil {
					t.Fatal(err)
				}
			}
			st.take()
			for _, c := range []struct {
				who, filter string
				limit       int
				total       int64
				capped      bool
				counted     bool // a count was needed (the first page is not the last)
			}{
				{"admin", `id >= "n16"`, 2, 4, false, true}, // below the cap
				{"admin", `id >= "n15"`, 2, 5, false, true}, // at the cap
				{"admin", `id >= "n14"`, 2, 5, true, true},  // above it
				{"admin", ``, 2, 5, true, true},
				{"admin", `id >= "n16"`, 10, 4, false, false}, // the whole list in one page
				{"admin", ``, 50, 5, true, false},             // idem, above the cap
				{"owner", `id >= "n12"`, 1, 4, false, true},   // the rule leaves n12 n14 n16 n18
				{"owner", `id >= "n10"`, 1, 5, false, true},
				{"owner", `id >= "n08"`, 1, 5, true, true},
				{"owner", ``, 1, 5, true, true},
				{"owner", `id >= "n12"`, 10, 4, false, false},
				{"anon", ``, 1, 0, false, false}, // a rule that never holds
			} {
				what := fmt.Sprintf("%s: filter %q, limit %d", c.who, c.filter, c.limit)
				cursor, pages := "", 0
				for {
					page, err := svc.ListDocuments(as(t, c.who), docstore.ListRequest{Collection: "notes", Filter: c.filter,
						Limit: c.limit, Cursor: cursor, Total: true})
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					if page.Total == nil || *page.Total != c.total || page.TotalCapped != c.capped {
						t.Errorf("%s, page %d: total %v capped %v, want %d capped %v", what, pages+1, page.Total, page.TotalCapped, c.total, c.capped)
					}
					pages++
					if page.NextCursor == "" {
						break
					}
					cursor = page.NextCursor
				}
				counts := st.take()
				if got := len(counts) > 0; got != c.counted {
					t.Errorf("%s: counted %v, want %v", what, got, c.counted)
				}
				if c.counted && len(counts) != pages {
					t.Errorf("%s: %d counts for %d pages", what, len(counts), pages)
				}
				for _, p := range counts {
					if p.Limit != 6 || p.Collection != "notes" {
						t.Errorf("%s: count %+v, want limit 6 (the cap and one) in notes", what, p)
					}
				}
			}
			// Without a total, nothing is counted and nothing is said.
			page, err := svc.ListDocuments(admin, docstore.ListRequest{Collection: "notes", Limit: 2})
			if err != nil || page.Total != nil || page.TotalCapped || len(st.take()) != 0 {
				t.Fatalf("list without total: total %v capped %v, %v", page.Total, page.TotalCapped, err)
			}
		})
	}
}

// TestListTotalCapDefaults checks the cap's default and its upper bound.
func TestListTotalCapDefaults(t *testing.T) {
	if got := docstore.DefaultLimits().ListTotalCap; got != 10_000 {
		t.Fatalf("default cap %d, want 10000", got)
	}
	st := &countingStore{Store: openEngine(t, "sqlite")}
	for i, c := range []struct{ cap, want int }{{0, 10_000}, {-1, 10_000}, {3, 3}, {docstore.MaxListTotalCap + 1, docstore.MaxListTotalCap}} {
		svc, err := docstore.NewService(st, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)),
			Limits: docstore.Limits{ListTotalCap: c.cap}})
		if err != nil {
			t.Fatal(err)
		}
		f := &accessFixture{svc: svc}
		name := fmt.Sprintf("cap%d", i)
		f.createNotes(t, name, docstore.Rules{})
		for i := range 2 {
			if _, err := svc.CreateDocument(as(t, "admin"), docstore.CreateRequest{Collection: name, Data: data(t, fmt.Sprintf(`{"title":"t%d"}`, i))}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.ListDocuments(as(t, "admin"), docstore.ListRequest{Collection: name, Limit: 1, Total: true}); err != nil {
			t.Fatal(err)
		}
		counts := st.take()
		if len(counts) != 1 || counts[0].Limit != int64(c.want)+1 {
			t.Errorf("cap %d: counts %+v, want one with limit %d", c.cap, counts, c.want+1)
		}
	}
}
