package restapi

import (
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/search"
)

// searchParameters adds the query parameters of GET …/search to doc's
// components, once.
func searchParameters(doc *openapi3.T) {
	ps := doc.Components.Parameters
	if ps["SearchQuery"] != nil {
		return
	}
	param := func(name, desc string, s *openapi3.Schema) *openapi3.ParameterRef {
		p := openapi3.NewQueryParameter(name).WithSchema(s)
		p.Description = desc
		return &openapi3.ParameterRef{Value: p}
	}
	ps["SearchQuery"] = param("q", "The query text: words (all must match), \"quoted phrases\", OR between alternatives, "+
		"-word or -\"phrase\" to exclude. The vector side embeds it with the field's embedder.",
		openapi3.NewStringSchema().WithMaxLength(int64(search.DefaultLimits().MaxQueryBytes)))
	ps["SearchMode"] = param("mode", "text (default when the collection has a text configuration), vector (default otherwise) or hybrid",
		openapi3.NewStringSchema().WithEnum(string(search.ModeText), string(search.ModeVector), string(search.ModeHybrid)))
	ps["SearchField"] = param("field", "The vector field to search; default the collection's only one", openapi3.NewStringSchema())
	ps["SearchSort"] = param("sort", "Text mode only: order every match by these fields instead of relevance "+
		"(comma-separated, '-' for descending)", openapi3.NewStringSchema())
	ps["SearchLimit"] = param("limit", "The most hits in the page (default "+strconv.Itoa(search.DefaultLimits().DefaultLimit)+")",
		openapi3.NewIntegerSchema().WithMin(1).WithMax(float64(maxSearchLimit)))
	ps["SearchWeight"] = param("weight", "Hybrid mode only: the text side's weight in reciprocal rank fusion (default 0.5)",
		openapi3.NewFloat64Schema().WithMin(0).WithMax(1))
	ps["SearchTypo"] = param("typo", "auto (default): when the exact query finds fewer than min(limit, 3) hits, "+
		"the typo-tolerant query answers and fuzzy is true; off: never", openapi3.NewStringSchema().WithEnum(string(search.TypoAuto), string(search.TypoOff)))
}

// searchRequestSchema is the body of POST …/search.
func searchRequestSchema() *openapi3.SchemaRef {
	vec := ArrayOf(&openapi3.SchemaRef{Value: openapi3.NewFloat64Schema()})
	vec.Value.Description = "A raw query vector (the field's dimensions, finite numbers), instead of embedding q"
	limit := openapi3.NewIntegerSchema().WithMin(1).WithMax(float64(maxSearchLimit))
	limit.Description = "The most hits in the page (default " + strconv.Itoa(search.DefaultLimits().DefaultLimit) + ")"
	weight := openapi3.NewFloat64Schema().WithMin(0).WithMax(1)
	weight.Description = "Hybrid mode only: the text side's weight (default 0.5)"
	mode := openapi3.NewStringSchema().WithEnum(string(search.ModeText), string(search.ModeVector), string(search.ModeHybrid))
	mode.Description = "text, vector or hybrid"
	typo := openapi3.NewStringSchema().WithEnum(string(search.TypoAuto), string(search.TypoOff))
	typo.Description = "auto (default) or off"
	return ClosedObject(nil, openapi3.Schemas{
		"q": String("The query text"), "mode": {Value: mode}, "field": String("The vector field"),
		"filter": String("A filter expression, as for a list"), "sort": String("Text mode only: the order, as for a list"),
		"fields": String("Comma-separated data fields to return"), "cursor": String("The nextCursor of the previous page"),
		"limit": {Value: limit}, "weight": {Value: weight}, "typo": {Value: typo}, "vector": vec,
	})
}

