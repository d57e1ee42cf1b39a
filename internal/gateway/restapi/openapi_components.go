package restapi

import (
	"fmt"
	"maps"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/docstore"
)

// This file holds the fixed components of the OpenAPI document (schemas of
// the public shapes of API.md, parameters and problem responses) and the
// builders that the describers of other transports (authapi) use too.

// MediaJSON and MediaMergePatch are the media types of request bodies.
const (
	MediaJSON       = mediaJSON
	MediaMergePatch = mediaMergePatch
)

// String is a string schema.
func String(desc string) *openapi3.SchemaRef {
	s := openapi3.NewStringSchema()
	s.Description = desc
	return &openapi3.SchemaRef{Value: s}
}

// Object is an object schema with the given properties; closed objects
// have no other members.
func Object(required []string, props openapi3.Schemas, closed bool) *openapi3.SchemaRef {
	s := openapi3.NewObjectSchema()
	s.Required = required
	s.Properties = props
	if closed {
		no := false
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
	}
	return &openapi3.SchemaRef{Value: s}
}

// ArrayOf is an array schema.
func ArrayOf(items *openapi3.SchemaRef) *openapi3.SchemaRef {
	s := openapi3.NewArraySchema()
	s.Items = items
	return &openapi3.SchemaRef{Value: s}
}

func versionSchema() *openapi3.SchemaRef {
	s := openapi3.NewInt64Schema()
	s.Min = new(float64(1))
	s.Description = "Starts at 1 and grows by 1 on every write"
	return &openapi3.SchemaRef{Value: s}
}

// Timestamp is an RFC 3339 timestamp.
func Timestamp() *openapi3.SchemaRef {
	s := openapi3.NewDateTimeSchema()
	s.Description = "RFC 3339, UTC"
	return &openapi3.SchemaRef{Value: s}
}

// Nullable makes s accept null too (s must have a type).
func Nullable(s *openapi3.SchemaRef, desc string) *openapi3.SchemaRef {
	types := append(s.Value.Type.Slice(), "null")
	s.Value.Type = (*openapi3.Types)(&types)
	if desc != "" {
		s.Value.Description = desc
	}
	return s
}

// anyObject is an open JSON object: any members.
func anyObject(desc string) *openapi3.SchemaRef {
	s := openapi3.NewObjectSchema()
	s.AdditionalProperties = openapi3.AdditionalProperties{Has: new(true)}
	s.Description = desc
	return &openapi3.SchemaRef{Value: s}
}

// documentSchema is a document whose data follows data; collection, when
// set, is the only value of the collection member.
func documentSchema(data *openapi3.SchemaRef, collection string) *openapi3.SchemaRef {
	coll := String("The collection name")
	if collection != "" {
		coll.Value.Const = collection
	}
	expand := anyObject("With expand: each reference named, as the document it refers to (null when missing or not readable) " +
		"or, for a field of several ids, the documents found")
	return Object([]string{"id", "collection", "version", "createdAt", "updatedAt", "data"}, openapi3.Schemas{
		"id": String("The document id"), "collection": coll, "version": versionSchema(),
		"createdAt": Timestamp(), "updatedAt": Timestamp(), "data": data, "expand": expand,
	}, true)
}

// listSchema is one page of documents.
func listSchema(item *openapi3.SchemaRef) *openapi3.SchemaRef {
	cursor := openapi3.NewStringSchema().WithTypes("string", "null")
	cursor.Description = "Pass as cursor to get the next page; null on the last page"
	total := openapi3.NewInt64Schema()
	total.Description = "The number of matching documents, present only when total=true"
	capped := openapi3.NewBoolSchema()
	capped.Description = "Present with total: true when more documents match than the server counts (total is then the cap)"
	return Object([]string{"items", "nextCursor"}, openapi3.Schemas{
		"items": ArrayOf(item), "nextCursor": {Value: cursor}, "total": {Value: total}, "totalCapped": {Value: capped},
	}, true)
}

