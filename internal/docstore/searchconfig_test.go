package docstore_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/embed"
)

// articlesSchema is the schema of the search configuration tests.
const articlesSchema = `{"type":"object","properties":{
	"title":{"type":"string"},
	"body":{"type":["string","null"]},
	"tags":{"type":"array","items":{"type":"string"}},
	"anything":{"type":"array"},
	"scores":{"type":"array","items":{"type":"integer"}},
	"views":{"type":"integer"},
	"note":{},
	"secret":{"type":"string"},
	"profile":{"type":"object","properties":{"bio":{"type":"string"}}},
	"author":{"type":"object","properties":{"name":{"type":"string"}}},
	"embedding":{"type":"array","items":{"type":"number"}},
	"rawvec":{"type":"array"},
	"hiddenvec":{"type":"array","items":{"type":"number"}},
	"a/b":{"type":"integer"}
}}`

// articlesHidden are the hidden fields of the articles collections.
var articlesHidden = []string{"secret", "profile", "hiddenvec"}

// embedders is the Options.Embedders of the search tests: what an
// embed.Set with an embedding server "fixed" of 384 dimensions says.
func embedders(name string, dims int) error {
	switch name {
	case "builtin":
		_, err := embed.NewBuiltin(dims)
		return err
	case "fixed":
		if dims != 384 {
			return fmt.Errorf("%w: the embedder %q makes 384 dimensions, not %d", embed.ErrDimensions, name, dims)
		}
		return nil
	}
	return fmt.Errorf("%w: %q (known: [builtin fixed])", embed.ErrUnknown, name)
}

func newSearchFixture(t *testing.T, engine string) *accessFixture {
	t.Helper()
	st := openEngine(t, engine)
	svc, err := docstore.NewService(st, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)), Embedders: embedders})
	if err != nil {
		t.Fatal(err)
	}
	return &accessFixture{svc: svc, store: st}
}

func text(fields map[string]int) *docstore.TextSearch { return &docstore.TextSearch{Fields: fields} }

func vectors(name string, v docstore.VectorField) map[string]docstore.VectorField {
	return map[string]docstore.VectorField{name: v}
}

func embedderFrom(dims int, from ...string) docstore.VectorField {
	return docstore.VectorField{Dimensions: dims, Source: docstore.SourceEmbedder, From: from}
}

