package search

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/vector"
)

// vectorSide prepares the vector side of a vector or hybrid search: the
// query vector, the field's index, and the answer's pending documents.
func (s *Service) vectorSide(ctx context.Context, r *run, res *Result) ([]float32, vector.Index, error) {
	q, err := s.queryVector(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	idx, st, err := s.index(r)
	if err != nil {
		return nil, nil, err
	}
	if err := s.pending(ctx, r, st, res); err != nil {
		return nil, nil, err
	}
	return q, idx, nil
}

// vectorSearch answers a vector search: the visible documents nearest to
// the query vector, keyset (score, id) over the ranking recomputed on
// every page.
func (s *Service) vectorSearch(ctx context.Context, r *run, res *Result) error {
	q, idx, err := s.vectorSide(ctx, r, res)
	if err != nil {
		return err
	}
	room := min(r.limit, s.limits.MaxDepth-r.cur.Served)
	var at *keyset
	if !r.first {
		at = &keyset{score: r.cur.Score, id: r.cur.ID}
	}
	hits, err := s.nearest(ctx, r, idx, q, at, room+1, r.cur.Served)
	if err != nil {
		return err
	}
	more := len(hits) > room
	if more {
		hits = hits[:room]
	}
	for i, h := range hits {
		d, err := r.plan.Show(h.doc)
		if err != nil {
			return err
		}
		res.Hits = append(res.Hits, Hit{Document: d, Score: h.score,
			Vector: &VectorScore{Score: h.score, Distance: h.distance, Rank: r.cur.Served + i + 1}})
	}
	if !more || r.cur.Served+len(hits) >= s.limits.MaxDepth {
		return nil
	}
	last := hits[len(hits)-1]
	res.NextCursor, err = s.signCursor(r, cursorState{Pages: r.cur.Pages + 1, Served: r.cur.Served + len(hits),
		Score: last.score, ID: last.doc.ID})
	return err
}

// keyset is a position in an order of score descending, id ascending.
type keyset struct {
	score float64
	id    string
}

// vhit is a visible, current document a vector search found.
type vhit struct {
	doc             docstore.Document // as stored: Show it before answering
	score, distance float64
}

// idLister is implemented by a document service that lists the ids of the
// documents a read plan selects.
type idLister interface {
	MatchingIDs(ctx context.Context, p *docstore.ReadPlan, limit int) (ids []string, complete bool, err error)
}

// nearest returns up to want hits of q, in the order score descending, id
// ascending, after the keyset at (nil: from the start), each a document
// the read plan admits whose current vector is the one the index holds
// (the index may lag behind the database: a document deleted since, or
// whose vector changed, is skipped, and counted as pending by the index).
//
// The page is never short while more visible hits exist. When the plan has
// a filter (the caller's, or a list rule that depends on the document) that
// admits few documents, the search runs among exactly those (an
// allow-list). Otherwise it asks the index for the k nearest, k = need =
// want + depth (depth: the hits served before the keyset), keeps the
// visible ones and, while fewer than want follow the keyset, asks again for
// 4k, 16k, … up to every vector the index holds. Each document is fetched
// and judged once per search.
//
// The choice: an allow-list costs a read of the m admitted ids; widening
// fetches about need·n/m candidate documents (n vectors) before need of
// them pass. They cost the same near m = √(need·n), and
// BenchmarkFilteredVector puts the crossing there (n = 5,000, need = 21:
// measured between 200 and 350, √ gives 324). So the search reads up to
// √(need·n) admitted ids (at most Limits.AllowList) and uses them when
// that is all of them; when more are admitted, it widens.
func (s *Service) nearest(ctx context.Context, r *run, idx vector.Index, q []float32, at *keyset, want, depth int) ([]vhit, error) {
	var opts vector.SearchOptions
	if l, ok := any(s.docs).(idLister); ok && r.plan.Filter() != nil {
		ids, complete, err := l.MatchingIDs(ctx, r.plan, s.allowList(want+depth, idx.Len()))
		if err != nil {
			return nil, err
		}
		if complete {
			opts.Only = append(make([]string, 0, len(ids)), ids...)
		}
	}
	n := idx.Len()
	if opts.Only != nil {
		n = min(n, len(opts.Only))
	}
	if n == 0 {
		return nil, nil
	}
	judged := map[string]bool{}
	var found []vhit
	// opts.Ef stays 0: an approximate index searches with its own beam
	// width (chosen for its recall), or k when k is wider.
	for k := min(max(want+depth, 1), n); ; k = min(k*4, n) {
		hits, err := idx.Search(ctx, q, k, opts)
		if err != nil {
			return nil, vectorErr(err)
		}
		var fresh []vector.Hit
		for _, h := range hits {
			if !judged[h.ID] {
				judged[h.ID] = true
				fresh = append(fresh, h)
			}
		}
		more, err := s.judge(ctx, r, idx, fresh)
		if err != nil {
			return nil, err
		}
		found = append(found, more...)
		slices.SortFunc(found, func(a, b vhit) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			return cmp.Compare(a.doc.ID, b.doc.ID)
		})
		if countAfter(found, at) >= want || len(hits) < k || k >= n {
			break
		}
	}
	start := 0
	if at != nil {
		start = len(found) - countAfter(found, at)
	}
	found = found[start:]
	return found[:min(len(found), want)], nil
}

