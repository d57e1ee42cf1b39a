package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
)

type sortCase struct {
	name   string
	filter query.Expr
	sort   []query.SortKey
	want   []string
}

func asc(f query.Field) query.SortKey  { return query.SortKey{Field: f} }
func desc(f query.Field) query.SortKey { return query.SortKey{Field: f, Desc: true} }

func sortCases() []sortCase {
	var (
		id      = sys(query.SystemID)
		name    = field(query.TypeString, "name")
		score   = field(query.TypeNumber, "score")
		count   = field(query.TypeInteger, "count")
		active  = field(query.TypeBoolean, "active")
		aName   = field(query.TypeString, "author", "name")
		aAge    = field(query.TypeInteger, "author", "age")
		version = sys(query.SystemVersion)
		created = sys(query.SystemCreatedAt)
		updated = sys(query.SystemUpdatedAt)
	)
	ids := strings.Fields
	return []sortCase{
		{"id", nil, []query.SortKey{asc(id)}, ids("d01 d02 d03 d04 d05 d06 d07 d08 d09 d10 d11 d12")},
		{"-id", nil, []query.SortKey{desc(id)}, ids("d12 d11 d10 d09 d08 d07 d06 d05 d04 d03 d02 d01")},
		{"score,id", nil, []query.SortKey{asc(score), asc(id)},
			ids("d06 d08 d03 d11 d04 d02 d09 d12 d01 d07 d05 d10")},
		{"-score,id", nil, []query.SortKey{desc(score), asc(id)},
			ids("d05 d10 d01 d07 d12 d09 d02 d04 d11 d03 d06 d08")},
		{"-score,-id", nil, []query.SortKey{desc(score), desc(id)},
			ids("d10 d05 d07 d01 d12 d09 d02 d04 d11 d03 d08 d06")},
		{"active,-name,id", nil, []query.SortKey{asc(active), desc(name), asc(id)},
			ids("d06 d04 d08 d05 d12 d02 d09 d10 d11 d03 d01 d07")},
		{"author.name,-author.age,-id", nil, []query.SortKey{asc(aName), desc(aAge), desc(id)},
			ids("d11 d09 d08 d07 d06 d04 d01 d12 d03 d05 d10 d02")},
		{"-createdAt,id", nil, []query.SortKey{desc(created), asc(id)},
			ids("d12 d11 d10 d09 d08 d07 d06 d05 d04 d03 d02 d01")},
		{"-updatedAt,id", nil, []query.SortKey{desc(updated), asc(id)},
			ids("d05 d12 d11 d10 d09 d08 d07 d06 d04 d03 d02 d01")},
		{"-version,id", nil, []query.SortKey{desc(version), asc(id)},
			ids("d09 d05 d01 d02 d03 d04 d06 d07 d08 d10 d11 d12")},
		{"name,id", nil, []query.SortKey{asc(name), asc(id)},
			ids("d08 d09 d07 d04 d01 d03 d11 d10 d02 d12 d05 d06")},
		{"-count,id", nil, []query.SortKey{desc(count), asc(id)},
			ids("d05 d07 d12 d04 d10 d01 d09 d03 d02 d11 d06 d08")},
		{"score > 0 sort -score,id", cmp(score, query.OpGt, num(0)), []query.SortKey{desc(score), asc(id)},
			ids("d05 d10 d01 d07 d12 d09 d02")},
		{"active != true sort score,-id", cmp(active, query.OpNe, boolean(true)), []query.SortKey{asc(score), desc(id)},
			ids("d08 d06 d04 d02 d09 d12 d05")},
	}
}

