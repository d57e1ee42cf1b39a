package graphqlapi

// Relation fields resolve references to the documents they refer to, in
// batches: the executor completes a page's documents one after another,
// so each document read registers the ids its references hold, and the
// first relation field resolved loads every id registered for its
// relation so far in one batch get. A page of N documents with a relation
// costs one store query for the page and one per relation, at each
// level, whatever N is — the batching a dataloader gives a concurrent
// executor.

import (
	"slices"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// relationKey names one relation of one collection.
type relationKey struct{ collection, name string }

// loader holds, for one execution, the ids each relation's documents have
// shown (to load) and the documents loaded, by collection and id (nil for
// an id with no document the caller may get).
type loader struct {
	pending map[relationKey][]string
	loaded  map[string]map[string]map[string]any
}

// register notes the ids the relations of d's collection hold in d's data
// (as shown to the caller).
func (e *executor) register(d docstore.Document, data map[string]any) {
	c := e.s.Collections[d.Collection]
	if c == nil || len(c.Relations) == 0 {
		return
	}
	for name, r := range c.Relations {
		ids := relationIDs(data[r.Field], r.Many)
		if len(ids) == 0 {
			continue
		}
		if e.load.pending == nil {
			e.load.pending = map[relationKey][]string{}
		}
		k := relationKey{d.Collection, name}
		e.load.pending[k] = append(e.load.pending[k], ids...)
	}
}

// relationIDs are the ids a reference field's value holds: a string, or
// the first MaxRelationItems strings of an array.
func relationIDs(v any, many bool) []string {
	if !many {
		if s, ok := v.(string); ok {
			return []string{s}
		}
		return nil
	}
	list, _ := v.([]any)
	ids := make([]string, 0, min(len(list), MaxRelationItems))
	for _, x := range list {
		if len(ids) == MaxRelationItems {
			break
		}
		if s, ok := x.(string); ok {
			ids = append(ids, s)
		}
	}
	return ids
}

// relation resolves the relation field r of the document v (of
// collection coll): the document it refers to, or the list of them.
func (e *executor) relation(coll string, name string, r Relation, v any) (any, error) {
	m, _ := v.(map[string]any)
	ids := relationIDs(m[r.Field], r.Many)
	if err := e.loadIDs(relationKey{coll, name}, r.Collection, ids); err != nil {
		return nil, err
	}
	docs := e.load.loaded[r.Collection]
	if !r.Many {
		if len(ids) == 0 || docs[ids[0]] == nil {
			return nil, nil
		}
		return docs[ids[0]], nil
	}
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if d := docs[id]; d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// loadIDs makes sure the documents of target with ids are loaded: if any
// is not, it loads them with every id registered for the relation k so
// far, in batch gets of up to docstore.MaxBatchGetIDs ids.
func (e *executor) loadIDs(k relationKey, target string, ids []string) error {
	known := e.load.loaded[target]
	missing := slices.ContainsFunc(ids, func(id string) bool { _, ok := known[id]; return !ok })
	if !missing {
		return nil
	}
	var want []string
	seen := map[string]bool{}
	for _, id := range slices.Concat(e.load.pending[k], ids) {
		if _, ok := known[id]; !ok && !seen[id] {
			seen[id] = true
			want = append(want, id)
		}
	}
	delete(e.load.pending, k)
	if e.load.loaded == nil {
		e.load.loaded = map[string]map[string]map[string]any{}
	}
	if known == nil {
		known = map[string]map[string]any{}
		e.load.loaded[target] = known
	}
	for chunk := range slices.Chunk(want, docstore.MaxBatchGetIDs) {
		docs, err := e.svc.Documents.BatchGetDocuments(e.ctx, target, chunk)
		switch {
		case fault.Is(err, fault.NotFound), fault.Is(err, fault.Forbidden), fault.Is(err, fault.Unauthenticated):
			docs = nil // no such collection, or none of its documents for this caller
		case err != nil:
			return err
		}
		for _, id := range chunk {
			known[id] = nil
		}
		for _, d := range docs {
			v, err := e.documentValue(d)
			if err != nil {
				return err
			}
			known[d.ID] = v
		}
	}
	return nil
}
