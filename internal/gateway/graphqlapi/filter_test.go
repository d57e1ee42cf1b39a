package graphqlapi

import (
	"context"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
)

// TestFilterParityWithREST: a typed filter and order select the documents,
// in the order, that the same filter and sort written in REST's query
// language do, for each kind of caller, on both engines.
func TestFilterParityWithREST(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			f := newFixtureOn(t, engine)
			for _, tc := range []struct {
				typed, text string
			}{
				{`filter: {score: {gte: 2}}`, `score >= 2`},
				{`filter: {or: [{kind: {eq: todo}}, {public: {eq: true}}]}`, `kind = "todo" || public = true`},
				{`filter: {not: {title: {contains: "ALICE"}}}`, `!(title ~ "ALICE")`},
				{`filter: {meta: {tags: {some: {in: ["b", "z"]}}}}`, `meta.tags ?in ["b", "z"]`},
				{`filter: {meta: {tags: {isNull: false}}}`, `meta.tags != null`},
				{`filter: {kind: {isNull: true}}`, `kind = null`},
				{`filter: {id: {in: ["n1", "n3"]}, score: {lt: 4}}`, `id in ["n1", "n3"] && score < 4`},
				{`filter: {or: []}`, `id = null`},
				{`filter: {and: [], title: {ne: "bob 2"}}`, `title != "bob 2"`},
				{`filter: {title: {in: []}}`, `id = null`},
				{`filter: {title: {notIn: []}, version: {eq: 1}}`, `version = 1`},
				{`filter: {updatedAt: {gte: "2000-01-01T00:00:00Z"}, createdAt: {lt: "2999-01-01T00:00:00Z"}}`, `updatedAt >= "2000-01-01T00:00:00Z" && createdAt < "2999-01-01T00:00:00Z"`},
				{`filter: {title: {eq: "a \"quoted\" \\ line\n"}}`, `title = "a \"quoted\" \\ line\n"`},
				{`filter: {not: {or: [{owner: {eq: "bob"}}, {score: {gt: 3}}]}}`, `!(owner = "bob" || score > 3)`},
				{`filter: {score: {gte: 2}}, where: "owner = 'alice'"`, `score >= 2 && owner = "alice"`},
				{`orderBy: [{score: DESC}]`, ``},
				{`orderBy: [{kind: ASC}, {title: DESC}], filter: {score: {ne: null}}`, `score != null`},
			} {
				sort := ""
				switch {
				case strings.Contains(tc.typed, "{score: DESC}"):
					sort = "-score"
				case strings.Contains(tc.typed, "{kind: ASC}"):
					sort = "kind,-title"
				}
				for _, who := range []struct {
					name string
					ctx  context.Context
				}{{"admin", f.admin}, {"alice", f.alice}, {"anonymous", f.anonymous}} {
					got, _ := f.run(who.ctx, t, `{ notes(`+tc.typed+`) { nodes { id } } }`, nil)
					page, err := f.svc.ListDocuments(who.ctx, docstore.ListRequest{Collection: "notes", Filter: tc.text, Sort: sort})
					if err != nil {
						t.Fatalf("%s: REST's %q: %v", who.name, tc.text, err)
					}
					ids := make([]string, len(page.Items))
					for i, d := range page.Items {
						ids[i] = `{"id":"` + d.ID + `"}`
					}
					want := `{"data":{"notes":{"nodes":[` + strings.Join(ids, ",") + `]}}}`
					if got != want {
						t.Errorf("%s, %s:\n got %s\nwant %s (%s)", who.name, tc.typed, got, want, tc.text)
					}
				}
			}
		})
	}
}

// TestFilterRefusals: what a typed filter or order cannot say is refused
// with invalid, as REST refuses it, before any document is read.
func TestFilterRefusals(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ args, want string }{
		{`filter: {secret: {eq: "s1"}}`, `Field \"secret\" is not defined by type \"NotesFilter\"`},
		{`where: "secret = 's1'"`, `"code":"invalid"`},
		{`filter: {score: {eq: 1.5}}`, `Int cannot represent non-integer value`},
		{`filter: {meta: {tags: {some: {notIn: ["a"]}}}}`, `takes no notIn`},
		{`orderBy: [{score: DESC, title: ASC}]`, `names one field`},
		{`orderBy: [{score: DESC}], sort: "title"`, `one or the other`},
		{`orderBy: [{}]`, `names one field`},
		{`orderBy: [{meta: ASC}]`, `Field \"meta\" is not defined by type \"NotesOrderBy\"`},
	} {
		got, _ := f.run(f.alice, t, `{ notes(`+tc.args+`) { nodes { id } } }`, nil)
		if !strings.Contains(got, tc.want) || !strings.Contains(got, `"code":"invalid"`) {
			t.Errorf("%s: %s; want %s", tc.args, got, tc.want)
		}
	}
	// From variables, as JSON.
	vars := map[string]any{}
	if err := decodeJSON([]byte(`{"f": {"score": {"in": [1, 4]}}, "o": [{"score": "DESC"}]}`), &vars); err != nil {
		t.Fatal(err)
	}
	got, _ := f.run(f.alice, t, `query($f: NotesFilter, $o: [NotesOrderBy!]) { notes(filter: $f, orderBy: $o) { nodes { id } } }`, vars)
	if got != `{"data":{"notes":{"nodes":[{"id":"n4"},{"id":"n1"}]}}}` {
		t.Errorf("a filter in variables: %s", got)
	}
}

