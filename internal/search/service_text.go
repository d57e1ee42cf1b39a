package search

import (
	"context"
	"strings"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// textSearch answers a text search: by relevance (keyset [score, id]) or,
// with a sort, in the sort's order (keyset of its values, as a list).
func (s *Service) textSearch(ctx context.Context, r *run, res *Result) error {
	room := min(r.limit, s.limits.MaxDepth-r.cur.Served)
	q := s.textQuery(r, room+1)
	sorted := r.plan.Sort() != nil
	if !r.first {
		if sorted {
			after, err := docstore.DecodeAfter(q.Sort, r.cur.After)
			if err != nil {
				return invalidCursor()
			}
			q.After = after
		} else {
			q.After = []any{r.cur.Score, r.cur.ID}
		}
	}
	hits, fuzzy, err := s.searchText(ctx, r, q)
	if err != nil {
		return err
	}
	res.Fuzzy = fuzzy
	more := len(hits) > room
	if more {
		hits = hits[:room]
	}
	for i, h := range hits {
		hit, err := s.textHit(r, h)
		if err != nil {
			return err
		}
		hit.Text.Rank = r.cur.Served + i + 1
		res.Hits = append(res.Hits, hit)
	}
	if !more || r.cur.Served+len(hits) >= s.limits.MaxDepth {
		return nil
	}
	last := hits[len(hits)-1]
	next := cursorState{Pages: r.cur.Pages + 1, Served: r.cur.Served + len(hits), Fuzzy: fuzzy}
	if sorted {
		if next.After, err = docstore.EncodeAfter(q.Sort, last.Document); err != nil {
			return err
		}
	} else {
		next.Score, next.ID = finite(last.Score), last.Document.ID
	}
	res.NextCursor, err = s.signCursor(r, next)
	return err
}

// textQuery is the text query of a run, for up to limit hits from the
// start.
func (s *Service) textQuery(r *run, limit int) searchdb.TextQuery {
	return searchdb.TextQuery{
		Collection: r.coll.Name, Text: *r.coll.Search.Text, Query: r.req.Query,
		Fuzzy: r.cur.Fuzzy, Filter: r.plan.Filter(), Sort: r.plan.Sort(), Limit: limit,
		Highlight: highlightFields(r),
	}
}

// searchText runs q, falling back on the first page to the typo-tolerant
// query when the exact one finds fewer than min(limit, 3) hits and typo
// is auto. The fuzzy query answers only when it finds more than the exact
// one did, so a fallback never loses a hit. The fallback may take half of
// Limits.Timeout: when it takes longer, the exact hits answer. It reports
// whether the fuzzy query answered.
func (s *Service) searchText(ctx context.Context, r *run, q searchdb.TextQuery) ([]searchdb.TextHit, bool, error) {
	hits, err := s.db.SearchText(ctx, q)
	if err != nil || !r.first || q.Fuzzy || r.typo == TypoOff || len(hits) >= min(r.limit, 3) {
		return hits, q.Fuzzy, err
	}
	q.Fuzzy = true
	fctx, cancel := context.WithTimeout(ctx, s.limits.Timeout/2)
	defer cancel()
	fuzzy, err := s.db.SearchText(fctx, q)
	if err != nil && fctx.Err() != nil && ctx.Err() == nil {
		return hits, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if len(fuzzy) > len(hits) {
		return fuzzy, true, nil
	}
	return hits, false, nil
}

// textHit is the hit of h as the caller may see it, with its text score
// (its rank is the caller's to set) and the highlights of the fields the
// shown document holds.
func (s *Service) textHit(r *run, h searchdb.TextHit) (Hit, error) {
	d, err := r.plan.Show(h.Document)
	if err != nil {
		return Hit{}, err
	}
	hit := Hit{Document: d, Score: h.Score, Text: &TextScore{Score: h.Score}}
	hit.Highlights = shownHighlights(h.Highlights, d)
	return hit, nil
}

// shownHighlights renders the highlights of the fields shown document d
// holds: a field that the caller may not see, or that fields= left out,
// is not in d, and so has no snippet.
func shownHighlights(in map[string]string, d docstore.Document) map[string]string {
	if len(in) == 0 {
		return nil
	}
	return renderHighlights(in, func(field string) bool { return hasPath(d.Data, strings.Split(field, ".")) })
}

// highlightFields lists the text fields whose snippets a run asks the
// engine for: those not hidden from the caller and, with fields=, those a
// selected path covers. (The snippets that come back are checked again
// against the shown document.)
func highlightFields(r *run) []string {
	var sel [][]string
	if strings.TrimSpace(r.req.Fields) != "" {
		for f := range strings.SplitSeq(r.req.Fields, ",") {
			if f = strings.TrimSpace(f); f != "" {
				sel = append(sel, strings.Split(f, "."))
			}
		}
	}
	var out []string
	for f := range r.coll.Search.Text.Fields {
		path := strings.Split(f, ".")
		if !r.plan.Admin() && underAny(path, r.coll.HiddenFields) {
			continue
		}
		if sel != nil && !coveredBy(path, sel) {
			continue
		}
		out = append(out, f)
	}
	sortStrings(out)
	return out
}

// underAny reports whether path is, or is below, one of the dotted paths.
func underAny(path []string, dotted []string) bool {
	for _, h := range dotted {
		if isPrefix(strings.Split(h, "."), path) {
			return true
		}
	}
	return false
}

// coveredBy reports whether path is, or is below, one of the paths.
func coveredBy(path []string, sel [][]string) bool {
	for _, p := range sel {
		if isPrefix(p, path) {
			return true
		}
	}
	return false
}

func isPrefix(prefix, path []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if prefix[i] != path[i] {
			return false
		}
	}
	return true
}
