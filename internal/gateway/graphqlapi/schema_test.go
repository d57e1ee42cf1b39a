package graphqlapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
)

func TestNames(t *testing.T) {
	for name, want := range map[string][2]string{
		"posts":      {"Posts", "posts"},
		"blog_posts": {"BlogPosts", "blogPosts"},
		"ab_1":       {"Ab_1", "ab_1"},
		"ab1":        {"Ab1", "ab1"},
		"a__b":       {"A_B", "a_B"},
		"a_":         {"A_", "a_"},
		"x_y_z":      {"XYZ", "xYZ"},
	} {
		if got := [2]string{pascal(name), camel(name)}; got != want {
			t.Errorf("%q: %v, want %v", name, got, want)
		}
	}
	// No two collection names give one type name.
	seen := map[string]string{}
	for _, n := range []string{"ab", "a_b", "a__b", "a_b_", "ab_", "a_1", "a1", "a__1", "a_1_", "ab_c", "abc", "a_bc", "ab__c"} {
		if other, dup := seen[pascal(n)]; dup {
			t.Errorf("%q and %q are both %q", n, other, pascal(n))
		}
		seen[pascal(n)] = n
	}
}

// entry is a catalog entry of name with schema and the actions given.
func entry(name, schema string, actions ...string) docstore.CatalogEntry {
	return docstore.CatalogEntry{Name: name, Schema: json.RawMessage(schema), Actions: actions}
}

func TestBuildSchemaTypes(t *testing.T) {
	cat := docstore.Catalog{Collections: []docstore.CatalogEntry{
		entry("blog_posts", `{"type": "object", "properties": {
			"title": {"type": "string"},
			"score": {"type": "integer", "minimum": 0, "maximum": 100},
			"views": {"type": "integer"},
			"rating": {"type": ["number", "null"]},
			"draft": {"type": "boolean"},
			"tags": {"type": "array", "items": {"type": "string"}},
			"author": {"type": "object", "properties": {"name": {"type": "string"}, "address": {"type": "object", "properties": {"city": {"type": "string"}}}}},
			"links": {"type": "array", "items": {"type": "object", "properties": {"url": {"type": "string"}}}},
			"extra": {},
			"empty": {"type": "object"},
			"mixed": {"type": ["string", "integer"]},
			"status": {"type": "string", "enum": ["draft", "published", "draft"]},
			"labels": {"type": "array", "items": {"type": "string", "enum": ["red", "GREEN"]}},
			"odd": {"type": "string", "enum": ["a b", "c"]},
			"never": false,
			"id": {"type": "string"},
			"__typename": {"type": "string"},
			"bad-name": {"type": "string"}
		}}`, auth.ActionList, auth.ActionGet),
	}}
	s, err := BuildSchema(cat)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"title": "String", "score": "Int", "views": "Float", "rating": "Float", "draft": "Boolean", "tags": "[String]",
		"author": "BlogPostsAuthor", "links": "[BlogPostsLinksItem]", "extra": "JSON", "empty": "JSON", "mixed": "JSON",
		"status": "BlogPostsStatus", "labels": "[BlogPostsLabelsItem]", "odd": "String",
		"id": "ID!", "collection": "String!", "version": "Int!", "createdAt": "DateTime!", "updatedAt": "DateTime!",
	}
	def := s.AST.Types["BlogPosts"]
	if def == nil {
		t.Fatalf("no type BlogPosts in\n%s", s.SDL)
	}
	got := map[string]string{}
	for _, f := range def.Fields {
		got[f.Name] = f.Type.String()
	}
	for name, typ := range want {
		if got[name] != typ {
			t.Errorf("BlogPosts.%s: %q, want %q", name, got[name], typ)
		}
	}
	for _, absent := range []string{"never", "__typename", "bad-name"} {
		if _, ok := got[absent]; ok {
			t.Errorf("BlogPosts has a field %s", absent)
		}
	}
	if len(got) != len(want) {
		t.Errorf("BlogPosts fields %v, want %v", got, want)
	}
	if city := s.AST.Types["BlogPostsAuthorAddress"]; city == nil || city.Fields.ForName("city") == nil {
		t.Errorf("no BlogPostsAuthorAddress.city in\n%s", s.SDL)
	}
	if e := s.AST.Types["BlogPostsStatus"]; e == nil || e.Kind != "ENUM" || len(e.EnumValues) != 2 || e.EnumValues.ForName("published") == nil {
		t.Errorf("the enum status: %+v", e)
	}
	if e := s.AST.Types["BlogPostsLabelsItem"]; e == nil || e.EnumValues.ForName("GREEN") == nil {
		t.Errorf("the enum of labels' items: %+v", e)
	}
	if s.AST.Types["BlogPostsLinksItem"].Fields.ForName("url") == nil {
		t.Errorf("no BlogPostsLinksItem.url")
	}
	q := s.AST.Query
	list, get := q.Fields.ForName("blogPosts"), q.Fields.ForName("blogPostsById")
	if list == nil || list.Type.String() != "BlogPostsConnection!" || get == nil || get.Type.String() != "BlogPosts" {
		t.Fatalf("root fields: %v, %v\n%s", list, get, s.SDL)
	}
	for _, arg := range []string{"first", "after", "filter", "sort", "total"} {
		if list.Arguments.ForName(arg) == nil {
			t.Errorf("blogPosts has no argument %s", arg)
		}
	}
	if s.Roots["blogPosts"] != (Root{Collection: "blog_posts", Kind: RootList}) || s.Roots["blogPostsById"] != (Root{Collection: "blog_posts", Kind: RootGet}) {
		t.Errorf("roots %v", s.Roots)
	}
	// A query a mobile screen would send validates against the schema.
	query := `{ blogPosts(first: 10, where: "score > 3") { edges { cursor node { id title author { address { city } } links { url } } }
		pageInfo { hasNextPage endCursor } } me { email } }`
	if _, errs := Parse(s, query, Limits{}); len(errs) > 0 {
		t.Errorf("query: %v", errs)
	}
	if _, errs := Parse(s, `{ blogPosts { edges { node { bad } } } }`, Limits{}); len(errs) == 0 {
		t.Error("a field the schema lacks validated")
	}
}

