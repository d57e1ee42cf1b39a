package restapi

// expand: reads that expand a collection's references into the documents
// they refer to (GET …/documents?expand=author,reviewers and GET
// …/documents/{id}?expand=author).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// maxExpand bounds the references one read expands.
const maxExpand = 8

// expansion parses the expand parameter of a read of coll: the
// references to expand (field → collection), in the order named; nil
// without the parameter. A field that is not a reference the caller may
// see is a 400, as an unknown field in a filter is.
func (a *API) expansion(ctx context.Context, coll, param string) ([]reference, error) {
	if param == "" {
		return nil, nil
	}
	if a.opts.Catalog == nil {
		return nil, BadRequest("expand is not served by this process")
	}
	var fields []string
	for _, f := range strings.Split(param, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	if len(fields) > maxExpand {
		return nil, BadRequest("expand names at most 8 references")
	}
	cat, err := a.opts.Catalog.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	var refs map[string]string
	for _, e := range cat.Collections {
		if e.Name == coll {
			refs = e.References
		}
	}
	out := make([]reference, 0, len(fields))
	for _, f := range fields {
		target, ok := refs[f]
		if !ok {
			return nil, BadRequest("expand: " + quote(f) + " is not a reference of collection " + quote(coll))
		}
		out = append(out, reference{field: f, collection: target})
	}
	return out, nil
}

// reference is one reference to expand.
type reference struct{ field, collection string }

// expanded is a document with its expanded references: each a document
// (or null) for a field holding one id, the documents found for a field
// holding several.
type expanded struct {
	doc    docstore.Document
	expand map[string]any
}

// MarshalJSON writes the document with an "expand" member.
func (e expanded) MarshalJSON() ([]byte, error) {
	body, err := e.doc.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if e.expand == nil {
		return body, nil
	}
	ex, err := json.Marshal(e.expand)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimRight(body, " \n")
	body = append(body[:len(body)-1], `,"expand":`...)
	body = append(body, ex...)
	return append(body, '}'), nil
}

// expand reads the documents that refs of docs refer to, one batch get per
// reference for the whole page, each document as the caller may get it
// (the get rule of its collection; one the caller may not get is left out,
// as if missing).
func (a *API) expand(ctx context.Context, docs []docstore.Document, refs []reference) ([]expanded, error) {
	out := make([]expanded, len(docs))
	for i, d := range docs {
		out[i].doc = d
		if len(refs) > 0 {
			out[i].expand = make(map[string]any, len(refs))
		}
	}
	// Each document's data is decoded once, for all its references.
	fields := make([]map[string]json.RawMessage, len(docs))
	for i, d := range docs {
		_ = json.Unmarshal(d.Data, &fields[i]) // stored data is a JSON object
	}
	for _, ref := range refs {
		ids := make([][]string, len(docs))
		many := make([]bool, len(docs))
		var all []string
		for i := range docs {
			ids[i], many[i] = referenced(fields[i][ref.field])
			all = append(all, ids[i]...)
		}
		found := map[string]docstore.Document{}
		for chunk := range slices.Chunk(all, docstore.MaxBatchGetIDs) {
			got, err := a.svc.BatchGetDocuments(ctx, ref.collection, chunk)
			switch {
			case fault.Is(err, fault.NotFound), fault.Is(err, fault.Forbidden), fault.Is(err, fault.Unauthenticated):
				// No such collection, or none of its documents for this
				// caller: nothing to show.
			case err != nil:
				return nil, err
			}
			for _, g := range got {
				found[g.ID] = g
			}
		}
		for i := range docs {
			if many[i] {
				list := []docstore.Document{}
				for _, id := range ids[i] {
					if g, ok := found[id]; ok {
						list = append(list, g)
					}
				}
				out[i].expand[ref.field] = list
				continue
			}
			var one any
			if len(ids[i]) == 1 {
				if g, ok := found[ids[i][0]]; ok {
					one = g
				}
			}
			out[i].expand[ref.field] = one
		}
	}
	return out, nil
}

// referenced is the ids a reference field's value holds — a string, or
// the strings of an array — and whether it is an array.
func referenced(raw json.RawMessage) (ids []string, many bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, false
	}
	var list []any
	if json.Unmarshal(raw, &list) != nil {
		return nil, false
	}
	for _, v := range list {
		if s, ok := v.(string); ok {
			ids = append(ids, s)
		}
	}
	return ids, true
}

// writeExpanded writes one document with its expanded references: no
// ETag, since the answer also holds other documents.
func (a *API) writeExpanded(w http.ResponseWriter, r *http.Request, e expanded) {
	a.resp.WriteJSON(w, r, http.StatusOK, e)
}
