package restapi

import (
	"bytes"
	"maps"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// articlesSpec is a collection with a search configuration that leaves
// every default out.
const articlesSpec = `{"name":"articles","schema":{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"},` +
	`"views":{"type":"integer"},"secret":{"type":"string"},"embedding":{"type":"array","items":{"type":"number"}}}},` +
	`"hiddenFields":["secret"],"rules":{"list":"","get":"","create":""},` +
	`"search":{"text":{"fields":{"title":2}},"vectors":{"embedding":{"dimensions":3}}}}`

// articlesSearch is how articlesSpec's search configuration is shown.
const articlesSearch = `"search":{"text":{"fields":{"title":2},"language":"english"},"vectors":{"embedding":{"dimensions":3,"metric":"cosine","source":"client"}}}`

func seedArticles(s *stack) {
	s.t.Helper()
	if rec := s.do("POST", "/v1/collections", nil, articlesSpec); rec.Code != 201 {
		s.t.Fatalf("creating articles: %d %s", rec.Code, rec.Body.String())
	}
}

func TestCollectionSearchConfig(t *testing.T) {
	base := `{"name":"c","schema":{"type":"object","properties":{"title":{"type":"string"},"secret":{"type":"string"}}},"hiddenFields":["secret"]`
	noSearch := func(t *testing.T, _ *stack, rec *httptest.ResponseRecorder) {
		if strings.Contains(rec.Body.String(), `"search"`) {
			t.Errorf("a collection without search shows one: %s", rec.Body.String())
		}
	}
	scenarios := []scenario{
		{name: "create with defaults made explicit", method: "POST", path: "/v1/collections", body: articlesSpec, status: 201, events: 1,
			has: []string{articlesSearch}},
		{name: "get", setup: seedArticles, method: "GET", path: "/v1/collections/articles", status: 200,
			has: []string{articlesSearch}},
		{name: "list", setup: seedArticles, method: "GET", path: "/v1/collections", status: 200,
			has: []string{articlesSearch}},
		{name: "none shown when none configured", method: "POST", path: "/v1/collections", body: base + `,"search":{}}`, status: 201, events: 1,
			check: noSearch},
		{name: "null search", method: "POST", path: "/v1/collections", body: base + `,"search":null}`, status: 201, events: 1,
			check: noSearch},
		{name: "unknown member of search", method: "POST", path: "/v1/collections", body: base + `,"search":{"txt":{}}}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/search/txt"`}},
		{name: "unknown member of text", method: "POST", path: "/v1/collections", body: base + `,"search":{"text":{"fields":{"title":1},"stem":true}}}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/search/text/stem"`}},
		{name: "unknown member of a vector field", method: "POST", path: "/v1/collections",
			body:   base + `,"search":{"vectors":{"v":{"dimensions":3,"size":3}}}}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/search/vectors/v/size"`}},
		{name: "weight not an integer", method: "POST", path: "/v1/collections", body: base + `,"search":{"text":{"fields":{"title":"2"}}}}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/search/text/fields/title"`}},
		{name: "search not an object", method: "POST", path: "/v1/collections", body: base + `,"search":[]}`,
			status: 400, code: "invalid", has: []string{`"pointer":"/search"`}},
		{name: "hidden field searched", method: "POST", path: "/v1/collections", body: base + `,"search":{"text":{"fields":{"secret":1,"title":9}}}}`,
			status: 400, code: "validation", has: []string{`"pointer":"/search/text/fields/secret"`, `"pointer":"/search/text/fields/title"`, "reveal"}},
		{name: "replace", setup: seedArticles, method: "PUT", path: "/v1/collections/articles",
			body:   strings.Replace(articlesSpec, `"search":{"text":{"fields":{"title":2}},`, `"search":{"text":{"fields":{"body":1},"language":"french"},`, 1),
			status: 200, events: 1,
			has: []string{`"search":{"text":{"fields":{"body":1},"language":"french"},"vectors":{"embedding":`}},
		{name: "replace without search drops it", setup: seedArticles, method: "PUT", path: "/v1/collections/articles",
			body: articlesSpec[:strings.Index(articlesSpec, `,"search"`)] + `}`, status: 200, events: 1, check: noSearch},
		{name: "patch merges", setup: seedArticles, method: "PATCH", path: "/v1/collections/articles", headers: mergePatch,
			body: `{"search":{"text":{"fields":{"body":4}},"vectors":{"embedding":null}}}`, status: 200, events: 1,
			has: []string{`"search":{"text":{"fields":{"body":4,"title":2},"language":"english"}},"references":{},"version":2`}},
		{name: "patch null", setup: seedArticles, method: "PATCH", path: "/v1/collections/articles", headers: mergePatch,
			body: `{"search":null}`, status: 200, events: 1, check: noSearch},
		{name: "patch unknown member", setup: seedArticles, method: "PATCH", path: "/v1/collections/articles", headers: mergePatch,
			body: `{"search":{"vectors":{"embedding":{"dims":4}}}}`, status: 400, code: "invalid", has: []string{`"pointer":"/search/vectors/embedding/dims"`}},
		{name: "patch invalid", setup: seedArticles, method: "PATCH", path: "/v1/collections/articles", headers: mergePatch,
			body: `{"search":{"vectors":{"embedding":{"metric":"hamming"}}}}`, status: 400, code: "validation",
			has: []string{`"pointer":"/search/vectors/embedding/metric"`}},
		{name: "document with a short vector", setup: seedArticles, method: "POST", path: "/v1/collections/articles/documents",
			headers: anonymous, body: `{"title":"a","embedding":[1,2]}`, status: 400, code: "validation",
			has: []string{`"pointer":"/data/embedding"`, "3 finite numbers"}},
		{name: "document with a vector", setup: seedArticles, method: "POST", path: "/v1/collections/articles/documents",
			headers: anonymous, body: `{"title":"a","embedding":[1,2,3.5]}`, status: 201, events: 1},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, sc.run)
	}
}