// fixedSchemas are the schemas that do not depend on collections.
func fixedSchemas() openapi3.Schemas {
	index := Object([]string{"fields"}, openapi3.Schemas{"fields": ArrayOf(String("A data path or system field"))}, true)
	name := String("The collection name")
	name.Value.Pattern = "^[a-z][a-z0-9_]{0,62}$"
	op := String("The write to apply")
	op.Value.Enum = []any{"create", "replace", "patch", "delete"}
	problem := Object([]string{"type", "title", "status", "code"}, openapi3.Schemas{
		"type":   String("urn:basalt:problem:<code>"),
		"title":  String("A short summary of the kind of problem"),
		"status": {Value: openapi3.NewIntegerSchema()},
		"code":   String("The stable machine-readable error code"),
		"detail": String("What went wrong with this request"),
		"errors": ArrayOf(SchemaRef("FieldError")),
	}, false)
	rule := openapi3.NewStringSchema().WithTypes("string", "null")
	rule.Description = `null: admins only; "": everyone, anonymous callers included; otherwise a rule expression over ` +
		`the document and @auth.id, @auth.type, @auth.roles`
	ruleProps := openapi3.Schemas{}
	for _, a := range []string{"list", "get", "create", "update", "delete"} {
		ruleProps[a] = &openapi3.SchemaRef{Value: rule}
	}
	hidden := ArrayOf(String("A data path, like author.email"))
	hidden.Value.Description = "Data fields left out of the documents returned to callers who are not admins"
	refs := &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeObject},
		AdditionalProperties: openapi3.AdditionalProperties{Schema: String("The collection of the referenced documents")},
		Description: "Relations: a top-level data field holding an id (a string) or ids (an array of strings) → the collection of those documents; " +
			"reads expand them with expand"}}
	schemas := openapi3.Schemas{
		"Rules":      withDescription(Object(nil, ruleProps, true), "The access rule of each action on documents; a missing member is null"),
		"Data":       anyObject("A document's data: one JSON object"),
		"MergePatch": anyObject("A JSON Merge Patch (RFC 7386): null removes a member"),
		"Index":      index,
		"CollectionSpec": Object([]string{"name", "schema"}, openapi3.Schemas{
			"name": name, "schema": anyObject("A JSON Schema (2020-12) for the data"),
			"indexes": ArrayOf(SchemaRef("Index")), "rules": SchemaRef("Rules"), "hiddenFields": hidden,
			"search": SchemaRef("SearchConfig"), "references": refs,
		}, true),
		"Collection": Object([]string{"name", "schema", "indexes", "rules", "hiddenFields", "references", "version", "createdAt", "updatedAt"}, openapi3.Schemas{
			"name": name, "schema": anyObject("The JSON Schema (2020-12) of the data"), "indexes": ArrayOf(SchemaRef("Index")),
			"rules": SchemaRef("Rules"), "hiddenFields": hidden, "search": SchemaRef("SearchConfig"), "references": refs,
			"status": collectionStatusSchema(), "version": versionSchema(), "createdAt": Timestamp(), "updatedAt": Timestamp(),
		}, true),
		"CollectionList": Object([]string{"items"}, openapi3.Schemas{"items": ArrayOf(SchemaRef("Collection"))}, true),
		"Document":       documentSchema(SchemaRef("Data"), ""),
		"DocumentList":   listSchema(SchemaRef("Document")),
		"BatchOperation": Object([]string{"op", "collection"}, openapi3.Schemas{
			"op": op, "collection": String("The collection name"), "id": String("The document id; optional for create"),
			"data": anyObject("The data (create, replace) or merge patch (patch)"), "ifMatch": versionSchema(),
		}, true),
		"BatchRequest": Object([]string{"operations"}, openapi3.Schemas{"operations": ArrayOf(SchemaRef("BatchOperation"))}, true),
		"BatchResult": Object([]string{"op", "id"}, openapi3.Schemas{
			"op": op, "id": String("The document id"), "document": SchemaRef("Document"),
		}, true),
		"BatchResults": Object([]string{"results"}, openapi3.Schemas{"results": ArrayOf(SchemaRef("BatchResult"))}, true),
		"FieldError": Object([]string{"pointer", "message"}, openapi3.Schemas{
			"pointer": String("A JSON pointer (RFC 6901) into the request body"), "message": String("What is wrong there"),
		}, false),
		"Problem": problem,
	}
	maps.Copy(schemas, searchConfigSchemas())
	return schemas
}

