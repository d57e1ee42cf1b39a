package restapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/docstore"
)

// TestOpenAPIDocument fetches GET /v1/openapi.json from the real stack and
// checks that kin-openapi loads and validates it as OpenAPI 3.1, that it
// embeds each collection's schema, and that documents and problems the
// server really answers match the schemas it publishes.
func TestOpenAPIDocument(t *testing.T) {
	s := newStack(t)
	s.seedPosts()
	withDefs := `{"type":"object","$defs":{"tag":{"type":"string","minLength":1}},` +
		`"properties":{"tags":{"type":"array","items":{"$ref":"#/$defs/tag"}},"n":{"type":["integer","null"],"exclusiveMinimum":0}}}`
	if _, err := s.svc.CreateCollection(adminCtx(t), docstore.CollectionSpec{Name: "notes", Schema: json.RawMessage(withDefs)}); err != nil {
		t.Fatal(err)
	}
	rec := s.do("GET", "/v1/openapi.json", nil, "")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("loading the document: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}

	// Structure: fixed routes, per-collection routes, parameters.
	for _, p := range []string{
		"/v1/collections", "/v1/collections/{collection}", "/v1/collections/{collection}/documents",
		"/v1/collections/{collection}/documents/{id}", "/v1/batch", "/v1/openapi.json",
		"/v1/collections/posts/documents", "/v1/collections/posts/documents/{id}",
		"/v1/collections/notes/documents", "/v1/collections/notes/documents/{id}",
	} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("path %s missing", p)
		}
	}
	create := doc.Paths.Find("/v1/collections/posts/documents").Post
	if create.Responses.Status(201) == nil || create.Responses.Status(201).Value.Headers["Location"] == nil {
		t.Errorf("create has no 201 with Location")
	}
	var names []string
	for _, p := range create.Parameters {
		names = append(names, p.Value.Name)
	}
	if strings.Join(names, ",") != "id,Idempotency-Key" {
		t.Errorf("create parameters = %v", names)
	}
	list := doc.Paths.Find("/v1/collections/posts/documents").Get
	names = names[:0]
	for _, p := range list.Parameters {
		names = append(names, p.Value.Name)
	}
	if strings.Join(names, ",") != "filter,sort,limit,cursor,fields,total" {
		t.Errorf("list parameters = %v", names)
	}

	// Credentials: one bearer scheme, optional for documents, required
	// for the admin routes; 401 and 403 are documented.
	scheme := doc.Components.SecuritySchemes["bearerAuth"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Errorf("security scheme = %+v", scheme)
	}
	if len(doc.Security) != 2 || len(doc.Security[1]) != 0 {
		t.Errorf("document security = %v, want bearerAuth or none", doc.Security)
	}
	colls := doc.Paths.Find("/v1/collections").Get
	if colls.Security == nil || len(*colls.Security) != 1 || colls.Responses.Status(401) == nil || colls.Responses.Status(403) == nil {
		t.Errorf("listCollections security %v, responses %v", colls.Security, colls.Responses)
	}
	if list.Responses.Status(401) == nil || list.Responses.Status(403) == nil {
		t.Errorf("listDocuments lacks 401/403")
	}
	for _, name := range []string{"rules", "hiddenFields"} {
		if doc.Components.Schemas["Collection"].Value.Properties[name] == nil || doc.Components.Schemas["CollectionSpec"].Value.Properties[name] == nil {
			t.Errorf("collection schemas lack %s", name)
		}
	}

	// The collection schema is embedded as the data schema, with its local
	// references rewritten to stay inside the embedded copy.
	posts := doc.Components.Schemas["Collection_posts.Data"].Value
	if posts.AdditionalProperties.Has == nil || *posts.AdditionalProperties.Has || posts.Required[0] != "title" {
		t.Errorf("posts data schema = %+v", posts)
	}
	body := create.RequestBody.Value.Content.Get("application/json").Schema
	if body.Ref != "#/components/schemas/Collection_posts.Data" {
		t.Errorf("create body schema ref = %q", body.Ref)
	}
	if !strings.Contains(rec.Body.String(), `"$ref":"#/components/schemas/Collection_notes.Data/$defs/tag"`) {
		t.Errorf("local $ref not rewritten")
	}

	// Real answers match the published schemas (JSON Schema 2020-12).
	validate := func(schema string, body []byte) {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		if err := doc.Components.Schemas[schema].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s does not match schema %s: %v", body, schema, err)
		}
	}
	validate("Collection_posts.Document", s.do("GET", p1Path, nil, "").Body.Bytes())
	validate("Collection_posts.DocumentList", s.do("GET", docsPath+"?limit=1&total=true", nil, "").Body.Bytes())
	validate("CollectionList", s.do("GET", "/v1/collections", nil, "").Body.Bytes())
	validate("Problem", s.do("GET", docsPath+"/nope", nil, "").Body.Bytes())
	validate("Problem", s.do("GET", "/v1/collections", map[string]string{"Authorization": ""}, "").Body.Bytes())
	if _, err := s.svc.ReplaceCollection(adminCtx(t), "notes", docstore.CollectionSpec{Schema: json.RawMessage(withDefs),
		Rules: docstore.Rules{List: new(""), Get: new(`n > 1`)}, HiddenFields: []string{"n"}}, nil); err != nil {
		t.Fatal(err)
	}
	validate("Collection", s.do("GET", "/v1/collections/notes", nil, "").Body.Bytes())
	var bad any
	_ = json.Unmarshal([]byte(`{"title":1}`), &bad)
	if doc.Components.Schemas["Collection_posts.Data"].Value.VisitJSON(bad, openapi3.EnableJSONSchema2020()) == nil {
		t.Error("the embedded posts schema accepts a numeric title")
	}
}

func TestBuildOpenAPIWithoutCollections(t *testing.T) {
	doc, err := BuildOpenAPI(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Validate(t.Context()); err != nil {
		t.Fatalf("invalid: %v", err)
	}
}