// TestSearchConfigValidation refuses each kind of bad search configuration
// with a fault.Validation naming the member at fault.
func TestSearchConfigValidation(t *testing.T) {
	f := newSearchFixture(t, "sqlite")
	admin := as(t, "admin")
	many := func(n int, prefix string) map[string]docstore.VectorField {
		m := map[string]docstore.VectorField{}
		for i := range n {
			m[fmt.Sprintf("%s%d", prefix, i)] = embedderFrom(8, "title")
		}
		return m
	}
	seventeen := map[string]int{}
	for i := range 17 {
		seventeen[fmt.Sprintf("f%02d", i)] = 1
	}
	nine := []string{"title", "body", "tags", "note", "anything", "author.name", "title", "body", "tags"}
	cases := []struct {
		name     string
		search   docstore.Search
		pointers []string // every one must be reported
		message  string   // a word the first problem's message contains
		more     bool     // other problems may be reported too
	}{
		{"no text fields", docstore.Search{Text: text(map[string]int{})}, []string{"/search/text/fields"}, "1 to 16", false},
		{"too many text fields", docstore.Search{Text: text(seventeen)}, []string{"/search/text/fields"}, "1 to 16", true},
		{"unknown text field", docstore.Search{Text: text(map[string]int{"nope": 1})}, []string{"/search/text/fields/nope"}, "not a property", false},
		{"integer text field", docstore.Search{Text: text(map[string]int{"views": 1})}, []string{"/search/text/fields/views"}, "integer", false},
		{"object text field", docstore.Search{Text: text(map[string]int{"author": 1})}, []string{"/search/text/fields/author"}, "object", false},
		{"array of integers", docstore.Search{Text: text(map[string]int{"scores": 1})}, []string{"/search/text/fields/scores"}, "integer", false},
		{"system text field", docstore.Search{Text: text(map[string]int{"id": 1})}, []string{"/search/text/fields/id"}, "system", false},
		{"hidden text field", docstore.Search{Text: text(map[string]int{"secret": 1})}, []string{"/search/text/fields/secret"}, "reveal", false},
		{"text field under a hidden one", docstore.Search{Text: text(map[string]int{"profile.bio": 1})}, []string{"/search/text/fields/profile.bio"}, "hidden", false},
		{"weight 0", docstore.Search{Text: text(map[string]int{"title": 0})}, []string{"/search/text/fields/title"}, "weight", false},
		{"weight 5", docstore.Search{Text: text(map[string]int{"title": 5})}, []string{"/search/text/fields/title"}, "weight", false},
		{"escaped pointer", docstore.Search{Text: text(map[string]int{"a/b": 1})}, []string{"/search/text/fields/a~1b"}, "not a property", false},
		{"language", docstore.Search{Text: &docstore.TextSearch{Fields: map[string]int{"title": 1}, Language: "klingon"}}, []string{"/search/text/language"}, "language", false},
		{"too many vector fields", docstore.Search{Vectors: many(5, "v")}, []string{"/search/vectors"}, "at most 4", false},
		{"vector name", docstore.Search{Vectors: vectors("bad-name", embedderFrom(8, "title"))}, []string{"/search/vectors/bad-name"}, "match", false},
		{"vector name too long", docstore.Search{Vectors: vectors(strings.Repeat("v", 64), embedderFrom(8, "title"))}, []string{"/search/vectors/" + strings.Repeat("v", 64)}, "match", false},
		{"system vector name", docstore.Search{Vectors: vectors("createdAt", embedderFrom(8, "title"))}, []string{"/search/vectors/createdAt"}, "system", false},
		{"dimensions 0", docstore.Search{Vectors: vectors("sem", embedderFrom(0, "title"))}, []string{"/search/vectors/sem/dimensions"}, "4096", false},
		{"dimensions 4097", docstore.Search{Vectors: vectors("sem", embedderFrom(4097, "title"))}, []string{"/search/vectors/sem/dimensions"}, "4096", false},
		{"metric", docstore.Search{Vectors: vectors("embedding", docstore.VectorField{Dimensions: 3, Metric: "manhattan"})}, []string{"/search/vectors/embedding/metric"}, "metric", false},
		{"source", docstore.Search{Vectors: vectors("embedding", docstore.VectorField{Dimensions: 3, Source: "server"})}, []string{"/search/vectors/embedding/source"}, "source", false},
		{"client with from", docstore.Search{Vectors: vectors("embedding", docstore.VectorField{Dimensions: 3, From: []string{"title"}})}, []string{"/search/vectors/embedding/from"}, "embedder", false},
		{"client with embedder", docstore.Search{Vectors: vectors("embedding", docstore.VectorField{Dimensions: 3, Embedder: "builtin"})}, []string{"/search/vectors/embedding/embedder"}, "embedder", false},
		{"client property missing", docstore.Search{Vectors: vectors("missing", docstore.VectorField{Dimensions: 3})}, []string{"/search/vectors/missing"}, "property", false},
		{"client property a string", docstore.Search{Vectors: vectors("title", docstore.VectorField{Dimensions: 3})}, []string{"/search/vectors/title"}, "string", false},
		{"client property untyped", docstore.Search{Vectors: vectors("note", docstore.VectorField{Dimensions: 3})}, []string{"/search/vectors/note"}, "array of numbers", false},
		{"client array of strings", docstore.Search{Vectors: vectors("tags", docstore.VectorField{Dimensions: 3})}, []string{"/search/vectors/tags"}, "string", false},
		{"client hidden", docstore.Search{Vectors: vectors("hiddenvec", docstore.VectorField{Dimensions: 3})}, []string{"/search/vectors/hiddenvec"}, "hidden", false},
		{"embedder without from", docstore.Search{Vectors: vectors("sem", embedderFrom(8))}, []string{"/search/vectors/sem/from"}, "1 to 8", false},
		{"embedder from nine", docstore.Search{Vectors: vectors("sem", embedderFrom(8, nine...))}, []string{"/search/vectors/sem/from"}, "1 to 8", true},
		{"embedder from unknown", docstore.Search{Vectors: vectors("sem", embedderFrom(8, "nope"))}, []string{"/search/vectors/sem/from/0"}, "not a property", false},
		{"embedder from a number", docstore.Search{Vectors: vectors("sem", embedderFrom(8, "title", "views"))}, []string{"/search/vectors/sem/from/1"}, "integer", false},
		{"embedder from hidden", docstore.Search{Vectors: vectors("sem", embedderFrom(8, "secret"))}, []string{"/search/vectors/sem/from/0"}, "reveal", false},
		{"embedder from twice", docstore.Search{Vectors: vectors("sem", embedderFrom(8, "title", "title"))}, []string{"/search/vectors/sem/from/1"}, "twice", false},
		{"unknown embedder", docstore.Search{Vectors: vectors("sem", docstore.VectorField{Dimensions: 8, Source: "embedder", From: []string{"title"}, Embedder: "nope"})}, []string{"/search/vectors/sem/embedder"}, "configured", false},
		{"embedder dimensions", docstore.Search{Vectors: vectors("sem", docstore.VectorField{Dimensions: 8, Source: "embedder", From: []string{"title"}, Embedder: "fixed"})}, []string{"/search/vectors/sem/dimensions"}, "384", false},
		{"builtin below its dimensions", docstore.Search{Vectors: vectors("sem", embedderFrom(4, "title"))}, []string{"/search/vectors/sem/dimensions"}, "8 to 8192", false},
		{"problems together", docstore.Search{Text: &docstore.TextSearch{Fields: map[string]int{"title": 9, "views": 1}, Language: "x"},
			Vectors: map[string]docstore.VectorField{"embedding": {Dimensions: 3, Metric: "m"}, "sem": embedderFrom(0, "secret")}},
			[]string{"/search/text/fields/title", "/search/text/fields/views", "/search/text/language", "/search/vectors/embedding/metric",
				"/search/vectors/sem/dimensions", "/search/vectors/sem/from/0"}, "weight", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			search := tc.search
			spec := docstore.CollectionSpec{Name: "bad", Schema: json.RawMessage(articlesSchema), HiddenFields: articlesHidden, Search: &search}
			_, err := f.svc.CreateCollection(admin, spec)
			wantKind(t, err, fault.Validation)
			fs := fault.FieldsOf(err)
			var got []string
			for _, fe := range fs {
				got = append(got, fe.Pointer)
			}
			for _, p := range tc.pointers {
				if !slices.Contains(got, p) {
					t.Errorf("pointers = %v, want %s among them", got, p)
				}
			}
			if len(got) != len(tc.pointers) && !tc.more {
				t.Errorf("pointers = %v, want exactly %v", got, tc.pointers)
			}
			if len(fs) > 0 && !strings.Contains(fs[0].Message, tc.message) {
				t.Errorf("message = %q, want it to say %q", fs[0].Message, tc.message)
			}
			if !strings.Contains(fault.Message(err), "invalid search configuration") {
				t.Errorf("error = %q", fault.Message(err))
			}
		})
	}
	if _, err := f.svc.GetCollection(admin, "bad"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("a refused definition was stored: %v", err)
	}

	// The same configurations are refused by replace and patch.
	if _, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: "ok", Schema: json.RawMessage(articlesSchema), HiddenFields: articlesHidden}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.ReplaceCollection(admin, "ok", docstore.CollectionSpec{Schema: json.RawMessage(articlesSchema), HiddenFields: articlesHidden,
		Search: &docstore.Search{Text: text(map[string]int{"secret": 1})}}, nil)
	wantKind(t, err, fault.Validation)
	_, err = f.svc.PatchCollection(admin, "ok", data(t, `{"search":{"text":{"fields":{"views":1}}}}`), nil)
	wantKind(t, err, fault.Validation)
	if fs := fault.FieldsOf(err); len(fs) != 1 || fs[0].Pointer != "/search/text/fields/views" {
		t.Errorf("patch fields = %v", fs)
	}
	// Hiding a searched field later is refused too.
	if _, err := f.svc.PatchCollection(admin, "ok", data(t, `{"search":{"text":{"fields":{"title":1}}}}`), nil); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.PatchCollection(admin, "ok", data(t, `{"hiddenFields":["secret","profile","hiddenvec","title"]}`), nil)
	wantKind(t, err, fault.Validation)
	if fs := fault.FieldsOf(err); len(fs) != 1 || fs[0].Pointer != "/search/text/fields/title" {
		t.Errorf("hiding a searched field: fields = %v", fs)
	}
	// A patch whose search member has the wrong shape is Invalid, with a
	// pointer.
	for patch, ptr := range map[string]string{
		`{"search":{"txt":{}}}`: "/search/txt",
		`{"search":{"text":{"fields":{"title":1},"lang":"english"}}}`: "/search/text/lang",
		`{"search":{"text":{"fields":{"title":"high"}}}}`:             "/search/text/fields/title",
		`{"search":{"text":{"fields":{"title":1.5}}}}`:                "/search/text/fields/title",
		`{"search":{"text":{"fields":["title"]}}}`:                    "/search/text/fields",
		`{"search":{"vectors":{"v":{"dimensions":3,"size":1}}}}`:      "/search/vectors/v/size",
		`{"search":{"vectors":{"v":{"dimensions":"3"}}}}`:             "/search/vectors/v/dimensions",
		`{"search":{"vectors":{"v":{"from":["title",1]}}}}`:           "/search/vectors/v/from/1",
		`{"search":{"vectors":{"v":3}}}`:                              "/search/vectors/v",
		`{"search":"yes"}`:                                            "/search",
	} {
		_, err := f.svc.PatchCollection(admin, "ok", data(t, patch), nil)
		wantKind(t, err, fault.Invalid)
		if fs := fault.FieldsOf(err); len(fs) != 1 || fs[0].Pointer != ptr {
			t.Errorf("patch %s: fields = %v, want %s", patch, fs, ptr)
		}
	}
}

