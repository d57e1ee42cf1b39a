package e2e

import (
	"bytes"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/basaltdev/basalt/internal/gateway/authapi"
	"github.com/basaltdev/basalt/internal/gateway/eventsapi"
	"github.com/basaltdev/basalt/internal/gateway/graphqlapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/gateway/webhookapi"
)

// openAPIOperationIDs are the operation ids generated clients call.
var openAPIOperationIDs = []string{
	"signUp", "login", "refresh", "logout", "getMe", "deleteMe", "listMySessions", "revokeMySession", "changePassword",
	"requestPasswordReset", "confirmPasswordReset", "requestVerification", "verifyEmail", "listAccounts", "createAccount",
	"getAccount", "updateAccount", "deleteAccount", "listAccountSessions", "revokeSession", "listAPIKeys", "createAPIKey",
	"revokeAPIKey", "listSigningKeys", "rotateSigningKeys", "getJWKS", "getHealth", "getReadiness", "getMetrics", "graphqlPost", "graphqlGet",
	"listCollections", "createCollection", "getCollection", "replaceCollection", "patchCollection", "deleteCollection",
	"listDocuments", "createDocument", "getDocument", "replaceDocument", "patchDocument", "deleteDocument", "batch",
	"getOpenAPI", "createDocument_notes", "listDocuments_notes", "searchDocuments", "searchDocumentsWithBody",
	"searchDocuments_notes", "searchDocumentsWithBody_notes",
}

// openAPIDoc is a fetched OpenAPI document: loaded and validated by
// kin-openapi, and its text for the JSON Schema validator.
type openAPIDoc struct {
	doc  *openapi3.T
	text []byte
}

// fetchOpenAPI gets GET /v1/openapi.json as c's caller and checks that it
// is a valid OpenAPI 3.1 document.
func fetchOpenAPI(t *testing.T, c *client) openAPIDoc {
	t.Helper()
	r := c.must(200, "GET", "/v1/openapi.json", "")
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("loading the document: %v", err)
	}
	if err := doc.Validate(t.Context(), openapi3.IsOpenAPI31OrLater()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3.1: %v", err)
	}
	return openAPIDoc{doc: doc, text: r.Body}
}

// validate checks body against the JSON schema of the 200 answer of the
// operation at path and method, with a JSON Schema 2020-12 validator that
// resolves the document's references.
func (d openAPIDoc) validate(t *testing.T, method, path string, body []byte) {
	t.Helper()
	item := d.doc.Paths.Find(path)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("%s %s is not described", method, path)
	}
	ref := item.GetOperation(method).Responses.Status(200).Value.Content.Get("application/json").Schema.Ref
	root, err := jsonschema.UnmarshalJSON(bytes.NewReader(d.text))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const url = "https://basalt.test/openapi.json"
	if err := c.AddResource(url, root); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url + ref)
	if err != nil {
		t.Fatalf("compiling %s: %v", ref, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s %s: %s does not match the described answer %s: %v", method, path, body, ref, err)
	}
}

// notesSpec is a collection with definitions (one recursive), a hidden
// field and rules that let anonymous callers read and users create.
const notesSpec = `{"name":"notes","schema":{"type":"object","$defs":{"tag":{"type":"string","minLength":1},` +
	`"thread":{"type":"object","properties":{"text":{"type":"string"},"replies":{"type":"array","items":{"$ref":"#/$defs/thread"}}},"required":["text"]}},` +
	`"properties":{"title":{"type":"string"},"tags":{"type":"array","items":{"$ref":"#/$defs/tag"}},"thread":{"$ref":"#/$defs/thread"},` +
	`"author":{"type":"object","properties":{"name":{"type":"string"},"privateEmail":{"type":"string"}},"required":["name","privateEmail"]},` +
	`"internalScore":{"type":"integer"}},"required":["title","author","internalScore"],"additionalProperties":false},` +
	`"hiddenFields":["author.privateEmail","internalScore"],` +
	`"rules":{"list":"","get":"","create":"@auth.type = \"user\""},"search":{"text":{"fields":{"title":1}}}}`