func testSort(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	for _, c := range sortCases() {
		if got := list(t, s, c.filter, c.sort); !sameIDs(got, c.want) {
			t.Errorf("sort %s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// afterOf returns the keyset position of d under sort, as the service
// builds it for a cursor.
func afterOf(t *testing.T, d docstore.Document, sort []query.SortKey) []any {
	t.Helper()
	var data any
	dec := json.NewDecoder(bytes.NewReader(d.Data))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		t.Fatalf("decode %s: %v", d.Data, err)
	}
	out := make([]any, len(sort))
	for i, k := range sort {
		switch k.Field.System {
		case query.SystemID:
			out[i] = d.ID
		case query.SystemVersion:
			out[i] = d.Version
		case query.SystemCreatedAt:
			out[i] = d.CreatedAt
		case query.SystemUpdatedAt:
			out[i] = d.UpdatedAt
		default:
			v := data
			for _, p := range k.Field.Path {
				m, _ := v.(map[string]any)
				v = m[p]
			}
			out[i] = v
		}
	}
	return out
}

// walk lists every page of a query with the given page size.
func walk(t *testing.T, s docstore.Store, coll string, filter query.Expr, sort []query.SortKey, limit int,
	between func()) []string {
	t.Helper()
	var all []string
	var after []any
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("pagination does not end")
		}
		docs, err := s.ListDocuments(context.Background(), docstore.ListParams{Collection: coll, Filter: filter,
			Sort: sort, After: after, Limit: limit})
		wantOK(t, "ListDocuments", err)
		if len(docs) > limit {
			t.Fatalf("page of %d documents, limit %d", len(docs), limit)
		}
		all = append(all, ids(docs)...)
		if len(docs) < limit {
			return all
		}
		after = afterOf(t, docs[len(docs)-1], sort)
		if between != nil {
			between()
		}
	}
}

func testPagination(t *testing.T, s docstore.Store) {
	loadFixture(t, s)
	for _, c := range sortCases() {
		for limit := 1; limit <= 3; limit++ {
			if got := walk(t, s, "fx", c.filter, c.sort, limit, nil); !sameIDs(got, c.want) {
				t.Errorf("sort %s, pages of %d: got %v, want %v", c.name, limit, got, c.want)
			}
		}
	}
}

// testPaginationConcurrent walks pages while other goroutines insert
// documents: no id may appear twice and every document that existed
// before the walk must appear exactly once.
func testPaginationConcurrent(t *testing.T, s docstore.Store) {
	createCollection(t, s, collection("fx", docstore.Index{Fields: []string{"score"}}))
	const before = 40
	var docs []docstore.Document
	for i := 0; i < before; i++ {
		docs = append(docs, doc("fx", fmt.Sprintf("p%03d", i), fmt.Sprintf(`{"score":%d}`, (i*7)%13)))
	}
	insert(t, s, docs...)

	const writers = 3
	var wg sync.WaitGroup
	requests := make([]chan int, writers)
	done := make(chan struct{}, writers)
	for w := 0; w < writers; w++ {
		requests[w] = make(chan int)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for page := range requests[w] {
				d := doc("fx", fmt.Sprintf("n%d-%03d", w, page), fmt.Sprintf(`{"score":%d}`, (page*5+w)%15))
				err := s.Write(context.Background(), func(tx docstore.Tx) error {
					return tx.InsertDocument(context.Background(), d)
				})
				if err != nil {
					t.Errorf("concurrent insert: %v", err)
				}
				done <- struct{}{}
			}
		}(w)
	}
	page := 0
	between := func() {
		// Each writer inserts one document while the walk is paused between
		// pages, so every page boundary sees new rows on both sides.
		for w := range requests {
			requests[w] <- page
		}
		for range requests {
			<-done
		}
		page++
	}
	sortKeys := []query.SortKey{asc(field(query.TypeNumber, "score")), asc(sys(query.SystemID))}
	got := walk(t, s, "fx", nil, sortKeys, 3, between)
	for w := range requests {
		close(requests[w])
	}
	wg.Wait()

	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
		if seen[id] > 1 {
			t.Fatalf("id %s seen twice", id)
		}
	}
	for _, d := range docs {
		if seen[d.ID] != 1 {
			t.Fatalf("pre-existing document %s seen %d times", d.ID, seen[d.ID])
		}
	}
	if page == 0 {
		t.Fatalf("no insert happened during the walk")
	}
}