// searchConfigSchemas describe the search configuration of a collection
// (docstore.Search), with the bounds docstore checks.
func searchConfigSchemas() openapi3.Schemas {
	intIn := func(lo, hi int, desc string) *openapi3.SchemaRef {
		s := openapi3.NewIntegerSchema().WithMin(float64(lo)).WithMax(float64(hi))
		s.Description = desc
		return &openapi3.SchemaRef{Value: s}
	}
	weights := openapi3.NewObjectSchema()
	weights.Description = fmt.Sprintf("Data paths of string (or array of strings) fields and their weights, 1 (least) to %d (most); 1 to %d fields, none hidden",
		docstore.MaxTextWeight, docstore.MaxTextFields)
	weights.AdditionalProperties = openapi3.AdditionalProperties{Schema: intIn(1, docstore.MaxTextWeight, "The field's weight")}
	languages := make([]any, 0, len(docstore.TextLanguages()))
	for _, l := range docstore.TextLanguages() {
		languages = append(languages, l)
	}
	language := String("Stemming and stop words (default english; SQLite stems English only)")
	language.Value.Enum = languages
	metric := String("How vectors compare (default cosine)")
	metric.Value.Enum = []any{docstore.MetricCosine, docstore.MetricDot, docstore.MetricL2}
	source := String("client: the document carries the vector at the data property of this name (an array of exactly dimensions numbers); " +
		"embedder: Basalt computes it from the from fields (default client)")
	source.Value.Enum = []any{docstore.SourceClient, docstore.SourceEmbedder}
	// Generators name enum constants after their values unless told: a
	// constant called Client would collide with a generated client type.
	source.Value.Extensions = map[string]any{"x-enum-varnames": []string{"VectorSourceClient", "VectorSourceEmbedder"}}
	from := ArrayOf(String("A data path of a string field"))
	from.Value.Description = fmt.Sprintf("The fields whose text the embedder reads, 1 to %d (source embedder only)", docstore.MaxEmbedderFrom)
	vectors := openapi3.NewObjectSchema()
	vectors.Description = fmt.Sprintf("Vector fields by name ([A-Za-z_][A-Za-z0-9_]{0,62}), at most %d", docstore.MaxVectorFields)
	vectors.AdditionalProperties = openapi3.AdditionalProperties{Schema: SchemaRef("VectorField")}
	return openapi3.Schemas{
		"SearchConfig": withDescription(Object(nil, openapi3.Schemas{
			"text": SchemaRef("TextSearch"), "vectors": {Value: vectors},
		}, true), "What full-text and vector search read; left out when the collection is not searchable"),
		"TextSearch": withDescription(Object([]string{"fields"}, openapi3.Schemas{
			"fields": {Value: weights}, "language": language,
		}, true), "Full-text search"),
		"VectorField": withDescription(Object([]string{"dimensions"}, openapi3.Schemas{
			"dimensions": intIn(1, docstore.MaxVectorDimensions, "The length of the field's vectors"),
			"metric":     metric, "source": source, "from": from,
			"embedder": String(`The configured embedder that computes the vectors (source embedder only; default "builtin")`),
		}, true), "One vector field"),
	}
}

func withDescription(s *openapi3.SchemaRef, desc string) *openapi3.SchemaRef {
	s.Value.Description = desc
	return s
}

// fixedParameters are the parameters operations reference.
func fixedParameters() openapi3.ParametersMap {
	str := func(p *openapi3.Parameter, desc string) *openapi3.ParameterRef {
		p.Description = desc
		if p.Schema == nil {
			p.Schema = &openapi3.SchemaRef{Value: openapi3.NewStringSchema()}
		}
		return &openapi3.ParameterRef{Value: p}
	}
	limit := openapi3.NewQueryParameter("limit").WithSchema(openapi3.NewIntegerSchema().WithMin(0))
	total := openapi3.NewQueryParameter("total").WithSchema(openapi3.NewBoolSchema())
	return openapi3.ParametersMap{
		"CollectionName": str(openapi3.NewPathParameter("collection"), "The collection name"),
		"DocumentID":     str(openapi3.NewPathParameter("id"), "The document id"),
		"Filter":         str(openapi3.NewQueryParameter("filter"), "A filter expression over data fields and id, version, createdAt, updatedAt"),
		"Sort":           str(openapi3.NewQueryParameter("sort"), "Comma-separated fields, '-' for descending, like -score,title"),
		"Limit":          str(limit, "The most documents in the page"),
		"Cursor":         str(openapi3.NewQueryParameter("cursor"), "The nextCursor of the previous page"),
		"Fields":         str(openapi3.NewQueryParameter("fields"), "Comma-separated data fields to return"),
		"Total":          str(total, "Also count every matching document"),
		"Expand":         str(openapi3.NewQueryParameter("expand"), "Comma-separated references of the collection (at most 8) to expand into the documents they refer to"),
		"CreateID":       str(openapi3.NewQueryParameter("id"), "The id of the new document; generated when absent"),
		"IfMatch":        str(openapi3.NewHeaderParameter("If-Match"), `Write only if the version is one of these strong entity tags ("3", or a list "3", "4"); weak tags never match; * requires existence`),
		"IfNoneMatch":    str(openapi3.NewHeaderParameter("If-None-Match"), "Answer 304 if the current ETag is listed"),
		"IdempotencyKey": str(openapi3.NewHeaderParameter("Idempotency-Key"), "1 to 255 printable ASCII characters; a retry gets the first answer"),
	}
}

