package graphqlapi

// Search: a collection that is searchable (full text, vectors or both) has
// a root field <c>Search, REST's GET and POST …/search as a query: the
// same request, run by the same search service, with the list rule, API
// key scopes and hidden fields applied to every hit.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search"
)

// Searcher runs searches (*search.Service).
type Searcher interface {
	Search(ctx context.Context, r search.Request) (search.Result, error)
}

// RootSearch is Query.<c>Search: Searcher.Search.
const RootSearch RootKind = "search"

// searchTypes are the names searchSDL declares.
var searchTypes = []string{"SearchMode", "SearchTypo", "SearchTextScore", "SearchVectorScore", "SearchHighlight"}

// searchSDL declares the types every searchable collection's results
// share.
const searchSDL = `"How a search finds documents."
enum SearchMode {
  "Full text: the words of q, in web-search syntax."
  TEXT
  "Vectors: the documents nearest to q's embedding, or to vector."
  VECTOR
  "Both, their ranks fused."
  HYBRID
}

"Whether a text search also tries the words of q with a typo."
enum SearchTypo {
  "When the exact words find too little."
  AUTO
  "Never."
  OFF
}

"A hit's full-text score and 1-based rank."
type SearchTextScore {
  score: Float!
  rank: Int!
}

"A hit's vector similarity, distance and 1-based rank."
type SearchVectorScore {
  score: Float!
  distance: Float!
  rank: Int!
}

"A text field that matched: an HTML snippet of it, its text escaped and the matches in <mark>…</mark>."
type SearchHighlight {
  field: String!
  snippet: String!
}

`

// searchOf adds the search field of the collection e, searchable and
// listable by the caller, and its result types.
func (b *builder) searchOf(e docstore.CatalogEntry, field string, c *Collection) {
	if e.Search == nil || c.Filter == "" {
		return
	}
	b.searchable = true
	result, item := b.types.claim(c.Type+"SearchResult", "_"), b.types.claim(c.Type+"SearchItem", "_")
	fmt.Fprintf(&b.sdl, "%s\ntype %s {\n", description("A page of a search of "+e.Name+"."), result)
	b.sdl.WriteString("  \"The mode the search ran in.\"\n  mode: SearchMode!\n")
	fmt.Fprintf(&b.sdl, "  \"The hits, best first (or in the order of orderBy).\"\n  items: [%s!]!\n  \"The hits' documents.\"\n  nodes: [%s!]!\n", item, c.Type)
	b.sdl.WriteString("  \"endCursor continues the search (after).\"\n  pageInfo: PageInfo!\n" +
		"  \"Whether the typo-tolerant query answered (text and hybrid modes; null in vector mode).\"\n  fuzzy: Boolean\n" +
		"  \"How many documents the vector index does not hold yet (vector and hybrid modes; null in text mode).\"\n  pending: Int\n" +
		"  \"Some of the documents pending (at most 100).\"\n  pendingIds: [ID!]\n}\n\n")
	fmt.Fprintf(&b.sdl, "%s\ntype %s {\n  document: %s!\n", description("A hit of a search of "+e.Name+"."), item, c.Type)
	b.sdl.WriteString("  \"Orders the hits, higher is better: the text score, the vector similarity or the fused score, by mode.\"\n  score: Float!\n" +
		"  \"The text side's score and rank; null when it did not find the document.\"\n  text: SearchTextScore\n" +
		"  \"The vector side's; null when it did not find the document.\"\n  vector: SearchVectorScore\n" +
		"  \"The text fields that matched, by name.\"\n  highlights: [SearchHighlight!]!\n}\n\n")
	args := []string{"q: String", "mode: SearchMode"}
	if len(e.Search.Vectors) > 0 {
		args = append(args, "field: String", "vector: [Float!]")
		if e.Search.Text {
			args = append(args, "weight: Float")
		}
	}
	if e.Search.Text {
		args = append(args, "typo: SearchTypo")
	}
	args = append(args, "filter: "+c.Filter, "where: String", "orderBy: ["+c.OrderBy+"!]", "sort: String", "first: Int", "after: String")
	name := b.roots.claim(field+"Search", "_")
	b.s.Roots[name] = Root{Collection: e.Name, Kind: RootSearch}
	fmt.Fprintf(&b.query, "  %s\n  %s(%s): %s!\n", description("Searches "+e.Name+", as GET /v1/collections/"+e.Name+
		"/search: the list rule applies to every hit. mode defaults to text when the collection has full-text search, else vector; "+
		"filter, where, orderBy and sort are a list's."), name, strings.Join(args, ", "), result)
}

