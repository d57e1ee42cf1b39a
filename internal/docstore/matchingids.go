package docstore

import (
	"context"

	"github.com/basaltdev/basalt/internal/query"
)

// MatchingIDs returns, in id order, the ids of up to limit documents the
// plan admits (its filter: the list rule's AND the caller's), and whether
// that is all of them. A search among few documents reads them with it to
// search exactly those (an allow-list) instead of widening a search of the
// whole collection. It reads at most limit+1 documents.
func (s *Service) MatchingIDs(ctx context.Context, p *ReadPlan, limit int) (ids []string, complete bool, err error) {
	const op = "docstore.MatchingIDs"
	if p.none {
		return []string{}, true, nil
	}
	idField, _ := (*query.Schema)(nil).Lookup(string(query.SystemID))
	docs, err := s.store.ListDocuments(ctx, ListParams{Collection: p.coll.Name, Filter: p.filter,
		Sort: []query.SortKey{{Field: idField}}, Limit: max(limit, 0) + 1})
	if err != nil {
		return nil, false, s.storeErr(op, err)
	}
	complete = len(docs) <= limit
	if !complete {
		docs = docs[:limit]
	}
	ids = make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, complete, nil
}
