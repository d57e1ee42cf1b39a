package search

import (
	"context"

	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// hybridSearch answers a hybrid search: the best window hits of each side
// (window = max(limit × pages so far, 100), at most Limits.MaxDepth),
// fused by weighted reciprocal rank fusion, keyset (score, id) over the
// fused ranking recomputed on every page.
func (s *Service) hybridSearch(ctx context.Context, r *run, res *Result) error {
	window := min(max(r.limit*(r.cur.Pages+1), 100), s.limits.MaxDepth)
	q := s.textQuery(r, window)
	texts, fuzzy, err := s.searchText(ctx, r, q)
	if err != nil {
		return err
	}
	res.Fuzzy = fuzzy
	vq, idx, err := s.vectorSide(ctx, r, res)
	if err != nil {
		return err
	}
	vecs, err := s.nearest(ctx, r, idx, vq, nil, window, 0)
	if err != nil {
		return err
	}
	textIDs := make([]string, len(texts))
	textOf := make(map[string]searchdb.TextHit, len(texts))
	for i, h := range texts {
		textIDs[i] = h.Document.ID
		textOf[h.Document.ID] = h
	}
	vecIDs := make([]string, len(vecs))
	vecOf := make(map[string]vhit, len(vecs))
	for i, h := range vecs {
		vecIDs[i] = h.doc.ID
		vecOf[h.doc.ID] = h
	}
	ranked := fuse(textIDs, vecIDs, r.weight)
	start := 0
	if !r.first {
		for start < len(ranked) && !after(ranked[start].score, ranked[start].id, r.cur.Score, r.cur.ID) {
			start++
		}
	}
	room := min(r.limit, s.limits.MaxDepth-r.cur.Served)
	page := ranked[start:min(start+room, len(ranked))]
	for _, f := range page {
		var hit Hit
		if t, ok := textOf[f.id]; ok {
			if hit, err = s.textHit(r, t); err != nil {
				return err
			}
			hit.Text.Rank = f.textRank
		}
		if v, ok := vecOf[f.id]; ok {
			if hit.Text == nil {
				if hit.Document, err = r.plan.Show(v.doc); err != nil {
					return err
				}
			}
			hit.Vector = &VectorScore{Score: v.score, Distance: v.distance, Rank: f.vectorRank}
		}
		hit.Score = f.score
		res.Hits = append(res.Hits, hit)
	}
	if start+len(page) >= len(ranked) || r.cur.Served+len(page) >= s.limits.MaxDepth || len(page) == 0 {
		return nil
	}
	last := page[len(page)-1]
	res.NextCursor, err = s.signCursor(r, cursorState{Pages: r.cur.Pages + 1, Served: r.cur.Served + len(page), Fuzzy: fuzzy,
		Score: last.score, ID: last.id})
	return err
}
