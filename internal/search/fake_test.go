package search

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/vector"
)

// memText is a searchdb.Store for the service's tests: it reads the
// documents from the real document store and matches words in memory.
// Exact: every query word is a word of the text fields; fuzzy: every query
// word is within one edit of one. Score: the weighted count of matched
// words (fuzzy: half of it). It also holds stored vectors.
type memText struct {
	docs docstore.Store

	mu      sync.Mutex
	vectors map[string]searchdb.StoredVector // collection/field/id
	calls   []searchdb.TextQuery
}

var _ searchdb.Store = (*memText)(nil)

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func near(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) < 3 || len(b) < 3 {
		return false
	}
	// One substitution, insertion or deletion.
	if len(a) == len(b) {
		diff := 0
		for i := range a {
			if a[i] != b[i] {
				diff++
			}
		}
		return diff == 1
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) != 1 {
		return false
	}
	for i := 0; i <= len(a); i++ {
		if a[:i]+b[i:i+1]+a[i:] == b {
			return true
		}
	}
	return false
}

func idSort() []query.SortKey {
	return []query.SortKey{{Field: query.Field{System: query.SystemID, Type: query.TypeString}}}
}

func (m *memText) SearchText(ctx context.Context, q searchdb.TextQuery) ([]searchdb.TextHit, error) {
	m.mu.Lock()
	m.calls = append(m.calls, q)
	m.mu.Unlock()
	order := q.Sort
	var after []any
	if order == nil {
		order = idSort()
	} else {
		after = q.After
	}
	docs, err := m.docs.ListDocuments(ctx, docstore.ListParams{Collection: q.Collection, Filter: q.Filter, Sort: order, After: after, Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	qw := words(q.Query)
	var hits []searchdb.TextHit
	for _, d := range docs {
		var data map[string]any
		if err := jsonUnmarshal(d.Data, &data); err != nil {
			return nil, err
		}
		score := 0.0
		matched := map[string]bool{}
		for _, w := range qw {
			found := false
			for f, weight := range q.Text.Fields {
				s, _ := data[f].(string)
				for _, tw := range words(s) {
					if (q.Fuzzy && near(w, tw)) || (!q.Fuzzy && w == tw) {
						found = true
						matched[tw] = true
						score += float64(weight)
					}
				}
			}
			if !found {
				score = -1
				break
			}
		}
		if score <= 0 {
			continue
		}
		if q.Fuzzy {
			score /= 2
		}
		hl := map[string]string{}
		for _, f := range q.Highlight {
			s, _ := data[f].(string)
			var b strings.Builder
			any := false
			for i, tw := range strings.Fields(s) {
				if i > 0 {
					b.WriteByte(' ')
				}
				if ws := words(tw); len(ws) == 1 && matched[ws[0]] {
					b.WriteString(searchdb.MarkStart + tw + searchdb.MarkEnd)
					any = true
				} else {
					b.WriteString(tw)
				}
			}
			if any {
				hl[f] = b.String()
			}
		}
		hits = append(hits, searchdb.TextHit{Document: d, Score: score, Highlights: hl})
	}
	if q.Sort == nil {
		slices.SortFunc(hits, func(a, b searchdb.TextHit) int {
			if c := cmp.Compare(b.Score, a.Score); c != 0 {
				return c
			}
			return cmp.Compare(a.Document.ID, b.Document.ID)
		})
		if q.After != nil {
			s, id := q.After[0].(float64), q.After[1].(string)
			i := 0
			for i < len(hits) && !after2(hits[i].Score, hits[i].Document.ID, s, id) {
				i++
			}
			hits = hits[i:]
		}
	}
	if len(hits) > q.Limit {
		hits = hits[:q.Limit]
	}
	return hits, nil
}

func after2(score float64, id string, s float64, atID string) bool { return after(score, id, s, atID) }

func (m *memText) TextStatus(context.Context, string) (searchdb.BuildStatus, error) {
	return searchdb.BuildStatus{Indexed: 3, Total: 4, Building: true}, nil
}

func (m *memText) BuildText(context.Context, string, int) (bool, error) { return true, nil }

func (m *memText) PutVectors(_ context.Context, vs []searchdb.StoredVector, _ func(searchdb.StoredVector) (eventbus.Event, error)) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vectors == nil {
		m.vectors = map[string]searchdb.StoredVector{}
	}
	for _, v := range vs {
		m.vectors[v.Collection+"/"+v.Field+"/"+v.DocumentID] = v
	}
	return len(vs), nil
}

func (m *memText) GetVectors(_ context.Context, collection, field string, ids []string) ([]searchdb.StoredVector, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []searchdb.StoredVector
	for _, id := range ids {
		if v, ok := m.vectors[collection+"/"+field+"/"+id]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

func (m *memText) ListVectors(context.Context, string, string, string, int) ([]searchdb.StoredVector, error) {
	return nil, fault.New(fault.Internal, "memText", "not used")
}

// fakeVectors is a VectorSource over indexes the test fills.
type fakeVectors struct {
	mu      sync.Mutex
	indexes map[string]vector.Index
	states  map[string]VectorState
	err     error
}

func (f *fakeVectors) Vectors(collection, field string) (vector.Index, VectorState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, VectorState{}, f.err
	}
	idx, ok := f.indexes[collection+"/"+field]
	if !ok {
		return nil, VectorState{}, fault.New(fault.NotFound, "fakeVectors", fmt.Sprintf("no index of %s/%s", collection, field))
	}
	return idx, f.states[collection+"/"+field], nil
}