// TestOpenAPIDocument fetches the OpenAPI document of a live server as an
// admin, an anonymous caller, a user and an API key, on both engines: the
// admin's describes every route the server registers; each caller's is a
// valid OpenAPI 3.1 document showing only what they may reach and no
// hidden field; and the documents the server returns (projected with
// fields=, or without their hidden fields) match the schemas it describes.
func TestOpenAPIDocument(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		admin, _ := startApp(t, engine)
		admin.must(201, "POST", "/v1/collections", notesSpec)
		admin.must(201, "POST", "/v1/collections",
			`{"name":"ledger","schema":{"type":"object","properties":{"amount":{"type":"integer"}}}}`)
		admin.must(201, "POST", "/v1/collections/notes/documents?id=n1",
			`{"title":"first","tags":["a"],"thread":{"text":"hi","replies":[{"text":"re"}]},`+
				`"author":{"name":"Ada","privateEmail":"ada@example.test"},"internalScore":3}`)

		// The admin's document describes every route, with the ids
		// generated clients call.
		full := fetchOpenAPI(t, admin)
		routes := append(restapi.RoutePatterns(), authapi.RoutePatterns()...)
		routes = append(routes, webhookapi.RoutePatterns()...)
		routes = append(routes, eventsapi.RoutePatterns()...)
		routes = append(routes, graphqlapi.RoutePatterns()...)
		routes = append(routes, "GET /healthz", "GET /readyz", "GET /metrics")
		for _, pattern := range routes {
			method, path, _ := strings.Cut(pattern, " ")
			item := full.doc.Paths.Find(path)
			if item == nil || item.GetOperation(method) == nil {
				t.Errorf("route %s is not described", pattern)
				continue
			}
			op := item.GetOperation(method)
			if op.Summary == "" || op.Description == "" || len(op.Tags) == 0 || op.Security == nil {
				t.Errorf("%s: summary %q, description %q, tags %v, security %v", pattern, op.Summary, op.Description, op.Tags, op.Security)
			}
			for _, tag := range op.Tags {
				if tg := full.doc.Tags.Get(tag); tg == nil || tg.Description == "" {
					t.Errorf("%s: tag %q is not declared with a description", pattern, tag)
				}
			}
		}
		for _, id := range openAPIOperationIDs {
			if !bytes.Contains(full.text, []byte(`"operationId":"`+id+`"`)) {
				t.Errorf("no operation %s", id)
			}
		}
		for _, want := range []string{"privateEmail", "internalScore", "ledger", "CollectionSpec", "metricsToken"} {
			if !bytes.Contains(full.text, []byte(want)) {
				t.Errorf("the admin's document lacks %s", want)
			}
		}
		if bytes.Contains(full.text, []byte("$defs")) {
			t.Error("$defs left in the document")
		}

		// Other callers get the document too, without what they cannot
		// reach and without hidden fields.
		user := admin.as(admin.signUp("reader@openapi.test", "a long enough password").AccessToken)
		var k struct{ Key string }
		decodeInto(t, admin.must(201, "POST", "/v1/admin/api-keys", `{"name":"reader","scopes":["notes:read"]}`), &k)
		key := admin.as(k.Key)
		for name, c := range map[string]*client{"anonymous": admin.anonymous(), "user": user, "apikey": key} {
			d := fetchOpenAPI(t, c)
			for _, secret := range []string{"privateEmail", "internalScore", "ledger", "/v1/admin", "createCollection", "getMetrics",
				"CollectionSpec", "metricsToken", "AccountPage"} {
				if bytes.Contains(d.text, []byte(secret)) {
					t.Errorf("%s: the document names %s", name, secret)
				}
			}
			for _, id := range []string{"listDocuments_notes", "getDocument_notes", "signUp", "login", "getJWKS", "getHealth"} {
				if !bytes.Contains(d.text, []byte(`"operationId":"`+id+`"`)) {
					t.Errorf("%s: no operation %s", name, id)
				}
			}
			createNotes := bytes.Contains(d.text, []byte(`"operationId":"createDocument_notes"`))
			if createNotes != (name == "user") {
				t.Errorf("%s: createDocument_notes shown: %v", name, createNotes)
			}
			// Reads are open to anonymous callers; creating needs a user.
			notes := d.doc.Paths.Find("/v1/collections/notes/documents")
			if sec := notes.Get.Security; sec == nil || len(*sec) != 2 {
				t.Errorf("%s: listDocuments_notes security %v, want a bearer or none", name, sec)
			}
			if notes.Post != nil && (notes.Post.Security == nil || len(*notes.Post.Security) != 1) {
				t.Errorf("%s: createDocument_notes security %v, want a bearer", name, notes.Post.Security)
			}
			ownAccount := bytes.Contains(d.text, []byte(`"operationId":"getMe"`))
			if ownAccount != (name != "apikey") {
				t.Errorf("%s: getMe shown: %v", name, ownAccount)
			}

			// What the server returns matches what the document says.
			d.validate(t, "GET", "/v1/collections/notes/documents/{id}", c.must(200, "GET", "/v1/collections/notes/documents/n1", "").Body)
			d.validate(t, "GET", "/v1/collections/notes/documents", c.must(200, "GET", "/v1/collections/notes/documents?fields=tags", "").Body)
			d.validate(t, "GET", "/v1/collections/notes/documents", c.must(200, "GET", "/v1/collections/notes/documents?fields=author.name&total=true", "").Body)
			d.validate(t, "GET", "/v1/collections/notes/search", c.must(200, "GET", "/v1/collections/notes/search?q=first", "").Body)
			d.validate(t, "POST", "/v1/collections/notes/search", c.must(200, "POST", "/v1/collections/notes/search", `{"q":"first","fields":"tags"}`).Body)
		}
		full.validate(t, "GET", "/v1/collections/notes/documents/{id}", admin.must(200, "GET", "/v1/collections/notes/documents/n1", "").Body)
		full.validate(t, "GET", "/v1/collections/notes/documents", admin.must(200, "GET", "/v1/collections/notes/documents?fields=author.privateEmail", "").Body)
		full.validate(t, "GET", "/v1/collections/{collection}/documents", admin.must(200, "GET", "/v1/collections/ledger/documents", "").Body)
		// A searchable collection shows the progress of its search indexes.
		notes := admin.must(200, "GET", "/v1/collections/notes", "").Body
		if !bytes.Contains(notes, []byte(`"status":{"search":{"text":`)) {
			t.Errorf("notes has no search status: %s", notes)
		}
		full.validate(t, "GET", "/v1/collections/{collection}", notes)
	})
}