// allowList is the most admitted ids a search of need hits over n vectors
// reads for an allow-list (see nearest).
func (s *Service) allowList(need, n int) int {
	if s.chooseAllowList != nil {
		return s.chooseAllowList(need, n)
	}
	return min(s.limits.AllowList, int(math.Ceil(math.Sqrt(float64(need)*float64(n)))))
}

// countAfter counts the hits of found (in order) after the keyset at.
func countAfter(found []vhit, at *keyset) int {
	if at == nil {
		return len(found)
	}
	i, _ := slices.BinarySearchFunc(found, *at, func(h vhit, k keyset) int {
		if after(h.score, h.doc.ID, k.score, k.id) {
			return 1
		}
		return -1
	})
	return len(found) - i
}

// judge returns the hits among hits whose documents the plan admits and
// whose current vector is the one the index holds.
func (s *Service) judge(ctx context.Context, r *run, idx vector.Index, hits []vector.Hit) ([]vhit, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	docs, err := s.docs.GetDocuments(ctx, r.plan, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]docstore.Document, len(docs))
	for _, d := range docs {
		byID[d.ID] = d
	}
	var stored map[string][]float32
	if r.vf.Source == docstore.SourceEmbedder && len(docs) > 0 {
		present := make([]string, 0, len(docs))
		for _, d := range docs {
			present = append(present, d.ID)
		}
		vs, err := s.db.GetVectors(ctx, r.coll.Name, r.field, present)
		if err != nil {
			return nil, err
		}
		stored = make(map[string][]float32, len(vs))
		for _, v := range vs {
			stored[v.DocumentID] = v.Vector
		}
	}
	metric := idx.Config().Metric
	var out []vhit
	for _, h := range hits {
		d, ok := byID[h.ID]
		if !ok {
			continue
		}
		if ok, err := r.plan.Match(d); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		var cur []float32
		if stored != nil {
			cur = stored[h.ID]
		} else {
			cur = dataVector(d.Data, r.field)
		}
		held, ok := idx.Vector(h.ID)
		if !ok || cur == nil || !sameVector(metric, cur, held) {
			continue
		}
		sim := finite(similarity(metric, h.Distance))
		out = append(out, vhit{doc: d, score: sim, distance: float64(h.Distance)})
	}
	return out, nil
}

// vectorErr maps a vector index's error.
func vectorErr(err error) error {
	switch {
	case errors.Is(err, vector.ErrDimensions):
		return invalid("vector has the wrong number of dimensions for this field")
	case errors.Is(err, vector.ErrInvalid):
		return invalid("vector must hold finite numbers and, for a cosine field, must not be all zeros")
	case errors.Is(err, vector.ErrClosed):
		return fault.New(fault.Unavailable, op, "the vector index is being replaced; try again shortly")
	case fault.KindOf(err) != fault.Internal:
		return err
	}
	return fault.Internalf(op, err)
}

// dataVector reads the client-supplied vector at the top-level property
// field of a document's data; nil when there is none (or it is not an
// array of numbers).
func dataVector(data json.RawMessage, field string) []float32 {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil
	}
	raw, ok := top[field]
	if !ok {
		return nil
	}
	var nums []float64
	if json.Unmarshal(raw, &nums) != nil || nums == nil {
		return nil
	}
	out := make([]float32, len(nums))
	for i, x := range nums {
		out[i] = float32(x)
	}
	return out
}

// sameVector reports whether the document's current vector a is the one
// the index holds, b. A cosine index may hold the vector normalized, so
// cosine compares directions.
func sameVector(m vector.Metric, a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	if m != vector.Cosine {
		return slices.Equal(a, b)
	}
	var na, nb float64
	for i := range a {
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return na == nb
	}
	na, nb = math.Sqrt(na), math.Sqrt(nb)
	for i := range a {
		if math.Abs(float64(a[i])/na-float64(b[i])/nb) > 1e-6 {
			return false
		}
	}
	return true
}

// hasPath reports whether the JSON object data holds a value at path.
func hasPath(data json.RawMessage, path []string) bool {
	cur := []byte(data)
	for _, p := range path {
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) != nil {
			return false
		}
		v, ok := obj[p]
		if !ok {
			return false
		}
		cur = v
	}
	return !bytes.Equal(bytes.TrimSpace(cur), []byte("null"))
}

// invalidCursor answers a cursor whose signed state no longer reads.
func invalidCursor() error { return fault.New(fault.Invalid, op, "invalid cursor: malformed") }

// sortStrings sorts names in place.
func sortStrings(names []string) { slices.Sort(names) }