// TestBuildSchemaFollowsTheCatalog: root fields only for the actions the
// catalog lists; no collection means only the caller's own account.
func TestBuildSchemaFollowsTheCatalog(t *testing.T) {
	obj := `{"type": "object", "properties": {"title": {"type": "string"}}}`
	s, err := BuildSchema(docstore.Catalog{Collections: []docstore.CatalogEntry{
		entry("listed", obj, auth.ActionList), entry("got", obj, auth.ActionGet), entry("written", obj, auth.ActionCreate),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var roots []string
	for _, f := range s.AST.Query.Fields {
		if !strings.HasPrefix(f.Name, "__") {
			roots = append(roots, f.Name)
		}
	}
	if got := strings.Join(roots, " "); got != "me sessions listed gotById" {
		t.Errorf("roots %q", got)
	}
	empty, err := BuildSchema(docstore.Catalog{})
	if err != nil {
		t.Fatal(err)
	}
	if f := empty.AST.Query.Fields.ForName("me"); f == nil || len(empty.Collections) != 0 {
		t.Errorf("the empty catalog's schema:\n%s", empty.SDL)
	}
}

// TestBuildSchemaNameCollisions: collections named like the schema's own
// types, or like another collection's derived types, still get a schema
// that loads, with every collection reachable.
func TestBuildSchemaNameCollisions(t *testing.T) {
	obj := `{"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}}}`
	var entries []docstore.CatalogEntry
	for _, n := range []string{"query", "page_info", "account", "json", "posts", "posts_connection", "posts_edge", "posts_a", "posts_by_id", "me"} {
		entries = append(entries, entry(n, obj, auth.ActionList, auth.ActionGet))
	}
	s, err := BuildSchema(docstore.Catalog{Collections: entries})
	if err != nil {
		t.Fatal(err)
	}
	types, roots := map[string]bool{}, map[string]bool{}
	for _, c := range s.Collections {
		for _, n := range []string{c.Type, c.Connection, c.Edge} {
			if types[n] {
				t.Errorf("type %s twice", n)
			}
			types[n] = true
			if s.AST.Types[n] == nil {
				t.Errorf("type %s is not in the schema", n)
			}
		}
	}
	for name, r := range s.Roots {
		if roots[name] {
			t.Errorf("root %s twice", name)
		}
		roots[name] = true
		if s.AST.Query.Fields.ForName(name) == nil || s.Collections[r.Collection] == nil {
			t.Errorf("root %s → %+v", name, r)
		}
	}
	if len(s.Roots) != 2*len(entries) {
		t.Errorf("%d roots for %d collections: %v", len(s.Roots), len(entries), s.Roots)
	}
	if s.Collections["query"].Type != "QueryDocument" || s.Collections["posts_connection"].Type != "PostsConnection" ||
		s.Collections["posts"].Connection == "PostsConnection" {
		t.Errorf("names: query %+v, posts %+v, posts_connection %+v", s.Collections["query"], s.Collections["posts"], s.Collections["posts_connection"])
	}
	if s.Roots["me"] != (Root{}) || s.AST.Query.Fields.ForName("me").Type.String() != "Account" {
		t.Errorf("me is not the caller's account: %v", s.Roots)
	}
}

// FuzzBuildSchema: whatever JSON Schema a collection has, its GraphQL
// schema loads.
func FuzzBuildSchema(f *testing.F) {
	f.Add(`{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"array","items":{"type":"integer"}}}}}}`)
	f.Add(`{"type":"object","properties":{"x":{"type":["null","string","integer"]},"y":true,"z":{"items":{}}}}`)
	f.Add(`{"type":"object","properties":{"_":{"type":"object","properties":{"_":{"type":"object","properties":{"q":{}}}}}}}`)
	f.Fuzz(func(t *testing.T, schema string) {
		var v map[string]any
		if json.Unmarshal([]byte(schema), &v) != nil {
			return
		}
		s, err := BuildSchema(docstore.Catalog{Collections: []docstore.CatalogEntry{entry("c", schema, auth.ActionList, auth.ActionGet)}})
		if err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		if s.AST.Types["C"] == nil {
			t.Fatalf("no type C:\n%s", s.SDL)
		}
	})
}