// expectedMembers finds, in a problem, the members a handler accepts.
var expectedMembers = regexp.MustCompile(`unknown member \\"zzz\\" \(expected ([^)]*)\)`)

// TestCollectionSpecDescribed checks that the OpenAPI document describes
// exactly the members the collection handlers accept, and that the
// collections they answer match the described Collection schema.
func TestCollectionSpecDescribed(t *testing.T) {
	s := newStack(t)
	seedArticles(s)
	doc, text := s.loadOpenAPI("Bearer " + adminToken)
	want := slices.Sorted(maps.Keys(doc.Components.Schemas["CollectionSpec"].Value.Properties))
	for _, method := range []string{"POST", "PUT"} {
		path := "/v1/collections"
		if method == "PUT" {
			path += "/articles"
		}
		rec := s.do(method, path, nil, `{"zzz":1}`)
		m := expectedMembers.FindStringSubmatch(rec.Body.String())
		if rec.Code != 400 || m == nil {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
		}
		got := strings.Split(m[1], ", ")
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s accepts %v, CollectionSpec describes %v", method, path, got, want)
		}
	}

	root, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const url = "https://basalt.test/openapi.json"
	if err := c.AddResource(url, root); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Collection", "CollectionSpec"} {
		schema, err := c.Compile(url + "#/components/schemas/" + name)
		if err != nil {
			t.Fatal(err)
		}
		bodies := []string{s.do("GET", "/v1/collections/articles", nil, "").Body.String()}
		if name == "CollectionSpec" {
			bodies = []string{articlesSpec, strings.Replace(articlesSpec, `"dimensions":3}`, `"dimensions":3,"metric":"l2","source":"embedder","from":["title"],"embedder":"builtin"}`, 1)}
		}
		for _, body := range bodies {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(body)))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(v); err != nil {
				t.Errorf("%s does not match %s: %v", body, name, err)
			}
		}
		// And the schema refuses what the handler refuses.
		for _, body := range []string{
			strings.Replace(articlesSpec, `"dimensions":3`, `"dimensions":3,"size":1`, 1),
			strings.Replace(articlesSpec, `"title":2`, `"title":5`, 1),
			strings.Replace(articlesSpec, `{"fields":{"title":2}}`, `{"fields":{"title":2},"stem":true}`, 1),
		} {
			if name != "CollectionSpec" {
				break
			}
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if schema.Validate(v) == nil {
				t.Errorf("CollectionSpec admits %s", body)
			}
		}
	}
}