// TestDefaultEmbedders checks the embedders a service without
// Options.Embedders admits: builtin only, at the dimensions it makes.
func TestDefaultEmbedders(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		v       docstore.VectorField
		pointer string
	}{
		{embedderFrom(8, "title"), ""},
		{embedderFrom(4096, "title"), ""},
		{embedderFrom(7, "title"), "/search/vectors/v/dimensions"},
		{docstore.VectorField{Dimensions: 8, Source: "embedder", From: []string{"title"}, Embedder: "openai"}, "/search/vectors/v/embedder"},
	} {
		_, err := f.svc.CreateCollection(adminCtx(t), docstore.CollectionSpec{Name: "c", Schema: json.RawMessage(postsSchema),
			Search: &docstore.Search{Vectors: vectors("v", tc.v)}})
		if tc.pointer == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.v, err)
			} else if err := f.svc.DeleteCollection(adminCtx(t), "c", nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if fs := fault.FieldsOf(err); len(fs) != 1 || fs[0].Pointer != tc.pointer {
			t.Errorf("%+v: %v, want %s", tc.v, err, tc.pointer)
		}
	}
}

// TestSearchConfigRoundTrip stores search configurations through create,
// replace and patch on both engines and reads them back with their
// defaults made explicit.
func TestSearchConfigRoundTrip(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run("engine="+engine, func(t *testing.T) {
			t.Parallel()
			f := newSearchFixture(t, engine)
			admin := as(t, "admin")
			get := func() docstore.Collection {
				t.Helper()
				c, err := f.svc.GetCollection(admin, "articles")
				if err != nil {
					t.Fatal(err)
				}
				// A second service over the same database reads it alike.
				other, err := docstore.NewService(f.store, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)), Embedders: embedders})
				if err != nil {
					t.Fatal(err)
				}
				c2, err := other.GetCollection(admin, "articles")
				if err != nil || !c2.Search.Equal(c.Search) {
					t.Fatalf("second service reads %+v, %v", c2.Search, err)
				}
				return c
			}
			rendered := func(c docstore.Collection) string {
				b, err := json.Marshal(c)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]json.RawMessage
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				return string(m["search"])
			}
			created, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: "articles", Schema: json.RawMessage(articlesSchema),
				HiddenFields: articlesHidden, Search: &docstore.Search{
					Text: text(map[string]int{"title": 2, "body": 1, "tags": 1, "note": 1, "anything": 3, "author.name": 4}),
					Vectors: map[string]docstore.VectorField{
						"embedding": {Dimensions: 3},
						"sem":       embedderFrom(384, "title", "body"),
						"fixed":     {Dimensions: 384, Metric: "dot", Source: "embedder", From: []string{"tags"}, Embedder: "fixed"},
					}}})
			if err != nil {
				t.Fatal(err)
			}
			const want1 = `{"text":{"fields":{"anything":3,"author.name":4,"body":1,"note":1,"tags":1,"title":2},"language":"english"},` +
				`"vectors":{"embedding":{"dimensions":3,"metric":"cosine","source":"client"},` +
				`"fixed":{"dimensions":384,"metric":"dot","source":"embedder","from":["tags"],"embedder":"fixed"},` +
				`"sem":{"dimensions":384,"metric":"cosine","source":"embedder","from":["title","body"],"embedder":"builtin"}}}`
			if got := rendered(created); got != want1 {
				t.Errorf("created search = %s\nwant %s", got, want1)
			}
			if got := rendered(get()); got != want1 {
				t.Errorf("stored search = %s\nwant %s", got, want1)
			}

			replaced, err := f.svc.ReplaceCollection(admin, "articles", docstore.CollectionSpec{Schema: json.RawMessage(articlesSchema),
				HiddenFields: articlesHidden, Search: &docstore.Search{
					Text:    &docstore.TextSearch{Fields: map[string]int{"body": 3}, Language: "german"},
					Vectors: map[string]docstore.VectorField{"rawvec": {Dimensions: 2, Metric: "l2"}}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			const want2 = `{"text":{"fields":{"body":3},"language":"german"},"vectors":{"rawvec":{"dimensions":2,"metric":"l2","source":"client"}}}`
			if got := rendered(replaced); got != want2 || replaced.Version != 2 {
				t.Errorf("replaced search = %s (version %d)\nwant %s", got, replaced.Version, want2)
			}
			if got := rendered(get()); got != want2 {
				t.Errorf("stored search = %s\nwant %s", got, want2)
			}

			// PATCH merges: a member set to null goes, the rest stays.
			patched, err := f.svc.PatchCollection(admin, "articles", data(t,
				`{"search":{"text":{"fields":{"title":1},"language":null},"vectors":{"rawvec":null,"sem":{"source":"embedder","dimensions":16,"from":["title"]}}}}`), nil)
			if err != nil {
				t.Fatal(err)
			}
			const want3 = `{"text":{"fields":{"body":3,"title":1},"language":"english"},` +
				`"vectors":{"sem":{"dimensions":16,"metric":"cosine","source":"embedder","from":["title"],"embedder":"builtin"}}}`
			if got := rendered(patched); got != want3 {
				t.Errorf("patched search = %s\nwant %s", got, want3)
			}
			if got := rendered(get()); got != want3 {
				t.Errorf("stored search = %s\nwant %s", got, want3)
			}
			// A patch that leaves search alone keeps it.
			if c, err := f.svc.PatchCollection(admin, "articles", data(t, `{"rules":{"list":""}}`), nil); err != nil || rendered(c) != want3 {
				t.Errorf("patch of rules: search = %s, %v", rendered(c), err)
			}

			// null removes search; so does a configuration of nothing.
			patched, err = f.svc.PatchCollection(admin, "articles", data(t, `{"search":null}`), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := rendered(patched); got != "" || patched.Search.Enabled() {
				t.Errorf("search after null = %s", got)
			}
			if _, err := f.svc.PatchCollection(admin, "articles", data(t, `{"search":{"text":{"fields":{"title":1}}}}`), nil); err != nil {
				t.Fatal(err)
			}
			for _, empty := range []*docstore.Search{{}, {Vectors: map[string]docstore.VectorField{}}, nil} {
				c, err := f.svc.ReplaceCollection(admin, "articles", docstore.CollectionSpec{Schema: json.RawMessage(articlesSchema), Search: empty}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if c.Search.Enabled() || c.Search.Vectors != nil || rendered(get()) != "" {
					t.Errorf("replace with %+v: search = %+v", empty, c.Search)
				}
			}
		})
	}
}

// TestClientVectors refuses documents whose client-supplied vectors have
// the wrong shape, in every kind of write, and a definition change that
// existing documents would break.
func TestClientVectors(t *testing.T) {
	f := newSearchFixture(t, "sqlite")
	admin := as(t, "admin")
	_, err := f.svc.CreateCollection(admin, docstore.CollectionSpec{Name: "articles", Schema: json.RawMessage(articlesSchema),
		Rules:  docstore.Rules{List: rule(""), Get: rule(""), Create: rule(""), Update: rule("")},
		Search: &docstore.Search{Vectors: map[string]docstore.VectorField{"embedding": {Dimensions: 3}, "rawvec": {Dimensions: 2, Metric: "dot"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := as(t, "owner") // not an admin: the check is the same for everyone
	good := []string{
		`{"title":"none"}`,
		`{"embedding":[0.1,-0.2,3e2]}`,
		`{"embedding":[1,2,3],"rawvec":[0,0]}`,
	}
	for i, body := range good {
		if _, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "articles", ID: fmt.Sprintf("g%d", i), Data: data(t, body)}); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	bad := map[string]string{
		`{"embedding":[1,2]}`:                 "/data/embedding",
		`{"embedding":[1,2,3,4]}`:             "/data/embedding",
		`{"embedding":[]}`:                    "/data/embedding",
		`{"rawvec":[1,"2"]}`:                  "/data/rawvec",
		`{"rawvec":[1,null]}`:                 "/data/rawvec",
		`{"rawvec":[1,[2]]}`:                  "/data/rawvec",
		`{"rawvec":[1,1e400]}`:                "/data/rawvec",
		`{"rawvec":[1,-1e400]}`:               "/data/rawvec",
		`{"rawvec":[1,2,3]}`:                  "/data/rawvec",
		`{"title":"x","rawvec":[true,false]}`: "/data/rawvec",
	}
	for body, ptr := range bad {
		check := func(what string, err error, prefix string) {
			t.Helper()
			wantKind(t, err, fault.Validation)
			fs := fault.FieldsOf(err)
			if len(fs) != 1 || fs[0].Pointer != prefix+ptr || !strings.Contains(fs[0].Message, "finite numbers") {
				t.Errorf("%s %s: fields = %v, want %s", what, body, fs, prefix+ptr)
			}
		}
		_, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "articles", ID: "b", Data: data(t, body)})
		check("create", err, "")
		_, err = f.svc.ReplaceDocument(ctx, docstore.ReplaceRequest{Collection: "articles", ID: "g0", Data: data(t, body)})
		check("replace", err, "")
		_, err = f.svc.PatchDocument(ctx, docstore.PatchRequest{Collection: "articles", ID: "g1", Patch: data(t, body)})
		check("patch", err, "")
		_, err = f.svc.Batch(ctx, []docstore.BatchOp{
			{Op: docstore.OpCreate, Collection: "articles", ID: "ok", Data: data(t, `{"title":"fine"}`)},
			{Op: docstore.OpCreate, Collection: "articles", ID: "b", Data: data(t, body)},
		}, "")
		check("batch create", err, "/operations/1")
		_, err = f.svc.Batch(ctx, []docstore.BatchOp{{Op: docstore.OpPatch, Collection: "articles", ID: "g2", Data: data(t, body)}}, "")
		check("batch patch", err, "/operations/0")
	}
	// Schema errors and vector errors are reported together.
	_, err = f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "articles", Data: data(t, `{"views":"many","rawvec":[1]}`)})
	wantKind(t, err, fault.Validation)
	if fs := fault.FieldsOf(err); len(fs) != 2 || fs[0].Pointer != "/data/views" || fs[1].Pointer != "/data/rawvec" {
		t.Errorf("fields = %v", fs)
	}
	// Nothing refused was stored.
	page, err := f.svc.ListDocuments(admin, docstore.ListRequest{Collection: "articles"})
	if err != nil || ids(page) != "g0,g1,g2" {
		t.Fatalf("documents = %q, %v", ids(page), err)
	}

	// A new vector configuration that an existing document breaks is
	// refused, and nothing changes; one that all documents fit is taken.
	_, err = f.svc.ReplaceCollection(admin, "articles", docstore.CollectionSpec{Schema: json.RawMessage(articlesSchema),
		Rules:  docstore.Rules{List: rule(""), Get: rule(""), Create: rule(""), Update: rule("")},
		Search: &docstore.Search{Vectors: map[string]docstore.VectorField{"embedding": {Dimensions: 4}}}}, nil)
	wantKind(t, err, fault.Validation)
	if fs := fault.FieldsOf(err); len(fs) != 2 || fs[0].Pointer != "/documents/g1/data/embedding" || fs[1].Pointer != "/documents/g2/data/embedding" {
		t.Errorf("fields = %v", fs)
	}
	c, err := f.svc.GetCollection(admin, "articles")
	if err != nil || c.Version != 1 || c.Search.Vectors["embedding"].Dimensions != 3 {
		t.Fatalf("collection after a refused change = %+v, %v", c.Search, err)
	}
	if _, err := f.svc.PatchCollection(admin, "articles", data(t, `{"search":{"vectors":{"rawvec":null}}}`), nil); err != nil {
		t.Fatal(err)
	}
	// rawvec is no longer a vector field: any array is welcome.
	if _, err := f.svc.CreateDocument(ctx, docstore.CreateRequest{Collection: "articles", ID: "free", Data: data(t, `{"rawvec":["a"]}`)}); err != nil {
		t.Errorf("after dropping the vector field: %v", err)
	}
	// Turning it back on with documents that break it is refused.
	_, err = f.svc.PatchCollection(admin, "articles", data(t, `{"search":{"vectors":{"rawvec":{"dimensions":2}}}}`), nil)
	wantKind(t, err, fault.Validation)
	if fs := fault.FieldsOf(err); len(fs) != 1 || fs[0].Pointer != "/documents/free/data/rawvec" {
		t.Errorf("fields = %v", fs)
	}
}

// FuzzDecodeSearch feeds arbitrary JSON to the search member of a
// collection definition: the answer is a collection or an Invalid or
// Validation error, never a panic or an internal error.
func FuzzDecodeSearch(f *testing.F) {
	for _, s := range []string{
		`{"text":{"fields":{"title":2,"body":1},"language":"english"}}`,
		`{"vectors":{"embedding":{"dimensions":3,"metric":"cosine","source":"client"}}}`,
		`{"vectors":{"sem":{"dimensions":8,"source":"embedder","from":["title","tags"],"embedder":"builtin"}}}`,
		`{"text":{"fields":{"secret":1,"profile.bio":2,"a/b":3}},"vectors":{"id":{"dimensions":1e9}}}`,
		`{"text":null,"vectors":null}`,
		`{"text":{"fields":{"title":1.5}}}`,
		`{"vectors":{"x":{"from":[1]}}}`,
		`[]`, `null`, `"search"`, `{}`,
	} {
		f.Add(s)
	}
	fx := newFixtureTB(f)
	f.Fuzz(func(t *testing.T, s string) {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		search, err := docstore.DecodeSearch(v)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid || len(fault.FieldsOf(err)) != 1 {
				t.Fatalf("%s: %v", s, err)
			}
			return
		}
		ctx := adminCtx(t)
		c, err := fx.svc.CreateCollection(ctx, docstore.CollectionSpec{Name: "fuzz", Schema: json.RawMessage(articlesSchema),
			HiddenFields: articlesHidden, Search: search})
		if err != nil {
			if k := fault.KindOf(err); k != fault.Validation || len(fault.FieldsOf(err)) == 0 {
				t.Fatalf("%s: %v", s, err)
			}
			return
		}
		if (search != nil && search.Enabled()) != c.Search.Enabled() {
			t.Fatalf("%s: stored %+v", s, c.Search)
		}
		if err := fx.svc.DeleteCollection(ctx, "fuzz", nil); err != nil {
			t.Fatal(err)
		}
	})
}