// searchModes are the Mode of each SearchMode value, and back.
var searchModes = map[string]search.Mode{"TEXT": search.ModeText, "VECTOR": search.ModeVector, "HYBRID": search.ModeHybrid}

// search resolves a search field.
func (e *executor) search(r Root, args map[string]any) (any, error) {
	if e.svc.Search == nil {
		return nil, fault.New(fault.Unavailable, op, "search is not available on this server")
	}
	req := search.Request{Collection: r.Collection}
	req.Query, _ = args["q"].(string)
	req.Field, _ = args["field"].(string)
	req.Cursor, _ = args["after"].(string)
	if m, ok := args["mode"].(string); ok {
		req.Mode = searchModes[m]
	}
	if t, ok := args["typo"].(string); ok {
		req.Typo = map[string]search.Typo{"AUTO": search.TypoAuto, "OFF": search.TypoOff}[t]
	}
	if w, ok := floatArg(args["weight"]); ok {
		req.Weight = &w // the search service checks it, as the page size
	}
	if v, ok := args["vector"].([]any); ok {
		if len(v) == 0 {
			return nil, fault.New(fault.Invalid, op, "vector must hold at least one number")
		}
		req.Vector = make([]float32, len(v))
		for i, x := range v {
			f, ok := floatArg(x)
			if !ok || math.IsInf(f, 0) || math.Abs(f) > math.MaxFloat32 {
				return nil, fault.New(fault.Invalid, op, "vector holds numbers of 32-bit floating point")
			}
			req.Vector[i] = float32(f)
		}
	}
	if first, ok := intArg(args["first"]); ok {
		if first < 1 { // a Limit of 0 would be the default page
			return nil, fault.New(fault.Invalid, op, "first must be at least 1")
		}
		req.Limit = int(min(first, math.MaxInt32))
	}
	lr := docstore.ListRequest{}
	if err := listQuery(e.s.Collections[r.Collection], args, &lr); err != nil {
		return nil, err
	}
	req.Filter, req.Sort = lr.Filter, lr.Sort
	res, err := e.svc.Search.Search(e.ctx, req)
	if err != nil {
		return nil, err
	}
	items, nodes := make([]any, len(res.Hits)), make([]any, len(res.Hits))
	for i, h := range res.Hits {
		node, err := e.documentValue(h.Document)
		if err != nil {
			return nil, err
		}
		nodes[i] = node
		hl := make([]any, 0, len(h.Highlights))
		for _, f := range slices.Sorted(maps.Keys(h.Highlights)) {
			hl = append(hl, map[string]any{"field": f, "snippet": h.Highlights[f]})
		}
		item := map[string]any{"document": node, "score": h.Score, "highlights": hl}
		if h.Text != nil {
			item["text"] = map[string]any{"score": h.Text.Score, "rank": int64(h.Text.Rank)}
		}
		if h.Vector != nil {
			item["vector"] = map[string]any{"score": h.Vector.Score, "distance": h.Vector.Distance, "rank": int64(h.Vector.Rank)}
		}
		items[i] = item
	}
	var end any
	if res.NextCursor != "" {
		end = res.NextCursor
	}
	out := map[string]any{"mode": modeName(res.Mode), "items": items, "nodes": nodes,
		"pageInfo": map[string]any{"hasNextPage": res.NextCursor != "", "hasPreviousPage": req.Cursor != "", "startCursor": nil, "endCursor": end}}
	if res.Mode != search.ModeVector {
		out["fuzzy"] = res.Fuzzy
	}
	if res.Mode != search.ModeText {
		out["pending"] = int64(res.Pending)
		ids := make([]any, len(res.PendingIDs))
		for i, id := range res.PendingIDs {
			ids[i] = id
		}
		out["pendingIds"] = ids
	}
	return out, nil
}

// modeName is the SearchMode value of m.
func modeName(m search.Mode) string {
	for name, mode := range searchModes {
		if mode == m {
			return name
		}
	}
	return ""
}

// floatArg is a Float argument's value.
func floatArg(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

// searchSelected reports whether a query's selection set (fragments
// expanded) holds a search field: the operation is limited in the search
// class too.
func searchSelected(s *Schema, doc *ast.QueryDocument, set ast.SelectionSet) bool {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) bool
	walk = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch f := sel.(type) {
			case *ast.Field:
				if s.Roots[f.Name].Kind == RootSearch {
					return true
				}
			case *ast.InlineFragment:
				if walk(f.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if fr := doc.Fragments.ForName(f.Name); fr != nil && !seen[f.Name] {
					seen[f.Name] = true
					if walk(fr.SelectionSet) {
						return true
					}
				}
			}
		}
		return false
	}
	return walk(set)
}
