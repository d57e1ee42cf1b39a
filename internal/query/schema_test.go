package query

import (
	"fmt"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
)

func TestSchemaLookup(t *testing.T) {
	s := testSchema(t)
	cases := []struct {
		name string
		want string // "" means not addressable
	}{
		{"id", "sys:string"},
		{"version", "sys:integer"},
		{"createdAt", "sys:timestamp"},
		{"updatedAt", "sys:timestamp"},
		{"title", "title:string"},
		{"status", "status:string"},
		{"score", "score:integer"},
		{"rating", "rating:number"},
		{"ratio", "ratio:number"},
		{"published", "published:boolean"},
		{"tags", "tags:array/string"},
		{"scores", "scores:array/integer"},
		{"anything", "anything:array/any"},
		{"matrix", "matrix:array/array"},
		{"misc", "misc:any"},
		{"loose", "loose:any"},
		{"meta", "meta:object"},
		{"author", "author:object"},
		{"author.name", "author/name:string"},
		{"author.address", "author/address:object"},
		{"author.address.city", "author/address/city:string"},
		{"refd", "refd:any"},
		{"in", "in:string"},
		{"bad-name", ""},
		{"élan", ""},
		{"author.nope", ""},
		{"Title", ""},
		{"", ""},
		{".", ""},
		{"author.", ""},
	}
	for _, c := range cases {
		f, ok := s.Lookup(c.name)
		got := ""
		if ok {
			if f.System != SystemNone {
				got = "sys:" + f.Type.String()
			} else {
				got = strings.Join(f.Path, "/") + ":" + f.Type.String()
			}
			if f.Type == TypeArray {
				got += "/" + f.Items.String()
			}
			if f.Name() != c.name {
				t.Errorf("Lookup(%q).Name() = %q", c.name, f.Name())
			}
		}
		if got != c.want {
			t.Errorf("Lookup(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	// The top-level "id" property is shadowed by the system field.
	if f, _ := s.Lookup("id"); f.System != SystemID || f.Path != nil {
		t.Errorf("Lookup(id) = %+v, want the system field", f)
	}
	// Appending to a returned path does not change the schema.
	f, _ := s.Lookup("author.name")
	_ = append(f.Path, "x")
	if g, _ := s.Lookup("author.name"); strings.Join(g.Path, ".") != "author.name" {
		t.Errorf("schema changed through a returned path: %v", g.Path)
	}
	var nilSchema *Schema
	if _, ok := nilSchema.Lookup("title"); ok {
		t.Error("nil schema found title")
	}
	if f, ok := nilSchema.Lookup("version"); !ok || f.Type != TypeInteger {
		t.Error("nil schema lacks version")
	}
}

func TestSchemaFromJSONErrors(t *testing.T) {
	for _, src := range []string{
		``, `nul`, `[]`, `"object"`, `true`, `{}`, `{"type":"string"}`, `{"type":["object","string"]}`,
		`{"type":"object"} {}`, `{"type":"object"`,
	} {
		_, err := SchemaFromJSON([]byte(src))
		if err == nil || !fault.Is(err, fault.Invalid) || !strings.HasPrefix(fault.Message(err), "schema: ") {
			t.Errorf("SchemaFromJSON(%q) = %v, want an Invalid schema error", src, err)
		}
	}
	for _, src := range []string{
		`{"type":"object"}`, `{"type":["object"]}`, `{"type":["object","null"]}`,
		`{"type":"object","properties":{"a":true,"b":false,"c":1,"d":{"type":7}}}`,
		`{"type":"object","properties":[]}`, `{"type":"object","maximum":1e999}`,
	} {
		if _, err := SchemaFromJSON([]byte(src)); err != nil {
			t.Errorf("SchemaFromJSON(%q): %v", src, err)
		}
	}
	s, _ := SchemaFromJSON([]byte(`{"type":"object","properties":{"a":true,"b":false,"d":{"type":7}}}`))
	if f, ok := s.Lookup("a"); !ok || f.Type != TypeAny {
		t.Errorf("a = %+v %v", f, ok)
	}
	if _, ok := s.Lookup("b"); ok {
		t.Error("b (schema false) is addressable")
	}
	if f, ok := s.Lookup("d"); !ok || f.Type != TypeAny {
		t.Errorf("d = %+v %v", f, ok)
	}
}

func TestSchemaCaps(t *testing.T) {
	// 20 levels of nesting: only 16 are addressable.
	src := `{"type":"object"}`
	for i := 20; i >= 1; i-- {
		src = fmt.Sprintf(`{"type":"object","properties":{"l%d":%s}}`, i, src)
	}
	s, err := SchemaFromJSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	path := func(n int) string {
		p := make([]string, n)
		for i := range p {
			p[i] = fmt.Sprintf("l%d", i+1)
		}
		return strings.Join(p, ".")
	}
	if _, ok := s.Lookup(path(16)); !ok {
		t.Error("depth 16 not addressable")
	}
	if _, ok := s.Lookup(path(17)); ok {
		t.Error("depth 17 addressable")
	}
	// 5000 properties: the first 4096 in key order are addressable.
	var b strings.Builder
	b.WriteString(`{"type":"object","properties":{`)
	for i := range 5000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"p%04d":{"type":"string"}`, i)
	}
	b.WriteString(`}}`)
	s, err = SchemaFromJSON([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup("p4095"); !ok {
		t.Error("p4095 not addressable")
	}
	if _, ok := s.Lookup("p4096"); ok {
		t.Error("p4096 addressable")
	}
	// Long names are not addressable.
	long := strings.Repeat("a", 65)
	s, _ = SchemaFromJSON([]byte(`{"type":"object","properties":{"` + long + `":{},"` + long[:64] + `":{}}}`))
	if _, ok := s.Lookup(long); ok {
		t.Error("65-byte name addressable")
	}
	if _, ok := s.Lookup(long[:64]); !ok {
		t.Error("64-byte name not addressable")
	}
}
