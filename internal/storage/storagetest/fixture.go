package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
)

// fixture returns the data of collection "fx" (id, data). Field by field:
//
//	id  name            score  count  active author.name author.age tags          nums      mixed
//	d01 "Alpha"         10     3      true   "Ann"       30         [red blue]    [1 2]     "1"
//	d02 "alpha"         1.5    -2     false  "bob"       25         [blue]        [3]       1
//	d03 "Beta"          -3     0      true   "Ann"       -          []            []        true
//	d04 injection       0      7      null   -           -          [red]         -         null
//	d05 "Ünïcødé ✓"     100    100    false  "Zoë"       41         [green red]   [10]      {"a":1}
//	d06 "日本語"         null   null   -      -           -          null          -         [1]
//	d07 ""              10.0   10     true   (author null)          [RED]         [1.5 -1]  "true"
//	d08 (empty object)
//	d09 null            2.5    1      false  null        null       [a%b x_y]     -         0
//	d10 "a%b_c"         1e2    5      true   "ann"       30         [blue green]  [2 2]     -
//	d11 O'Brien "q"     -0.5   -100   true   -           -          [it's]        -         "O'Brien"
//	d12 "zeta"          9.99   9      false  "Ann"       29         -             [0]       false
//
// (- is a missing field.) d05 has version 2 and was updated at minute 60,
// d09 has version 3; document dNN was created at minute NN.
func fixture() [][2]string {
	return [][2]string{
		{"d01", `{"active":true,"author":{"age":30,"name":"Ann"},"count":3,"mixed":"1","name":"Alpha","nums":[1,2],"score":10,"tags":["red","blue"]}`},
		{"d02", `{"active":false,"author":{"age":25,"name":"bob"},"count":-2,"mixed":1,"name":"alpha","nums":[3],"score":1.5,"tags":["blue"]}`},
		{"d03", `{"active":true,"author":{"name":"Ann"},"count":0,"mixed":true,"name":"Beta","nums":[],"score":-3,"tags":[]}`},
		{"d04", `{"active":null,"count":7,"mixed":null,"name":"'; DROP TABLE docs_x; --","score":0,"tags":["red"]}`},
		{"d05", `{"active":false,"author":{"age":41,"name":"Zoë"},"count":100,"mixed":{"a":1},"name":"Ünïcødé ✓","nums":[10],"score":100,"tags":["green","red"]}`},
		{"d06", `{"count":null,"mixed":[1],"name":"日本語","score":null,"tags":null}`},
		{"d07", `{"active":true,"author":null,"count":10,"mixed":"true","name":"","nums":[1.5,-1],"score":10.0,"tags":["RED"]}`},
		{"d08", `{}`},
		{"d09", `{"active":false,"author":{"age":null,"name":null},"count":1,"mixed":0,"name":null,"score":2.5,"tags":["a%b","x_y"]}`},
		{"d10", `{"active":true,"author":{"age":30,"name":"ann"},"count":5,"name":"a%b_c","nums":[2,2],"score":1e2,"tags":["blue","green"]}`},
		{"d11", `{"active":true,"count":-100,"mixed":"O'Brien","name":"O'Brien \"quoted\"","score":-0.5,"tags":["it's"]}`},
		{"d12", `{"active":false,"author":{"age":29,"name":"Ann"},"count":9,"mixed":false,"name":"zeta","nums":[0],"score":9.99}`},
	}
}

// loadFixture creates collection "fx" with an index on score and the
// fixture documents.
func loadFixture(t *testing.T, s docstore.Store) {
	t.Helper()
	createCollection(t, s, collection("fx", docstore.Index{Fields: []string{"score"}},
		docstore.Index{Fields: []string{"author.name", "author.age"}}))
	fx := fixture()
	docs := make([]docstore.Document, len(fx))
	for i, f := range fx {
		d := doc("fx", f[0], f[1])
		d.CreatedAt = at(i + 1)
		d.UpdatedAt = d.CreatedAt
		switch f[0] {
		case "d05":
			d.Version, d.UpdatedAt = 2, at(60)
		case "d09":
			d.Version = 3
		}
		docs[i] = d
	}
	insert(t, s, docs...)
}

// Builders of checked ASTs.

func field(typ query.Type, path ...string) query.Field { return query.Field{Path: path, Type: typ} }

func array(items query.Type, path ...string) query.Field {
	return query.Field{Path: path, Type: query.TypeArray, Items: items}
}

func sys(s query.System) query.Field {
	typ := map[query.System]query.Type{query.SystemID: query.TypeString, query.SystemVersion: query.TypeInteger,
		query.SystemCreatedAt: query.TypeTime, query.SystemUpdatedAt: query.TypeTime}[s]
	return query.Field{System: s, Type: typ}
}

func str(s string) query.Value          { return query.Value{Kind: query.ValueString, Str: s} }
func num(f float64) query.Value         { return query.Value{Kind: query.ValueNumber, Num: f} }
func boolean(b bool) query.Value        { return query.Value{Kind: query.ValueBool, Bool: b} }
func null() query.Value                 { return query.Value{Kind: query.ValueNull} }
func timeValue(t time.Time) query.Value { return query.Value{Kind: query.ValueTime, Time: t} }

func cmp(f query.Field, op query.Op, v query.Value) query.Expr {
	return &query.Compare{Field: f, Op: op, Value: v}
}

func anyOf(f query.Field, op query.Op, v query.Value) query.Expr {
	return &query.Compare{Field: f, Op: op, Value: v, Any: true}
}

func in(f query.Field, vs ...query.Value) query.Expr {
	return &query.Compare{Field: f, Op: query.OpIn, Values: vs}
}

func notIn(f query.Field, vs ...query.Value) query.Expr {
	return &query.Compare{Field: f, Op: query.OpNotIn, Values: vs}
}

func and(xs ...query.Expr) query.Expr { return &query.And{Terms: xs} }
func or(xs ...query.Expr) query.Expr  { return &query.Or{Terms: xs} }
func not(x query.Expr) query.Expr     { return &query.Not{X: x} }

// list loads every document matching filter in sort order (id ascending
// when sort is empty).
func list(t *testing.T, s docstore.Store, filter query.Expr, sort []query.SortKey) []string {
	t.Helper()
	if len(sort) == 0 {
		sort = []query.SortKey{{Field: sys(query.SystemID)}}
	}
	docs, err := s.ListDocuments(context.Background(), docstore.ListParams{Collection: "fx", Filter: filter,
		Sort: sort, Limit: 1000})
	wantOK(t, "ListDocuments", err)
	return ids(docs)
}