// TestCompileFilter: the text a typed filter compiles to.
func TestCompileFilter(t *testing.T) {
	spec := &filterSpec{logic: true, fields: map[string]*filterField{
		"title": {path: "title", kind: kindString},
		"n":     {path: "n", kind: kindNumber},
		"meta":  {nested: &filterSpec{fields: map[string]*filterField{"tags": {path: "meta.tags", kind: kindString, list: true}}}},
		"any":   {path: "any", kind: kindJSON},
	}}
	for _, tc := range []struct{ in, want string }{
		{`{}`, ``},
		{`{"title": {"eq": "x\u0001y", "ne": null}, "n": {"gt": 1e3}}`, `n > 1e3 && title = "x\u0001y" && title != null`},
		{`{"and": [{"n": {"eq": 1}}, {}], "or": [{"n": {"eq": 2}}, {}]}`, `((n = 1))`},
		{`{"not": {}}`, `id = null`},
		{`{"meta": {"tags": {"some": {"contains": "a", "ne": "b"}}}}`, `meta.tags ?~ "a" && meta.tags ?!= "b"`},
		{`{"any": {"in": ["a", 1, true, null]}}`, `any in ["a", 1, true, null]`},
	} {
		var v any
		if err := decodeJSON([]byte(tc.in), &v); err != nil {
			t.Fatal(err)
		}
		got, err := compileFilter(spec, v)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{`{"any": {"eq": {"a": 1}}}`, `{"n": {"eq": "1"}}`, `{"title": {"lt": 1}}`, `{"nope": {}}`, `{"n": {"like": 1}}`} {
		var v any
		if err := decodeJSON([]byte(in), &v); err != nil {
			t.Fatal(err)
		}
		if got, err := compileFilter(spec, v); err == nil {
			t.Errorf("%s compiled to %q", in, got)
		}
	}
}

// FuzzFilter: whatever a client writes as a typed filter is refused
// before it runs or runs; it never fails the server (no code but invalid,
// and no panic).
func FuzzFilter(f *testing.F) {
	for _, seed := range []string{`{score: {gte: 2}}`, `{or: [{kind: {eq: todo}}, {public: {eq: true}}]}`, `{not: {title: {contains: "A\u0000"}}}`,
		`{meta: {tags: {some: {in: ["b", "z"], lt: "q"}}}}`, `{id: {in: []}, score: {lt: -1e308}}`, `{and: [{not: {not: {}}}], or: []}`,
		`{title: {eq: "\\u00e9\"\\\\"}}`, `{updatedAt: {gte: "not a time"}}`} {
		f.Add(seed)
	}
	fx := newFixture(f)
	cat, err := fx.svc.Catalog(fx.alice)
	if err != nil {
		f.Fatal(err)
	}
	s, err := BuildSchema(cat)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		doc, errs := Parse(s, `{ notes(filter: `+filter+`) { nodes { id } } }`, Limits{})
		if len(errs) > 0 {
			return
		}
		r := Execute(fx.alice, s, Services{Documents: fx.svc}, doc, "", nil)
		for _, e := range r.Errors {
			if e.Extensions["code"] != "invalid" {
				t.Errorf("%s: %v (%v)", filter, e, e.Extensions["code"])
			}
		}
	})
}

// TestFilterTypes: the filter and order-by inputs of awkward schemas load
// and say what they can: a property named like a logical operator is left
// to where, lists of enums compare their elements, an object of lists
// does not sort, and a collection named like a comparison type is
// renamed.
func TestFilterTypes(t *testing.T) {
	s, err := BuildSchema(docstore.Catalog{Collections: []docstore.CatalogEntry{
		entry("items", `{"type": "object", "properties": {"and": {"type": "string"}, "colors": {"type": "array", "items": {"type": "string", "enum": ["red", "blue"]}},
			"bag": {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "integer"}}}}, "any": {}}}`, "list"),
		entry("string_comparison", `{"type": "object", "properties": {"a": {"type": "string"}}}`, "list"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	fields := func(typ string) string {
		d := s.AST.Types[typ]
		if d == nil {
			return "none"
		}
		var out []string
		for _, f := range d.Fields {
			out = append(out, f.Name+": "+f.Type.String())
		}
		return strings.Join(out, ", ")
	}
	for typ, want := range map[string]string{
		"ItemsFilter": "and: [ItemsFilter!], or: [ItemsFilter!], not: ItemsFilter, id: StringComparison, version: IntComparison, createdAt: DateTimeComparison, " +
			"updatedAt: DateTimeComparison, any: JSONComparison, bag: ItemsBagFilter, colors: ItemsColorsItemListComparison",
		"ItemsBagFilter":                "xs: FloatListComparison",
		"ItemsColorsItemListComparison": "isNull: Boolean, some: ItemsColorsItemComparison",
		"ItemsOrderBy":                  "id: SortDirection, version: SortDirection, createdAt: SortDirection, updatedAt: SortDirection, and: SortDirection",
		"StringComparisonDocument":      "id: ID!, collection: String!, version: Int!, createdAt: DateTime!, updatedAt: DateTime!, a: String",
	} {
		if got := fields(typ); got != want {
			t.Errorf("%s: %s\nwant %s", typ, got, want)
		}
	}
}
