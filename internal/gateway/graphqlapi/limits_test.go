package graphqlapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
)

// limitsSchema has a collection deep enough to nest past the depth limit.
func limitsSchema(t *testing.T) *Schema {
	t.Helper()
	nested := `{"type": "string"}`
	for range 14 {
		nested = `{"type": "object", "properties": {"n": ` + nested + `, "x": {"type": "string"}}}`
	}
	s, err := BuildSchema(docstore.Catalog{Collections: []docstore.CatalogEntry{
		entry("posts", `{"type": "object", "properties": {"title": {"type": "string"}, "deep": `+nested+`}}`, auth.ActionList, auth.ActionGet, auth.ActionDelete),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLimitsRefuseAbuse: each abusive document is refused by Parse, with
// the limit it passes named and the code of REST's problem.
func TestLimitsRefuseAbuse(t *testing.T) {
	s := limitsSchema(t)
	deep := "n { " + strings.Repeat("n { ", 12) + "x" + strings.Repeat(" }", 13)
	var aliases strings.Builder
	for i := range 51 {
		fmt.Fprintf(&aliases, "a%d: postsById(id: \"x\") { id } ", i)
	}
	// Fragments that spread the one below twice, 30 levels: about 2^30
	// fields once expanded, a few hundred bytes written.
	var frags strings.Builder
	frags.WriteString("{ posts(first: 1) { nodes { ...F0 } } }\n")
	for i := range 30 {
		fmt.Fprintf(&frags, "fragment F%d on Posts { a%d: title ...F%d ...F%d }\n", i, i, i+1, i+1)
	}
	frags.WriteString("fragment F30 on Posts { id }\n")
	// Mutations, some through fragments that spread each other.
	var mutations strings.Builder
	mutations.WriteString("mutation { ...M0 " + strings.Repeat(`postsDelete(id: "x") { id } `, 6) + "}\n")
	for i := range 4 {
		fmt.Fprintf(&mutations, "fragment M%d on Mutation { m%d: postsDelete(id: \"x\") { id } ...M%d ...M%d }\n", i, i, i+1, i+1)
	}
	mutations.WriteString("fragment M4 on Mutation { __typename }\n")
	for _, tc := range []struct {
		name, query, code, want string
	}{
		{"size", "{ " + strings.Repeat("__typename ", 4000) + "}", "payload_too_large", "larger than 32768 bytes"},
		{"tokens", "{ " + strings.Repeat("a ", 12000) + "}", "invalid", "token limit"},
		{"fields", "{ " + strings.Repeat("__typename ", 501) + "}", "invalid", "501 fields; at most 500"},
		{"depth", `{ postsById(id: "x") { deep { ` + deep + ` } } }`, "invalid", "nest 15 deep; at most 12"},
		{"aliases", "{ " + aliases.String() + "}", "invalid", "51 aliased fields; at most 50"},
		{"complexity", "{ " + strings.Repeat(`p: posts(first: 200) { nodes { id title deep { x n { x n { x n { x n { x } } } } } } edges { cursor node { id title } } } `, 3) + "}",
			"invalid", "complexity is"},
		{"a variable page size counts as the largest", "query($n: Int) { " +
			strings.Repeat(`p: posts(first: $n) { nodes { id title deep { x n { x n { x n { x n { x n { x } } } } } } } } `, 4) + "}", "invalid", "complexity is"},
		{"fragments expanded", frags.String(), "invalid", "more than"},
		{"mutations", mutations.String(), "invalid", "it makes 21 mutations; at most 20"},
		{"not valid", `{ posts { nodes { nope } } }`, "invalid", `Cannot query field "nope"`},
		{"not GraphQL", `{ posts(`, "invalid", "Expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := Parse(s, tc.query, Limits{})
			if doc != nil || len(errs) == 0 {
				t.Fatalf("accepted (%d bytes)", len(tc.query))
			}
			if errs[0].Extensions["code"] != tc.code || !strings.Contains(errs.Error(), tc.want) {
				t.Errorf("%v (code %v), want %q with code %s", errs, errs[0].Extensions["code"], tc.want, tc.code)
			}
		})
	}
}

// TestLimitsAdmitAScreen: a document a mobile screen sends passes, and
// its measures are the ones expected.
func TestLimitsAdmitAScreen(t *testing.T) {
	s := limitsSchema(t)
	q := `query Feed($after: String) {
		feed: posts(first: 20, after: $after) { edges { cursor node { ...Card } } pageInfo { hasNextPage endCursor } }
		me { email }
	}
	fragment Card on Posts { id title deep { x } }`
	doc, errs := Parse(s, q, Limits{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := cost{doc: doc, l: DefaultLimits(), frags: map[string]measure{}}
	m := c.selections(doc.Operations[0].SelectionSet, 1)
	// feed: 1 + 20 × (edges 1 + cursor 1 + node 1 + id, title, deep, x 4
	// + pageInfo 1 + hasNextPage, endCursor 2); me 1 + email 1.
	if m.depth != 4 || m.aliases != 1 || m.complexity != 1+20*10+2 {
		t.Errorf("measure %+v", m)
	}
}

// BenchmarkParseLargest measures Parse of the costliest documents within
// the field limit: 500 fields of one name (what validation's merging check
// compares pairwise), flat and nested.
//
//	go test -run '^$' -bench BenchmarkParseLargest ./internal/gateway/graphqlapi/
func BenchmarkParseLargest(b *testing.B) {
	nested := `{"type": "object", "properties": {"x": {"type": "object", "properties": {"y": {"type": "string"}}}}}`
	s, err := BuildSchema(docstore.Catalog{Collections: []docstore.CatalogEntry{
		entry("posts", `{"type": "object", "properties": {"title": {"type": "string"}, "deep": `+nested+`}}`, auth.ActionList, auth.ActionGet, auth.ActionDelete),
	}})
	if err != nil {
		b.Fatal(err)
	}
	for name, q := range map[string]string{
		"flat":   "{ postsById(id: \"x\") { " + strings.Repeat("title ", 498) + "} }",
		"nested": "{ " + strings.Repeat(`postsById(id: "x") { deep { x { y } } } `, 125) + "}",
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, errs := Parse(s, q, Limits{}); len(errs) > 0 {
					b.Fatal(errs)
				}
			}
		})
	}
}
