package query

import (
	"strings"
	"testing"
)

func sortString(keys []SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		d := "asc"
		if k.Desc {
			d = "desc"
		}
		parts[i] = k.Field.Name() + ":" + k.Field.Type.String() + " " + d
	}
	return strings.Join(parts, ", ")
}

var validSorts = []struct{ src, want string }{
	{``, `id:string asc`},
	{`  `, `id:string asc`},
	{`title`, `title:string asc, id:string asc`},
	{`-score`, `score:integer desc, id:string desc`},
	{`+score`, `score:integer asc, id:string asc`},
	{` -score , title `, `score:integer desc, title:string asc, id:string asc`},
	{`-score,title`, `score:integer desc, title:string asc, id:string asc`},
	{`published,rating,author.name,-author.age`, `published:boolean asc, rating:number asc, author.name:string asc, author.age:integer desc, id:string desc`},
	{`-createdAt`, `createdAt:timestamp desc, id:string desc`},
	{`updatedAt,version`, `updatedAt:timestamp asc, version:integer asc, id:string asc`},
	{`-id`, `id:string desc`},
	{`id`, `id:string asc`},
	{`score,-id`, `score:integer asc, id:string desc`},
	{`score,id,title`, `score:integer asc, id:string asc`},
	{`status`, `status:string asc, id:string asc`},
	{`ratio`, `ratio:number asc, id:string asc`},
}

func TestParseSort(t *testing.T) {
	s := testSchema(t)
	for _, c := range validSorts {
		keys, err := ParseSort(c.src, s, DefaultLimits())
		if err != nil {
			t.Errorf("ParseSort(%q): %v", c.src, err)
			continue
		}
		if got := sortString(keys); got != c.want {
			t.Errorf("ParseSort(%q) = %s, want %s", c.src, got, c.want)
		}
		again, err := ParseSort(FormatSort(keys), s, DefaultLimits())
		if err != nil || sortString(again) != c.want {
			t.Errorf("round trip of %q through %q = %s, %v", c.src, FormatSort(keys), sortString(again), err)
		}
	}
}

var invalidSorts = []struct{ src, want string }{
	{`nope`, `sort: unknown field "nope" at offset 0`},
	{`title,-nope`, `unknown field "nope" at offset 7`},
	{`title,`, `empty sort key at offset 6`},
	{`,title`, `empty sort key at offset 0`},
	{`title,,score`, `empty sort key at offset 6`},
	{`-`, `invalid field name "" at offset 1`},
	{`--score`, `invalid field name "-score"`},
	{`- score`, `invalid field name " score"`},
	{`score desc`, `invalid field name "score desc"`},
	{`score;DROP TABLE x`, `invalid field name "score;DROP TABLE x"`},
	{`author.`, `invalid field name "author."`},
	{`title,title`, `duplicate sort key "title" at offset 6`},
	{`title,-title`, `duplicate sort key "title"`},
	{`tags`, `cannot sort by "tags": it is an array`},
	{`meta`, `cannot sort by "meta": it is an object`},
	{`misc`, `cannot sort by "misc": it is of mixed type`},
	{`a,b,c,d,e`, `unknown field "a"`},
	{`title,score,rating,published,version`, `more than 4 sort keys at offset 29`},
}

func TestParseSortInvalid(t *testing.T) {
	s := testSchema(t)
	for _, c := range invalidSorts {
		keys, err := ParseSort(c.src, s, DefaultLimits())
		if err == nil {
			t.Errorf("ParseSort(%q) = %s, want error %q", c.src, sortString(keys), c.want)
			continue
		}
		checkInvalid(t, err, "query.ParseSort", c.want)
	}
	_, err := ParseSort(strings.Repeat("a", 4097), s, DefaultLimits())
	checkInvalid(t, err, "query.ParseSort", "sort is longer than 4096 bytes")
	if _, err := ParseSort("title,score,rating,published", s, DefaultLimits()); err != nil {
		t.Errorf("four keys: %v", err)
	}
}

func TestParseFields(t *testing.T) {
	s := testSchema(t)
	cases := []struct {
		src, want string // want: paths joined by "/" and ","; "<nil>" for nil
	}{
		{``, `<nil>`},
		{` `, `<nil>`},
		{`title`, `title`},
		{`title, score ,author.name`, `title,score,author/name`},
		{`title,title,score,title`, `title,score`},
		{`id,version,createdAt,updatedAt`, ``},
		{`id,title`, `title`},
		{`tags,meta,author,misc`, `tags,meta,author,misc`},
		{`author,author.address.city`, `author,author/address/city`},
	}
	for _, c := range cases {
		paths, err := ParseFields(c.src, s, DefaultLimits())
		if err != nil {
			t.Errorf("ParseFields(%q): %v", c.src, err)
			continue
		}
		got := "<nil>"
		if paths != nil {
			parts := make([]string, len(paths))
			for i, p := range paths {
				parts[i] = strings.Join(p, "/")
			}
			got = strings.Join(parts, ",")
		}
		if got != c.want {
			t.Errorf("ParseFields(%q) = %q, want %q", c.src, got, c.want)
		}
	}
	invalid := []struct{ src, want string }{
		{`nope`, `fields: unknown field "nope" at offset 0`},
		{`title,`, `empty field name at offset 6`},
		{`title,,score`, `empty field name`},
		{`-title`, `invalid field name "-title"`},
		{`author.`, `invalid field name "author."`},
		{`tags.0`, `invalid field name "tags.0"`},
		{`title;drop`, `invalid field name`},
		{strings.Repeat("title,", 64) + "title", `more than 64 fields at offset 384`},
		{strings.Repeat("x", 5000), `fields is longer than 4096 bytes`},
	}
	for _, c := range invalid {
		_, err := ParseFields(c.src, s, DefaultLimits())
		if err == nil {
			t.Errorf("ParseFields(%q) succeeded, want %q", c.src, c.want)
			continue
		}
		checkInvalid(t, err, "query.ParseFields", c.want)
	}
}

func BenchmarkParseSort(b *testing.B) {
	s := testSchema(b)
	lim := DefaultLimits()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSort("-score,author.name,createdAt", s, lim); err != nil {
			b.Fatal(err)
		}
	}
}
