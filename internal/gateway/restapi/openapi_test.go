package restapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/docstore"
)

// loadOpenAPI fetches GET /v1/openapi.json with the given Authorization
// header ("" for none), checks that it answers 200 and that kin-openapi
// loads and validates the document as OpenAPI 3.1, and returns it with
// its JSON text.
func (s *stack) loadOpenAPI(authorization string) (*openapi3.T, string) {
	s.t.Helper()
	rec := s.do("GET", "/v1/openapi.json", map[string]string{"Authorization": authorization}, "")
	if rec.Code != 200 {
		s.t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	if vary := rec.Header().Values("Vary"); !slices.Contains(vary, "Authorization") {
		s.t.Errorf("Vary = %q: the document depends on the caller", vary)
	}
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		s.t.Fatalf("loading the document: %v", err)
	}
	if err := doc.Validate(s.t.Context(), openapi3.IsOpenAPI31OrLater(), openapi3.EnableSchemaPatternValidation()); err != nil {
		s.t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		s.t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	return doc, rec.Body.String()
}

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
	doc, text := s.loadOpenAPI("Bearer " + adminToken)

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
	for _, pattern := range RoutePatterns() {
		method, path, _ := strings.Cut(pattern, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s is not described", pattern)
			continue
		}
		op := item.GetOperation(method)
		if op.Summary == "" || op.Description == "" || len(op.Tags) != 1 || doc.Tags.Get(op.Tags[0]) == nil ||
			doc.Tags.Get(op.Tags[0]).Description == "" {
			t.Errorf("%s: summary %q, description %q, tags %v (declared: %v)", pattern, op.Summary, op.Description, op.Tags, doc.Tags)
		}
	}
	if doc.Info.License == nil || doc.Info.License.Identifier != "Apache-2.0" || len(doc.Servers) == 0 {
		t.Errorf("license %+v, servers %v", doc.Info.License, doc.Servers)
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
	if strings.Join(names, ",") != "filter,sort,limit,cursor,fields,total,expand" {
		t.Errorf("list parameters = %v", names)
	}

	// Credentials: one bearer scheme, optional for documents, required
	// for the admin routes; none for this document.
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
	if sec := doc.Paths.Find("/v1/openapi.json").Get.Security; sec == nil || len(*sec) != 2 {
		t.Errorf("getOpenAPI security = %v, want bearerAuth or none", sec)
	}
	for _, name := range []string{"rules", "hiddenFields"} {
		if doc.Components.Schemas["Collection"].Value.Properties[name] == nil || doc.Components.Schemas["CollectionSpec"].Value.Properties[name] == nil {
			t.Errorf("collection schemas lack %s", name)
		}
	}

	// The collection schema is embedded as the data schema; its
	// definitions are components of their own.
	posts := doc.Components.Schemas["Collection_posts.Data"].Value
	if posts.AdditionalProperties.Has == nil || *posts.AdditionalProperties.Has || posts.Required[0] != "title" {
		t.Errorf("posts data schema = %+v", posts)
	}
	body := create.RequestBody.Value.Content.Get("application/json").Schema
	if body.Ref != "#/components/schemas/Collection_posts.Data" {
		t.Errorf("create body schema ref = %q", body.Ref)
	}
	if !strings.Contains(text, `"$ref":"#/components/schemas/Collection_notes.tag"`) || strings.Contains(text, "$defs") {
		t.Errorf("$defs not hoisted:\n%s", text)
	}
	// Generic JSON is an open object, never {}.
	for _, name := range []string{"Data", "MergePatch"} {
		if v := doc.Components.Schemas[name].Value; !v.Type.Is("object") || v.AdditionalProperties.Has == nil || !*v.AdditionalProperties.Has {
			t.Errorf("%s = %+v, want an open object", name, v)
		}
	}
	if strings.Contains(text, `"schema":{}`) {
		t.Errorf("the document has an empty schema")
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
	validate("Collection_posts.DocumentList", s.do("GET", docsPath+"?fields=score", nil, "").Body.Bytes())
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

// TestOpenAPIForCallers checks that anonymous callers, users and API keys
// get the document too, showing only the collections and operations
// whose rules and scopes could admit them, and never a hidden field.
func TestOpenAPIForCallers(t *testing.T) {
	s := newStack(t)
	ctx := adminCtx(t)
	schema := `{"type":"object","properties":{"title":{"type":"string"},"owner":{"type":"string"},` +
		`"secretSalary":{"type":"integer"},"nested":{"type":"object","properties":{"innerSecret":{"type":"string"},"shown":{"type":"string"}},` +
		`"required":["innerSecret"]}},"required":["title","secretSalary"],"additionalProperties":false}`
	specs := []docstore.CollectionSpec{
		// Everyone may read; users create their own.
		{Name: "public_posts", Schema: json.RawMessage(schema), HiddenFields: []string{"secretSalary", "nested.innerSecret"},
			Rules: docstore.Rules{List: new(""), Get: new(""), Create: new(`owner = @auth.id`)}},
		// Users only, and only their own.
		{Name: "diaries", Schema: json.RawMessage(`{"type":"object","properties":{"owner":{"type":"string"}}}`), Rules: docstore.Rules{Get: new(`owner = @auth.id`)}},
		// Admins only.
		{Name: "payroll", Schema: json.RawMessage(schema)},
		// A rule that admits nobody but admins: statically no document.
		{Name: "sealed", Schema: json.RawMessage(schema), Rules: docstore.Rules{List: new(`@auth.id = null && @auth.id != null`)}},
	}
	for _, sp := range specs {
		if _, err := s.svc.CreateCollection(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		paths, absent []string
		ops, noOps    []string
	}
	cases := map[string]want{
		"": {
			paths:  []string{"/v1/openapi.json", "/v1/collections/public_posts/documents", "/v1/collections/public_posts/documents/{id}"},
			absent: []string{"/v1/collections", "/v1/collections/{collection}", "/v1/collections/diaries/documents/{id}", "/v1/collections/payroll/documents", "/v1/batch"},
			ops:    []string{"listDocuments_public_posts", "getDocument_public_posts", "getOpenAPI"},
			noOps:  []string{"createDocument_public_posts", "getDocument_diaries", "deleteDocument_public_posts", "createCollection"},
		},
		"Bearer " + ownerToken: {
			paths:  []string{"/v1/collections/public_posts/documents", "/v1/collections/diaries/documents/{id}", "/v1/batch"},
			absent: []string{"/v1/collections", "/v1/collections/diaries/documents", "/v1/collections/payroll/documents"},
			ops:    []string{"createDocument_public_posts", "getDocument_diaries", "batch"},
			noOps:  []string{"listDocuments_diaries", "replaceDocument_public_posts"},
		},
		"Bearer " + readerToken: {
			paths:  []string{"/v1/collections/public_posts/documents"},
			absent: []string{"/v1/collections", "/v1/batch", "/v1/collections/payroll/documents"},
			// The key's id could be a diary's owner.
			ops:   []string{"listDocuments_public_posts", "getDocument_public_posts", "getDocument_diaries"},
			noOps: []string{"createDocument_public_posts", "listDocuments_diaries"},
		},
	}
	for authz, w := range cases {
		doc, text := s.loadOpenAPI(authz)
		for _, p := range w.paths {
			if doc.Paths.Find(p) == nil {
				t.Errorf("%q: path %s missing", authz, p)
			}
		}
		for _, p := range w.absent {
			if doc.Paths.Find(p) != nil {
				t.Errorf("%q: path %s shown", authz, p)
			}
		}
		for _, id := range w.ops {
			if !strings.Contains(text, `"operationId":"`+id+`"`) {
				t.Errorf("%q: operation %s missing", authz, id)
			}
		}
		for _, id := range append(w.noOps, "listDocuments_payroll", "listDocuments_sealed") {
			if strings.Contains(text, `"operationId":"`+id+`"`) {
				t.Errorf("%q: operation %s shown", authz, id)
			}
		}
		for _, secret := range []string{"secretSalary", "innerSecret", "payroll", "sealed"} {
			if strings.Contains(text, secret) {
				t.Errorf("%q: the document names %s", authz, secret)
			}
		}
	}
	// The user's batch names the collections they may write.
	userDoc, _ := s.loadOpenAPI("Bearer " + ownerToken)
	if enum := userDoc.Components.Schemas["BatchOperation"].Value.Properties["collection"].Value.Enum; len(enum) != 1 || enum[0] != "public_posts" {
		t.Errorf("user: batch collections %v, want [public_posts]", enum)
	}
	// Admins see everything, hidden fields included.
	doc, text := s.loadOpenAPI("Bearer " + adminToken)
	for _, want := range []string{"secretSalary", "innerSecret", "listDocuments_payroll", "listDocuments_sealed", "createCollection"} {
		if !strings.Contains(text, want) {
			t.Errorf("admin: the document lacks %s", want)
		}
	}
	if doc.Paths.Find("/v1/collections/payroll/documents/{id}").Delete == nil {
		t.Errorf("admin: no deleteDocument_payroll")
	}
}

// TestOpenAPIDefinitions checks that definitions ($defs, nested, and a
// recursive reference to the root) are hoisted into components, that every
// reference names a component, and that the returned variant requires
// nothing a projection can drop.
func TestOpenAPIDefinitions(t *testing.T) {
	s := newStack(t)
	schema := `{"type":"object","$defs":{"node":{"type":"object","properties":{"label":{"type":"string"},` +
		`"children":{"type":"array","items":{"$ref":"#/$defs/node"}},"meta":{"$ref":"#/$defs/node/$defs/meta"}},"required":["label"],` +
		`"$defs":{"meta":{"type":"object","properties":{"k":{"type":"string"}},"required":["k"]}}},` +
		`"leaf":{"type":"string"}},` +
		`"properties":{"anything":true,"never":false,"root":{"$ref":"#/$defs/node"},"parent":{"$ref":"#"},"at":{"$ref":"#/properties/root"},"data":{"$ref":"#/$defs/leaf"},` +
		`"box":{"type":"object","properties":{"inner":{"type":"string"}},"required":["inner"],"allOf":[{"$ref":"#/$defs/node"}]}},` +
		`"required":["root"]}`
	if _, err := s.svc.CreateCollection(adminCtx(t), docstore.CollectionSpec{Name: "trees", Schema: json.RawMessage(schema),
		Rules: docstore.Rules{List: new(""), Get: new(""), Create: new("")}}); err != nil {
		t.Fatal(err)
	}
	for _, authz := range []string{"Bearer " + adminToken, ""} {
		doc, text := s.loadOpenAPI(authz)
		if strings.Contains(text, "$defs") {
			t.Errorf("%q: $defs left in the document", authz)
		}
		var raw any
		if err := json.Unmarshal([]byte(text), &raw); err != nil {
			t.Fatal(err)
		}
		refs := 0
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, child := range x {
					if ref, ok := child.(string); ok && k == "$ref" {
						refs++
						name, ok := strings.CutPrefix(ref, "#/components/schemas/")
						if ok && (strings.Contains(name, "/") || doc.Components.Schemas[name] == nil) {
							t.Errorf("%q: $ref %s does not name a component schema", authz, ref)
						}
					}
					walk(child)
				}
			case []any:
				for _, child := range x {
					walk(child)
				}
			}
		}
		walk(raw)
		if refs == 0 {
			t.Fatal("no references")
		}
		for _, name := range []string{"Collection_trees.node", "Collection_trees.node.meta", "Collection_trees.leaf",
			"Collection_trees.node.Read", "Collection_trees.ReadData"} {
			if doc.Components.Schemas[name] == nil {
				t.Errorf("%q: no component %s", authz, name)
			}
		}
		if len(doc.Components.Schemas["Collection_trees.node"].Value.Required) != 1 ||
			len(doc.Components.Schemas["Collection_trees.node.Read"].Value.Required) != 0 ||
			len(doc.Components.Schemas["Collection_trees.ReadData"].Value.Required) != 0 ||
			len(doc.Components.Schemas["Collection_trees.node.meta"].Value.Required) != 1 {
			t.Errorf("%q: required lists of the written and returned variants are wrong", authz)
		}
		if ref := doc.Components.Schemas["Collection_trees.Data"].Value.Properties["parent"].Ref; ref != "#/components/schemas/Collection_trees.Data" {
			t.Errorf("%q: the recursive reference is %q", authz, ref)
		}
	}
}

// TestOpenAPITypeNames checks that no component schema takes the name of
// a type that oapi-codegen derives from an operation (<OperationId>Response
// and the like) or of another schema, once normalised the way a generator
// does, even with collections named to collide.
func TestOpenAPITypeNames(t *testing.T) {
	s := newStack(t)
	for _, name := range []string{"list", "spec", "posts", "posts_data", "postsdata", "batch", "document"} {
		if _, err := s.svc.CreateCollection(adminCtx(t), docstore.CollectionSpec{Name: name,
			Schema: json.RawMessage(`{"type":"object","$defs":{"Data":{"type":"string"},"document":{"type":"string"}}}`)}); err != nil {
			t.Fatal(err)
		}
	}
	doc, _ := s.loadOpenAPI("Bearer " + adminToken)
	seen := map[string]string{}
	for name := range doc.Components.Schemas {
		n := NormalizeTypeName(name)
		if other, ok := seen[n]; ok {
			t.Errorf("schemas %q and %q make the same type name", name, other)
		}
		seen[n] = name
	}
	ops := 0
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			ops++
			for _, suffix := range generatedSuffixes {
				if name, ok := seen[NormalizeTypeName(op.OperationID+suffix)]; ok {
					t.Errorf("schema %q collides with the type generated for operation %s", name, op.OperationID)
				}
			}
		}
	}
	if ops < 50 {
		t.Errorf("only %d operations", ops)
	}
}

func TestBuildOpenAPIWithoutCollections(t *testing.T) {
	doc, err := BuildOpenAPI(t.Context(), docstore.Catalog{})
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
	if err := loaded.Validate(t.Context(), openapi3.IsOpenAPI31OrLater()); err != nil {
		t.Fatalf("invalid: %v", err)
	}
}