// searchResultSchema is one page of hits whose documents are doc.
func searchResultSchema(doc *openapi3.SchemaRef) *openapi3.SchemaRef {
	num := func(desc string) *openapi3.SchemaRef {
		s := openapi3.NewFloat64Schema()
		s.Description = desc
		return &openapi3.SchemaRef{Value: s}
	}
	rank := func() *openapi3.SchemaRef {
		s := openapi3.NewIntegerSchema().WithMin(1)
		s.Description = "The 1-based rank of the hit on this side"
		return &openapi3.SchemaRef{Value: s}
	}
	highlights := openapi3.NewObjectSchema()
	highlights.AdditionalProperties = openapi3.AdditionalProperties{Schema: String("")}
	highlights.Description = "For each shown text field that matched, a snippet as HTML: the text escaped, the matches in <mark>…</mark>"
	hit := ClosedObject([]string{"document", "score"}, openapi3.Schemas{
		"document": doc,
		"score":    num("What orders the hits, higher is better: the text score, the vector similarity or the fused score"),
		"text": ClosedObject([]string{"score", "rank"}, openapi3.Schemas{
			"score": num("The full-text relevance"), "rank": rank()}),
		"vector": ClosedObject([]string{"score", "distance", "rank"}, openapi3.Schemas{
			"score":    num("The similarity: cosine, the dot product, or 1/(1+distance) for l2"),
			"distance": num("The distance (lower is nearer)"), "rank": rank()}),
		"highlights": {Value: highlights},
	})
	pending := openapi3.NewIntegerSchema().WithMin(0)
	pending.Description = "Vector and hybrid modes: documents whose vectors are not indexed yet, which the search may miss"
	return ClosedObject([]string{"mode", "items"}, openapi3.Schemas{
		"mode":       String("The mode that answered"),
		"items":      ArrayOf(hit),
		"nextCursor": String("Pass as cursor to get the next page; absent on the last page (and beyond 1,000 hits)"),
		"fuzzy":      Bool("Text and hybrid modes: the typo-tolerant query answered"),
		"pending":    {Value: pending},
		"pendingIds": ArrayOf(String("A pending document the caller may list (at most 100)")),
	})
}

// addSearchPaths describes GET and POST base/search (base: a collection's
// path) when acts holds list; suffix ends the operation ids, result is the
// answer's schema, common the path parameters.
func addSearchPaths(doc *openapi3.T, base, suffix string, acts, anonymous map[string]bool, result *openapi3.SchemaRef, common ...string) {
	if !acts[auth.ActionList] {
		return
	}
	searchParameters(doc)
	if doc.Components.Schemas["SearchRequest"] == nil {
		doc.Components.Schemas["SearchRequest"] = searchRequestSchema()
	}
	AddTag(doc, "search", "Full-text, vector and hybrid search over the documents the caller may list")
	const desc = "Searches the documents the caller may list (the list rule and API key scopes apply to every hit, " +
		"hidden fields are never shown, not even in highlights). Modes: text (full-text relevance, or the order of sort), " +
		"vector (nearness of a vector field to q embedded, or to a raw vector), hybrid (reciprocal rank fusion of both, " +
		"k = 60, weighted by weight). A page is never short while more visible hits exist; results deeper than 1,000 hits " +
		"are not served. 503 while the field's vector index is first built."
	codes := []int{400, 401, 403, 404, 503}
	item := &openapi3.PathItem{Parameters: params(common...),
		Get: Operation("searchDocuments"+suffix, "search", "Search documents", desc,
			security(anonymous[auth.ActionList]), nil, Responses(200, JSONResponse("One page of hits", result), codes...),
			"SearchQuery", "SearchMode", "SearchField", "Filter", "SearchSort", "Fields", "SearchLimit", "Cursor", "SearchWeight", "SearchTypo"),
		Post: Operation("searchDocumentsWithBody"+suffix, "search", "Search documents (JSON body, raw query vector)",
			desc+" The body holds the members of GET's query parameters, and vector: a raw query vector.",
			security(anonymous[auth.ActionList]), JSONBody(SchemaRef("SearchRequest"), mediaJSON),
			Responses(200, JSONResponse("One page of hits", result), append(codes, 413, 415)...)),
	}
	doc.Paths.Set(strings.TrimSuffix(base, "/")+"/search", item)
}

// collectionStatusSchema is the status member of a collection in GET
// /v1/collections/{collection}.
func collectionStatusSchema() *openapi3.SchemaRef {
	count := func(desc string) *openapi3.SchemaRef {
		s := openapi3.NewInt64Schema().WithMin(0)
		s.Description = desc
		return &openapi3.SchemaRef{Value: s}
	}
	vectors := openapi3.NewObjectSchema()
	vectors.Description = "Each vector field's index in the process that answered"
	vectors.AdditionalProperties = openapi3.AdditionalProperties{Schema: ClosedObject([]string{"building", "indexed", "pending"}, openapi3.Schemas{
		"building": Bool("The index is being built (searches of the field answer 503 until the first build ends)"),
		"indexed":  count("Vectors the index holds"),
		"pending":  count("Documents whose current vector the index does not hold yet"),
	})}
	st := ClosedObject([]string{"search"}, openapi3.Schemas{
		"search": ClosedObject(nil, openapi3.Schemas{
			"text": ClosedObject([]string{"building", "indexed", "total"}, openapi3.Schemas{
				"building": Bool("Documents written before the last change of the text configuration are being indexed again"),
				"indexed":  count("Documents indexed under the current configuration"),
				"total":    count("Documents of the collection"),
			}),
			"vectors": {Value: vectors},
		}),
	})
	st.Value.Description = "Present in GET of a collection with a search configuration: the progress of its search indexes"
	return st
}