// problemCodes are the statuses that have a named problem response.
var problemCodes = []int{400, 401, 403, 404, 409, 410, 412, 413, 415, 422, 429, 503}

// problemResponses are the error responses operations reference.
func problemResponses() openapi3.ResponseBodies {
	problem := func(desc string) *openapi3.ResponseRef {
		r := openapi3.NewResponse().WithDescription(desc)
		r.Content = openapi3.Content{ProblemContentType: &openapi3.MediaType{Schema: SchemaRef("Problem")}}
		return &openapi3.ResponseRef{Value: r}
	}
	out := openapi3.ResponseBodies{
		"ProblemDefault": problem("An error (RFC 9457 problem)"),
		"NotModified": {Value: &openapi3.Response{
			Description: new("The representation has not changed"),
			Headers:     openapi3.Headers{"ETag": header("The current version")},
		}},
	}
	for _, c := range problemCodes {
		out[fmt.Sprintf("Problem%d", c)] = problem(http.StatusText(c))
	}
	out["Problem401"].Value.Headers = openapi3.Headers{
		"WWW-Authenticate": header(`The challenge: Bearer realm="basalt", with error="invalid_token" when a credential was rejected`),
	}
	return out
}

// SchemaRef references the component schema name.
func SchemaRef(name string) *openapi3.SchemaRef {
	return openapi3.NewSchemaRef("#/components/schemas/"+escapeToken(name), nil)
}

// params references the named component parameters.
func params(names ...string) openapi3.Parameters {
	out := make(openapi3.Parameters, 0, len(names))
	for _, n := range names {
		out = append(out, &openapi3.ParameterRef{Ref: "#/components/parameters/" + n})
	}
	return out
}

// JSONBody is a required request body of schema s in the media types.
func JSONBody(s *openapi3.SchemaRef, mediaTypes ...string) *openapi3.RequestBodyRef {
	content := openapi3.Content{}
	for _, mt := range mediaTypes {
		content[mt] = &openapi3.MediaType{Schema: s}
	}
	return &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{Required: true, Content: content}}
}

// OptionalJSONBody is JSONBody for requests that may also come without a
// body.
func OptionalJSONBody(s *openapi3.SchemaRef) *openapi3.RequestBodyRef {
	b := JSONBody(s, mediaJSON)
	b.Value.Required = false
	return b
}

// header is a response header of type string.
func header(desc string) *openapi3.HeaderRef {
	return &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: desc, Schema: &openapi3.SchemaRef{Value: openapi3.NewStringSchema()},
	}}}
}

// JSONResponse is a JSON success answer of schema s (nil: no body);
// headers are among "ETag", "Location" and "Cache-Control".
func JSONResponse(desc string, s *openapi3.SchemaRef, headers ...string) *openapi3.ResponseRef {
	resp := openapi3.NewResponse().WithDescription(desc)
	if s != nil {
		resp.Content = openapi3.Content{mediaJSON: &openapi3.MediaType{Schema: s}}
	}
	if len(headers) > 0 {
		resp.Headers = openapi3.Headers{}
		for _, h := range headers {
			switch h {
			case "ETag":
				resp.Headers[h] = header(`The version as a strong entity tag, like "3"`)
			case "Location":
				resp.Headers[h] = header("The path of the created resource")
			case "Cache-Control":
				resp.Headers[h] = header("How long caches may keep the answer")
			}
		}
	}
	return &openapi3.ResponseRef{Value: resp}
}

// Responses builds a Responses object: a success code and its response,
// then error codes that reference the problem responses (304: the not
// modified answer); every operation also gets the default problem
// response.
func Responses(code int, ok *openapi3.ResponseRef, errCodes ...int) *openapi3.Responses {
	opts := []openapi3.NewResponsesOption{openapi3.WithStatus(code, ok)}
	for _, c := range errCodes {
		ref := fmt.Sprintf("#/components/responses/Problem%d", c)
		if c == http.StatusNotModified {
			ref = "#/components/responses/NotModified"
		}
		opts = append(opts, openapi3.WithStatus(c, &openapi3.ResponseRef{Ref: ref}))
	}
	rs := openapi3.NewResponses(opts...)
	rs.Set("default", &openapi3.ResponseRef{Ref: "#/components/responses/ProblemDefault"})
	return rs
}
