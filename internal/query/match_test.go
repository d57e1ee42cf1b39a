package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/fault"
)

// matchCreated is the creation time of the documents of the Match tests:
// nanoseconds beyond the microseconds the engines store.
var matchCreated = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)

func matchDoc(data string) Document {
	return Document{ID: "doc-1", Version: 2, CreatedAt: matchCreated, UpdatedAt: matchCreated.Add(time.Hour),
		Data: []byte(data)}
}

func mustFilter(t testing.TB, src string) Expr {
	t.Helper()
	e, err := ParseFilter(src, testSchema(t), DefaultLimits())
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", src, err)
	}
	return e
}

// matchCases are filters (over testSchema) with the data of one document
// and whether they hold. The system fields are those of matchDoc.
var matchCases = []struct {
	filter, data string
	want         bool
}{
	// Numbers compare as float64, however written (see ReadNumber).
	{`rating = 10`, `{"rating":10}`, true},
	{`rating = 10`, `{"rating":10.0}`, true},
	{`rating = 10`, `{"rating":1e1}`, true},
	{`rating = 10`, `{"rating":1E+1}`, true},
	{`rating = 10`, `{"rating":100e-1}`, true},
	{`rating = 10`, `{"rating":0.010e3}`, true},
	{`rating = 10`, `{"rating":10.000000000000000001}`, true},
	{`rating > 10`, `{"rating":10.000000000000000001}`, false},
	{`rating < 10`, `{"rating":9.999999999999999999}`, false},
	{`rating > 10`, `{"rating":10.000000000000002}`, true},
	{`rating <= 3`, `{"rating":3.0000000000000000001}`, true},
	{`rating = 9.99`, `{"rating":9.99}`, true},
	{`rating = 0.1`, `{"rating":0.1}`, true},
	{`rating = 0.1`, `{"rating":0.1000000000000000055511151231257827021181583404541015625}`, true},
	{`rating = 0`, `{"rating":-0}`, true},
	{`rating = 0`, `{"rating":-0.0e7}`, true},
	{`rating < 0`, `{"rating":-0}`, false},
	{`rating > -0.0000001`, `{"rating":-1e-7}`, false},
	{`rating >= -0.0000001`, `{"rating":-1e-7}`, true},
	{`rating < -2`, `{"rating":-10}`, true},
	{`rating > -2`, `{"rating":-1.5}`, true},
	// Big numbers round to a float64: 9007199254740993 is 2^53, and so is
	// 9007199254740993.0000000001, whose digits beyond the 19th are dropped.
	{`rating = 9007199254740992`, `{"rating":9007199254740993}`, true},
	{`rating < 9007199254740992`, `{"rating":9007199254740993}`, false},
	{`rating > 9007199254740992`, `{"rating":9007199254740993}`, false},
	{`rating = 9007199254740992`, `{"rating":9007199254740993.0000000001}`, true},
	{`rating > 9007199254740992`, `{"rating":9007199254740995}`, true},
	{`rating = 1152921504606846976`, `{"rating":1152921504606847000}`, true},
	{`rating < 1152921504606846976`, `{"rating":1152921504606846976}`, false},
	{`rating = 1e300`, `{"rating":1` + strings.Repeat("0", 300) + `}`, true},
	{`rating > 1e308`, `{"rating":1e309}`, true},
	{`rating > 1e308`, `{"rating":1e99999999999999999999999}`, true},
	{`rating < -1e308`, `{"rating":-1e309}`, true},
	{`rating = 0`, `{"rating":1e-99999999999999999999999}`, true},
	{`rating < 0.000001`, `{"rating":1e-400}`, true},
	{`rating = 0`, `{"rating":123456789012345678901234567890e-400}`, true},
	{`rating = 5e-324`, `{"rating":3e-324}`, true},
	{`rating = 0`, `{"rating":2e-324}`, true},
	{`score = 3`, `{"score":3.0}`, true},
	{`score >= 5`, `{"score":5.0}`, true},
	{`score in [1, 3, 5]`, `{"score":3e0}`, true},
	{`score not in [1, 3, 5]`, `{"score":4}`, true},
	{`score not in [1, 3, 5]`, `{}`, true},
	{`scores ?> 10`, `{"scores":[1, 11]}`, true},
	{`scores ?> 10`, `{"scores":[1, "11"]}`, false},

	// Strings: bytes, escapes decoded, substring with ASCII folding.
	{`title = "Basalt"`, `{"title":"Basalt"}`, true},
	{`title = "basalt"`, `{"title":"Basalt"}`, false},
	{`title = 'a"b\\c'`, `{"title":"a\"b\\c"}`, true},
	{`title = "é"`, `{"title":"\u00e9"}`, true},
	{`title = "é"`, `{"title":"\u00E9"}`, true},
	{`title = "😀"`, `{"title":"\ud83d\ude00"}`, true},
	{`title = "\uFFFD"`, `{"title":"\ud800"}`, true},
	{`title = "\uFFFDA"`, `{"title":"\ud83d\u0041"}`, true},
	{`title = "a/b\n"`, `{"title":"a\/b\n"}`, true},
	{`title = "x"`, `{"title":"x\u0000"}`, false},
	{`title < "a"`, `{"title":"Z"}`, true},
	{`title > "z"`, `{"title":"é"}`, true},
	{`title >= ""`, `{"title":""}`, true},
	{`title <= "ab"`, `{"title":"abc"}`, false},
	{`title ~ "BAS"`, `{"title":"Basalt"}`, true},
	{`title ~ "sALT"`, `{"title":"Basalt"}`, true},
	{`title ~ "É"`, `{"title":"é"}`, false},
	{`title ~ "é"`, `{"title":"Café"}`, true},
	{`title ~ "%"`, `{"title":"100%"}`, true},
	{`title ~ "_"`, `{"title":"ab"}`, false},
	{`title ~ ""`, `{"title":""}`, true},
	{`title ~ ""`, `{}`, false},
	{`title !~ ""`, `{}`, true},
	{`title ~ "b\"c"`, `{"title":"ab\"cd"}`, true},
	{`title ~ "needle"`, `{"title":"` + strings.Repeat("x", 5000) + `NEEDLE"}`, true},
	{`title ~ "needle"`, `{"title":"` + strings.Repeat("NEEDL", 5000) + `"}`, false},
	{`title ~ "` + strings.Repeat("a", 300) + `b"`, `{"title":"` + strings.Repeat("A", 3000) + `B"}`, true},
	{`title ~ "` + strings.Repeat("a", 300) + `b"`, `{"title":"` + strings.Repeat("A", 3000) + `"}`, false},
	{`title in ["x", "Basalt"]`, `{"title":"Basalt"}`, true},
	{`tags ?~ "ROCK"`, `{"tags":["pop", "rock'n'roll"]}`, true},
	{`tags ?in ["a", "b"]`, `{"tags":["c", "b"]}`, true},

	// Null and missing; a typed field of another type reads as null.
	{`status = null`, `{}`, true},
	{`status = null`, `{"status":null}`, true},
	{`status = null`, `{"status":""}`, false},
	{`status != null`, `{"status":"x"}`, true},
	{`status != "x"`, `{}`, true},
	{`status != "x"`, `{"status":null}`, true},
	{`title = null`, `{"title":5}`, true},
	{`score = null`, `{"score":"3"}`, true},
	{`published = null`, `{"published":0}`, true},
	{`misc = null`, `{"misc":5}`, false},
	{`loose = null`, `{"loose":{}}`, false},
	{`loose = null`, `{"loose":[]}`, false},
	{`tags = null`, `{"tags":"x"}`, false},
	{`meta = null`, `{"meta":null}`, true},
	{`meta != null`, `{"meta":{}}`, true},
	{`rating < 1 || rating >= 1`, `{}`, false},
	{`!(rating < 1 || rating >= 1)`, `{"rating":null}`, true},

	// Mixed types: a literal only equals values of its own JSON type.
	{`misc = "1"`, `{"misc":1}`, false},
	{`misc = 1`, `{"misc":"1"}`, false},
	{`misc = 1`, `{"misc":1.0}`, true},
	{`misc in ["1", 2]`, `{"misc":2}`, true},
	{`misc != "1"`, `{"misc":1}`, true},
	{`loose = true`, `{"loose":1}`, false},
	{`loose = true`, `{"loose":true}`, true},
	{`loose = false`, `{"loose":0}`, false},
	{`loose = "x"`, `{"loose":["x"]}`, false},

	// Booleans.
	{`published = true`, `{"published":true}`, true},
	{`published = false`, `{"published":true}`, false},
	{`published != true`, `{}`, true},
	{`published in [false]`, `{"published":false}`, true},
	{`flags ?= true`, `{"flags":[false, true]}`, true},
	{`flags ?!= true`, `{"flags":[true, true]}`, false},

	// Arrays: any-of over elements; not an array: no elements.
	{`tags ?= "a"`, `{"tags":["b", "a"]}`, true},
	{`tags ?= "a"`, `{"tags":"a"}`, false},
	{`tags ?= "a"`, `{"tags":{"0":"a"}}`, false},
	{`tags ?= "a"`, `{"tags":[["a"]]}`, false},
	{`tags ?!= "a"`, `{"tags":[]}`, false},
	{`tags ?!= "a"`, `{"tags":["a"]}`, false},
	{`tags ?!= "a"`, `{"tags":[null]}`, true},
	{`tags ?!= "a"`, `{"tags":["a", 1]}`, true},
	{`tags ?!~ "a"`, `{"tags":["A"]}`, false},
	{`!(tags ?= "a")`, `{}`, true},
	{`!(tags ?= "a")`, `{"tags":["a"]}`, false},
	{`anything ?= 1`, `{"anything":["1", 1]}`, true},
	{`anything ?= "x"`, `{"anything":[{"x":1}, ["x"], "x"]}`, true},
	{`anything ?= "y"`, `{"anything":[{"y":"y"}, ["y"], "x"]}`, false},

	// Nested objects.
	{`author.name = "Ann"`, `{"author":{"name":"Ann"}}`, true},
	{`author.name = "Ann"`, `{"author":"Ann"}`, false},
	{`author.name = null`, `{"author":["Ann"]}`, true},
	{`author.name = "Ann"`, `{"name":"Ann","author":{}}`, false},
	{`author.address.city = "Oslo"`, `{"author":{"address":{"city":"Oslo"}}}`, true},
	{`author.address.city = "Oslo"`, `{"author":{"city":"Oslo","address":{"x":{"city":"Oslo"}}}}`, false},
	{`author.age >= 18`, `{"author":{"name":"x","age":18}}`, true},

	// Object keys as written: escapes decoded; whitespace anywhere;
	// other keys of any shape skipped.
	{`title = "x"`, `{"t\u0069tle":"x"}`, true},
	{`title = "x"`, " \t\r\n{ \"a\" : [ 1 , { \"title\" : \"y\" } , \"]}\" ] ,\n \"title\" :\t\"x\" } ", true},
	{`title = "x"`, `{"title ":"x","titles":"x"}`, false},
	{`title = "x"`, `{"a\"title":"y","b":{"title":"y"},"title":"x"}`, true},
	{`title = "x"`, `{"a":"\\","title":"x"}`, true},
	{`title = null`, ``, true},
	{`title = null`, `   `, true},
	{`title = null`, `{}`, true},
	{`title = null`, `[{"title":"x"}]`, true},
	{`title = null`, `null`, true},

	// System fields.
	{`id = "doc-1"`, `{}`, true},
	{`id != "doc-1"`, `{}`, false},
	{`id ~ "DOC"`, `{}`, true},
	{`id < "doc-2"`, `{}`, true},
	{`id in ["a", "doc-1"]`, `{}`, true},
	{`id not in ["a", "b"]`, `{}`, true},
	{`version = 2`, `{}`, true},
	{`version >= 3`, `{}`, false},
	{`version in [1, 2]`, `{}`, true},
	{`version not in [1, 3]`, `{}`, true},
	{`createdAt = "2026-11-26T12:00:00.123456Z"`, `{}`, true},
	{`createdAt = "2026-11-26T12:00:00.1234569Z"`, `{}`, true},
	{`createdAt = "2026-11-26T12:00:00.123457Z"`, `{}`, false},
	{`createdAt < "2026-11-26T12:00:00.123457Z"`, `{}`, true},
	{`createdAt = "2026-11-26T17:30:00.123456+05:30"`, `{}`, true},
	{`createdAt >= "2026-11-26T12:00:00Z" && createdAt < "2026-11-27T00:00:00Z"`, `{}`, true},
	{`updatedAt > "2026-11-26T12:30:00Z"`, `{}`, true},
	{`updatedAt in ["2026-11-26T13:00:00.123456Z"]`, `{}`, true},

	// Logic.
	{`title = "a" || title = "b"`, `{"title":"b"}`, true},
	{`title = "a" && score = 1`, `{"title":"a","score":2}`, false},
	{`!(title = "a" && score = 1)`, `{"title":"a"}`, true},
	{`!!(title = "a")`, `{"title":"a"}`, true},
}

func TestMatch(t *testing.T) {
	for _, c := range matchCases {
		e := mustFilter(t, c.filter)
		d := matchDoc(c.data)
		got, err := Match(e, d)
		if err != nil {
			t.Errorf("Match(%s) on %.80s: %v", c.filter, c.data, err)
			continue
		}
		if got != c.want {
			t.Errorf("Match(%s) on %.80s = %v, want %v", c.filter, c.data, got, c.want)
		}
		// "!" is an exact negation.
		if neg, err := Match(&Not{X: e}, d); err != nil || neg == got {
			t.Errorf("Match(!(%s)) on %.80s = %v, %v; want %v", c.filter, c.data, neg, err, !got)
		}
		// The reference evaluator agrees (it checks the test as much as
		// Match), where it can read the data.
		if ref, ok := refMatchData(e, d); ok && ref != c.want {
			t.Errorf("reference(%s) on %.80s = %v (decoded: %v), want %v", c.filter, c.data, ref, ok, c.want)
		}
	}
}

// TestMatchUncheckedFilters checks filters the checker does not produce
// but engines accept (null in "in" lists, literals of another type than
// the field's), read as the PostgreSQL engine reads them.
func TestMatchUncheckedFilters(t *testing.T) {
	status := Field{Path: []string{"status"}, Type: TypeString}
	misc := Field{Path: []string{"misc"}, Type: TypeAny}
	tags := Field{Path: []string{"tags"}, Type: TypeArray, Items: TypeString}
	x, null, five := Value{Kind: ValueString, Str: "x"}, Value{}, Value{Kind: ValueNumber, Num: 5}
	for _, c := range []struct {
		e    *Compare
		data string
		want bool
	}{
		{&Compare{Field: status, Op: OpIn, Values: []Value{x, null}}, `{}`, true},
		{&Compare{Field: status, Op: OpIn, Values: []Value{x, null}}, `{"status":"y"}`, false},
		{&Compare{Field: status, Op: OpIn, Values: []Value{x, null}}, `{"status":7}`, true},
		{&Compare{Field: status, Op: OpNotIn, Values: []Value{x, null}}, `{"status":null}`, false},
		{&Compare{Field: status, Op: OpNotIn, Values: []Value{null}}, `{"status":"x"}`, true},
		{&Compare{Field: misc, Op: OpIn, Values: []Value{null}}, `{"misc":7}`, false},
		{&Compare{Field: misc, Op: OpIn, Values: []Value{null}}, `{"misc":null}`, true},
		{&Compare{Field: tags, Op: OpIn, Any: true, Values: []Value{null}}, `{"tags":["a", null]}`, true},
		{&Compare{Field: tags, Op: OpIn, Any: true, Values: []Value{null}}, `{"tags":["a"]}`, false},
		{&Compare{Field: tags, Op: OpEq, Any: true, Value: null}, `{"tags":["a", 1]}`, true},
		{&Compare{Field: tags, Op: OpNe, Any: true, Value: null}, `{"tags":[null]}`, false},
		{&Compare{Field: Field{System: SystemID}, Op: OpIn, Values: []Value{null}}, `{}`, false},
		{&Compare{Field: Field{System: SystemVersion}, Op: OpNotIn, Values: []Value{null}}, `{}`, true},
		{&Compare{Field: status, Op: OpNe, Value: five}, `{"status":5}`, false},
		{&Compare{Field: status, Op: OpNe, Value: five}, `{"status":"5"}`, true},
		{&Compare{Field: status, Op: OpEq, Value: Value{Kind: ValueTime, Time: matchCreated}}, `{"status":"x"}`, false},
		{&Compare{Field: status, Op: OpContains, Value: five}, `{"status":"5"}`, false},
		{&Compare{Field: status, Op: OpLt, Value: null}, `{}`, false},
		{&Compare{Field: Field{System: SystemVersion}, Op: OpLt, Value: Value{Kind: ValueNumber, Num: 2.5}}, `{}`, false},
		{&Compare{Field: Field{System: SystemVersion}, Op: OpLt, Value: Value{Kind: ValueNumber, Num: 1e19}}, `{}`, false},
		{&Compare{Field: Field{System: SystemVersion}, Op: OpEq, Value: Value{Kind: ValueString, Str: "2"}}, `{}`, false},
		{&Compare{Field: Field{System: SystemVersion}, Op: OpEq, Value: Value{Kind: ValueBool, Bool: true}}, `{}`, false},
		{&Compare{Field: Field{System: SystemVersion}, Op: OpContains, Value: Value{Kind: ValueString, Str: "2"}}, `{}`, false},
		{&Compare{Field: Field{System: SystemCreatedAt}, Op: OpEq, Value: Value{Kind: ValueNumber,
			Num: float64(matchCreated.UnixMicro())}}, `{}`, true},
		{&Compare{Field: Field{System: SystemCreatedAt}, Op: OpEq, Value: Value{Kind: ValueString,
			Str: matchCreated.Format(time.RFC3339Nano)}}, `{}`, false},
		{&Compare{Field: Field{System: SystemID}, Op: OpEq, Value: five}, `{}`, false},
		{&Compare{Field: Field{System: SystemID}, Op: OpContains, Value: Value{Kind: ValueString, Str: "doc-1\x00"}}, `{}`, false},
	} {
		d := matchDoc(c.data)
		if got, err := Match(c.e, d); err != nil || got != c.want {
			t.Errorf("Match(%s) on %s = %v, %v; want %v", Format(c.e), c.data, got, err, c.want)
		}
		if ref, _ := refMatchData(c.e, d); ref != c.want {
			t.Errorf("reference(%s) on %s = %v, want %v", Format(c.e), c.data, ref, c.want)
		}
	}
}

func TestMatchNilFilter(t *testing.T) {
	for _, data := range []string{`{}`, `{"a":1}`, `not JSON`} {
		if ok, err := Match(nil, matchDoc(data)); !ok || err != nil {
			t.Errorf("Match(nil) on %s = %v, %v; want true, nil", data, ok, err)
		}
	}
	if ok, err := Match(&And{}, matchDoc(`{}`)); !ok || err != nil {
		t.Errorf("Match(empty and) = %v, %v; want true", ok, err)
	}
	if ok, err := Match(&Or{}, matchDoc(`{}`)); ok || err != nil {
		t.Errorf("Match(empty or) = %v, %v; want false", ok, err)
	}
	if ok, err := Match(&Not{X: &Or{}}, matchDoc(`{}`)); !ok || err != nil {
		t.Errorf("Match(!(empty or)) = %v, %v; want true", ok, err)
	}
}

// wantInvalid fails unless err is an Invalid *fault.Error of Match.
func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != opMatch || fe.Msg == "" {
		t.Errorf("%s: error %v (%T), want an Invalid *fault.Error of %s", what, err, err, opMatch)
	}
}

func TestMatchInvalidFilters(t *testing.T) {
	str := Value{Kind: ValueString, Str: "x"}
	title := Field{Path: []string{"title"}, Type: TypeString}
	eq := &Compare{Field: title, Op: OpEq, Value: str}
	cyclic := &Not{}
	cyclic.X = cyclic
	cases := map[string]Expr{
		"nil and":               (*And)(nil),
		"nil or":                (*Or)(nil),
		"nil not":               (*Not)(nil),
		"nil compare":           (*Compare)(nil),
		"nil term":              &And{Terms: []Expr{eq, nil}},
		"nil under not":         &Not{},
		"nil compare in or":     &Or{Terms: []Expr{eq, (*Compare)(nil)}},
		"cyclic":                cyclic,
		"quote in name":         &Compare{Field: Field{Path: []string{"a'b"}}, Op: OpEq, Value: str},
		"dot in name":           &Compare{Field: Field{Path: []string{"a.b"}}, Op: OpEq, Value: str},
		"empty name":            &Compare{Field: Field{Path: []string{"a", ""}}, Op: OpEq, Value: str},
		"long name":             &Compare{Field: Field{Path: []string{strings.Repeat("a", 65)}}, Op: OpEq, Value: str},
		"digit first":           &Compare{Field: Field{Path: []string{"1a"}}, Op: OpEq, Value: str},
		"empty path":            &Compare{Field: Field{}, Op: OpEq, Value: str},
		"unknown system field":  &Compare{Field: Field{System: "collection"}, Op: OpEq, Value: str},
		"any of a system field": &Compare{Field: Field{System: SystemID}, Op: OpEq, Any: true, Value: str},
		"empty in list":         &Compare{Field: title, Op: OpIn},
		"empty not in list":     &Compare{Field: title, Op: OpNotIn, Values: []Value{}},
		"unknown operator":      &Compare{Field: title, Op: Op(99), Value: str},
		"zero operator":         &Compare{Field: title, Value: str},
		"unknown value kind":    &Compare{Field: title, Op: OpEq, Value: Value{Kind: 99}},
		"unknown kind in list":  &Compare{Field: title, Op: OpIn, Values: []Value{str, {Kind: 99}}},
		"NaN":                   &Compare{Field: title, Op: OpLt, Value: Value{Kind: ValueNumber, Num: math.NaN()}},
		"infinity":              &Compare{Field: title, Op: OpIn, Values: []Value{{Kind: ValueNumber, Num: math.Inf(-1)}}},
	}
	for name, e := range cases {
		// Errors do not depend on the document, nor on what comes first.
		for _, data := range []string{`{}`, `{"title":"x"}`, `{"title":`} {
			ok, err := Match(e, matchDoc(data))
			if ok {
				t.Errorf("%s on %s: matched", name, data)
			}
			wantInvalid(t, name+" on "+data, err)
			_, err = Match(&Or{Terms: []Expr{&And{}, e}}, matchDoc(data))
			wantInvalid(t, name+" after a true term on "+data, err)
		}
	}
}

func TestMatchInvalidData(t *testing.T) {
	cases := []struct{ filter, data string }{
		{`title = "x"`, `{`},
		{`title = "x"`, `{"title"`},
		{`title = "x"`, `{"title":`},
		{`title = "x"`, `{"title" "x"}`},
		{`title = "x"`, `{"title":"x`},
		{`title = "x"`, `{"title":"x\`},
		{`title = "x"`, `{"title":"\x"}`},
		{`title = "x"`, `{"title":"\u12"}`},
		{`title = "x"`, `{"title":"\u12G4"}`},
		{`title = "x"`, `{"a":1 "title":"x"}`},
		{`title = "x"`, `{"a":[1,2}`},
		{`title = "x"`, `{"a":tru,"title":"x"}`},
		{`title = "x"`, `{"a":nul`},
		{`title = "x"`, `{"a":"b`},
		{`title = "x"`, `{"a":{"b":"}"`},
		{`title = "x"`, `{a:1}`},
		{`title = "x"`, `{"title":x}`},
		{`title = "x"`, `{"a":1,}`},
		{`title = "x"`, `{"t\qitle":"x"}`},
		{`author.name = "x"`, `{"author":{"name"}}`},
		{`rating = 1`, `{"rating":1.}`},
		{`rating = 1`, `{"rating":.5}`},
		{`rating = 1`, `{"rating":-}`},
		{`rating = 1`, `{"rating":1e}`},
		{`rating = 1`, `{"rating":1e+}`},
		{`rating = 1`, `{"rating":1-2}`},
		{`rating = 1`, `{"rating":1.2.3}`},
		{`tags ?= "x"`, `{"tags":["a" "x"]}`},
		{`tags ?= "x"`, `{"tags":["a",]}`},
		{`tags ?= "x"`, `{"tags":[}`},
		{`tags ?= "x"`, `{"tags":[`},
	}
	for _, c := range cases {
		ok, err := Match(mustFilter(t, c.filter), matchDoc(c.data))
		if ok {
			t.Errorf("Match(%s) on %s: matched", c.filter, c.data)
		}
		wantInvalid(t, fmt.Sprintf("Match(%s) on %s", c.filter, c.data), err)
	}
}

// TestMatchAgreesWithReference evaluates random filters over random
// documents, written with random whitespace and escapes, with Match and
// with a reference evaluator that decodes the whole document with
// encoding/json and compares numbers with math/big.
func TestMatchAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	g := matchGen{rng: rng}
	n := 3000
	if testing.Short() {
		n = 300
	}
	matched := 0
	for i := range n {
		data := g.document()
		d := matchDoc(string(data))
		d.ID = g.pick(matchStrings)
		d.Version = int64(rng.IntN(4))
		for range 10 {
			e := g.expr(0)
			got, err := Match(e, d)
			if err != nil {
				t.Fatalf("case %d: Match(%s) on %s: %v", i, Format(e), data, err)
			}
			want, ok := refMatchData(e, d)
			if !ok {
				t.Fatalf("case %d: the reference cannot read %s", i, data)
			}
			if got != want {
				t.Fatalf("case %d: Match(%s) on %s (id %q, version %d) = %v, reference says %v",
					i, Format(e), data, d.ID, d.Version, got, want)
			}
			if neg, err := Match(&Not{X: e}, d); err != nil || neg == got {
				t.Fatalf("case %d: Match(!(%s)) on %s = %v, %v; Match without ! = %v", i, Format(e), data, neg, err, got)
			}
			if got {
				matched++
			}
		}
	}
	// Guard against a generator that makes every filter trivially false
	// (or true).
	if total := n * 10; matched < total/10 || matched > total*9/10 {
		t.Fatalf("%d of %d random filters matched: the generator is too one-sided", matched, total)
	}
}

func FuzzMatch(f *testing.F) {
	for i, c := range matchCases {
		if len(c.data) > 256 {
			continue // long seeds make minimizing slow
		}
		f.Add(c.filter, c.data)
		f.Add(validFilters[i%len(validFilters)].src, c.data)
	}
	s := testSchema(f)
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, filter, data string) {
		e, err := ParseFilter(filter, s, lim)
		if err != nil || e == nil {
			return
		}
		d := matchDoc(data)
		got, err := Match(e, d)
		if err != nil {
			wantInvalid(t, fmt.Sprintf("Match(%s) on %q", Format(e), data), err)
		}
		neg, nerr := Match(&Not{X: e}, d)
		if (err == nil) != (nerr == nil) || err == nil && neg == got {
			t.Fatalf("Match(%s) on %q = %v, %v but Match(!(…)) = %v, %v", Format(e), data, got, err, neg, nerr)
		}
		want, ok := refMatchData(e, d)
		if !ok {
			return // not JSON the reference can read
		}
		if err != nil || got != want {
			t.Fatalf("Match(%s) on %q = %v, %v; reference says %v", Format(e), data, got, err, want)
		}
	})
}

// The reference evaluator: simple and slow, sharing no code with Match.

// refMatchData decodes d.Data and evaluates e; ok is false when the data
// is not JSON it can read (invalid, invalid UTF-8, numbers too large for
// math/big to handle quickly).
func refMatchData(e Expr, d Document) (result, ok bool) {
	data, ok := refDecode(d.Data)
	if !ok {
		return false, false
	}
	return refMatch(e, d, data), true
}

func refDecode(raw []byte) (any, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, true
	}
	if !utf8.Valid(raw) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := refValue(dec)
	if err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

// refValue decodes one value; in objects, the first of duplicate keys wins.
func refValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			arr := []any{}
			for dec.More() {
				v, err := refValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		obj := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := refValue(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := obj[k.(string)]; !dup {
				obj[k.(string)] = v
			}
		}
		_, err := dec.Token()
		return obj, err
	case json.Number:
		if _, ok := refRat(string(tok)); !ok {
			return nil, errors.New("number out of the reference's range")
		}
	}
	return tok, nil
}

// refRat converts a JSON number to a rational, refusing exponents that
// would make math/big slow.
func refRat(s string) (*big.Rat, bool) {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(s[i+1:])
		if err != nil || exp > 2000 || exp < -2000 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// refRead reads a JSON number (whose exponent refRat accepts) as the
// engines compare it: its leading significant digits, 20 of them when the
// first 19 are below 1844674407370955160 and 19 otherwise, the rest
// dropped, rounded to the nearest float64 by math/big.
func refRead(s string) float64 {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, _ = strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		s = s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := intPart + frac
	exp += len(intPart) // the value is 0.digits × 10^exp
	for len(digits) > 0 && digits[0] == '0' {
		digits, exp = digits[1:], exp-1
	}
	keep := 19
	if padded := digits + strings.Repeat("0", 19); padded[:19] < "1844674407370955160" {
		keep = 20
	}
	if len(digits) > keep {
		digits = digits[:keep]
	}
	if digits == "" {
		return 0
	}
	r, ok := new(big.Rat).SetString("0." + digits + "e" + strconv.Itoa(exp))
	if !ok {
		panic("reference: number " + s)
	}
	f, _ := r.Float64()
	if neg {
		f = -f
	}
	return f
}

func refMatch(e Expr, d Document, data any) bool {
	switch e := e.(type) {
	case *And:
		for _, x := range e.Terms {
			if !refMatch(x, d, data) {
				return false
			}
		}
		return true
	case *Or:
		for _, x := range e.Terms {
			if refMatch(x, d, data) {
				return true
			}
		}
		return false
	case *Not:
		return !refMatch(e.X, d, data)
	}
	c := e.(*Compare)
	op, neg := c.Op.Positive()
	if c.Field.System != SystemNone {
		return refSystem(c, op, d) != neg
	}
	v, found := data, true
	for _, k := range c.Field.Path {
		m, isObj := v.(map[string]any)
		if !isObj {
			v, found = nil, false
			break
		}
		v, found = m[k]
	}
	if !c.Any {
		return refLeaf(v, found, c.Field.Type, op, c) != neg
	}
	arr, _ := v.([]any)
	for _, x := range arr {
		if refLeaf(x, true, c.Field.Items, op, c) != neg {
			return true
		}
	}
	return false
}

func refIsNull(v any, found bool, typ Type) bool {
	if !found || v == nil {
		return true
	}
	switch v.(type) {
	case string:
		return typ == TypeNumber || typ == TypeInteger || typ == TypeBoolean
	case json.Number:
		return typ == TypeString || typ == TypeBoolean
	case bool:
		return typ == TypeString || typ == TypeNumber || typ == TypeInteger
	}
	return typ == TypeString || typ == TypeNumber || typ == TypeInteger || typ == TypeBoolean
}

func refLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 32
		}
		return r
	}, s)
}

func refLeaf(v any, found bool, typ Type, op Op, c *Compare) bool {
	switch op {
	case OpIn:
		for _, lit := range c.Values {
			if lit.Kind == ValueNull && refIsNull(v, found, typ) {
				return true
			}
			if r, ok := refCompare(v, lit); ok && r == 0 {
				return true
			}
		}
		return false
	case OpContains:
		s, isStr := v.(string)
		return isStr && c.Value.Kind == ValueString &&
			strings.Contains(refLower(s), refLower(strings.ReplaceAll(c.Value.Str, "\x00", "\uFFFD")))
	case OpEq:
		if c.Value.Kind == ValueNull {
			return refIsNull(v, found, typ)
		}
	}
	r, ok := refCompare(v, c.Value)
	return ok && refHolds(op, r)
}

func refHolds(op Op, r int) bool {
	return op == OpEq && r == 0 || op == OpLt && r < 0 || op == OpLe && r <= 0 || op == OpGt && r > 0 || op == OpGe && r >= 0
}

func refCompare(v any, lit Value) (int, bool) {
	switch x := v.(type) {
	case string:
		if lit.Kind == ValueString {
			return strings.Compare(x, strings.ReplaceAll(lit.Str, "\x00", "\uFFFD")), true
		}
	case json.Number:
		if lit.Kind == ValueNumber {
			a := refRead(string(x))
			switch {
			case a < lit.Num:
				return -1, true
			case a > lit.Num:
				return 1, true
			}
			return 0, true
		}
	case bool:
		if lit.Kind == ValueBool {
			switch {
			case x == lit.Bool:
				return 0, true
			case !x:
				return -1, true
			}
			return 1, true
		}
	}
	return 0, false
}

func refSystem(c *Compare, op Op, d Document) bool {
	lits := c.Values
	if op != OpIn {
		lits = []Value{c.Value}
	}
	cmpOp := op
	if op == OpIn {
		cmpOp = OpEq
	}
	if c.Field.System == SystemID {
		for _, lit := range lits {
			if lit.Kind != ValueString {
				continue
			}
			s := strings.ReplaceAll(lit.Str, "\x00", "\uFFFD")
			if op == OpContains && strings.Contains(refLower(d.ID), refLower(s)) ||
				op != OpContains && refHolds(cmpOp, strings.Compare(d.ID, s)) {
				return true
			}
		}
		return false
	}
	var at *big.Int
	switch c.Field.System {
	case SystemVersion:
		at = big.NewInt(d.Version)
	case SystemCreatedAt:
		at = big.NewInt(d.CreatedAt.Truncate(time.Microsecond).UnixMicro())
	default:
		at = big.NewInt(d.UpdatedAt.Truncate(time.Microsecond).UnixMicro())
	}
	if op == OpContains {
		return false
	}
	for _, lit := range lits {
		var n *big.Int
		switch lit.Kind {
		case ValueTime:
			n = big.NewInt(lit.Time.Truncate(time.Microsecond).UnixMicro())
		case ValueNumber:
			f := new(big.Float).SetFloat64(lit.Num)
			if !f.IsInt() || f.Cmp(big.NewFloat(-(1<<63))) < 0 || f.Cmp(big.NewFloat(1<<63)) >= 0 {
				continue
			}
			n, _ = f.Int(nil)
		default:
			continue
		}
		if refHolds(cmpOp, at.Cmp(n)) {
			return true
		}
	}
	return false
}

// Random documents and filters.

var (
	matchStrings = []string{"", "a", "A", "ab", "aB", "Ann", "ann", "ANN", "é", "É", "日本", `a"b`, `x\y`,
		"\u2028", "tab\t", "nul\x00", "\uFFFD", "😀", "Z", "z", "0", "1", "true", "null", "doc-1", "d", "%_"}
	matchNumbers = []string{"0", "-0", "0.0", "1", "1.0", "1e0", "10", "1E1", "100e-1", "9.99", "2.5", "-3",
		"-0.5", "3", "9007199254740992", "9007199254740993", "1152921504606846976", "1152921504606847000",
		"1e300", "1e400", "-1e400", "1e-400", "0.1", "0.10000000000000000001", "1e-7", "-1E-7",
		"123456789012345678901234567890", "2"}
	matchLiteralNumbers = []float64{0, 1, 2, 2.5, 3, -3, 10, 9.99, -0.5, 0.1, 1e-7, -1e-7, 1e300,
		9007199254740992, 1152921504606846976, 1e19, 1.5}
	matchFields = []Field{
		{Path: []string{"title"}, Type: TypeString},
		{Path: []string{"status"}, Type: TypeString},
		{Path: []string{"score"}, Type: TypeInteger},
		{Path: []string{"rating"}, Type: TypeNumber},
		{Path: []string{"published"}, Type: TypeBoolean},
		{Path: []string{"tags"}, Type: TypeArray, Items: TypeString},
		{Path: []string{"scores"}, Type: TypeArray, Items: TypeInteger},
		{Path: []string{"flags"}, Type: TypeArray, Items: TypeBoolean},
		{Path: []string{"anything"}, Type: TypeArray},
		{Path: []string{"misc"}, Type: TypeAny},
		{Path: []string{"meta"}, Type: TypeObject},
		{Path: []string{"author", "name"}, Type: TypeString},
		{Path: []string{"author", "age"}, Type: TypeInteger},
		{Path: []string{"author", "address", "city"}, Type: TypeString},
		{System: SystemID, Type: TypeString},
		{System: SystemVersion, Type: TypeInteger},
		{System: SystemCreatedAt, Type: TypeTime},
		{System: SystemUpdatedAt, Type: TypeTime},
	}
	matchOps = []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpContains, OpNotContains, OpIn, OpNotIn}
)

// matchGen makes random documents (as JSON text with random whitespace and
// escapes) and random filters over matchFields.
type matchGen struct {
	rng *rand.Rand
	b   []byte
}

func (g *matchGen) pick(s []string) string { return s[g.rng.IntN(len(s))] }

func (g *matchGen) document() []byte {
	g.b = g.b[:0]
	g.value(0, true)
	return append([]byte(nil), g.b...)
}

func (g *matchGen) space() {
	if g.rng.IntN(4) == 0 {
		g.b = append(g.b, " \t\n\r"[g.rng.IntN(4)])
	}
}

// value writes a random value; a top-level one is an object with the
// fields of matchFields (mostly, of their types).
func (g *matchGen) value(depth int, top bool) {
	g.space()
	switch k := g.rng.IntN(8); {
	case top:
		g.object(depth, []string{"title", "status", "score", "rating", "published", "tags", "scores", "flags",
			"anything", "misc", "meta", "author", "other"})
	case depth > 3 || k < 2:
		g.scalar()
	case k == 2:
		g.b = append(g.b, '[')
		for i := range g.rng.IntN(4) {
			if i > 0 {
				g.b = append(g.b, ',')
			}
			g.value(depth+1, false)
		}
		g.b = append(g.b, ']')
	case k == 3:
		g.object(depth, []string{"name", "age", "address", "city", "x"})
	default:
		g.scalar()
	}
	g.space()
}

func (g *matchGen) object(depth int, keys []string) {
	g.b = append(g.b, '{')
	n := 0
	for _, k := range keys {
		if g.rng.IntN(3) == 0 {
			continue
		}
		if n > 0 {
			g.b = append(g.b, ',')
		}
		n++
		g.space()
		g.str(k)
		g.space()
		g.b = append(g.b, ':')
		if g.rng.IntN(2) == 0 {
			g.typed(depth, k)
		} else {
			g.value(depth+1, false)
		}
	}
	g.b = append(g.b, '}')
}

// typed writes a value of the declared type of field k.
func (g *matchGen) typed(depth int, k string) {
	switch k {
	case "title", "status", "name", "city":
		g.str(g.pick(matchStrings))
	case "score", "rating", "age":
		g.b = append(g.b, g.pick(matchNumbers)...)
	case "published":
		g.b = strconv.AppendBool(g.b, g.rng.IntN(2) == 0)
	case "tags", "scores", "flags":
		g.b = append(g.b, '[')
		for i := range g.rng.IntN(4) {
			if i > 0 {
				g.b = append(g.b, ',')
			}
			g.typed(depth, map[string]string{"tags": "title", "scores": "score", "flags": "published"}[k])
		}
		g.b = append(g.b, ']')
	case "author", "address":
		g.object(depth+1, []string{"name", "age", "address", "city"})
	default:
		g.value(depth+1, false)
	}
}

func (g *matchGen) scalar() {
	switch g.rng.IntN(5) {
	case 0:
		g.b = append(g.b, "null"...)
	case 1:
		g.b = strconv.AppendBool(g.b, g.rng.IntN(2) == 0)
	case 2:
		g.b = append(g.b, g.pick(matchNumbers)...)
	default:
		g.str(g.pick(matchStrings))
	}
}

// str writes s as a JSON string, escaping some characters that need no
// escape.
func (g *matchGen) str(s string) {
	g.b = append(g.b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			g.b = append(g.b, '\\', byte(r))
		case r < 0x20 || g.rng.IntN(6) == 0:
			if r == '/' || r == '\n' && g.rng.IntN(2) == 0 {
				g.b = append(g.b, '\\', map[rune]byte{'/': '/', '\n': 'n'}[r])
				continue
			}
			if r >= 0x10000 {
				r1, r2 := utf16Pair(r)
				g.b = fmt.Appendf(g.b, `\u%04x\u%04X`, r1, r2)
				continue
			}
			g.b = fmt.Appendf(g.b, `\u%04x`, r)
		default:
			g.b = utf8.AppendRune(g.b, r)
		}
	}
	g.b = append(g.b, '"')
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + r>>10, 0xDC00 + r&0x3FF
}

func (g *matchGen) expr(depth int) Expr {
	k := g.rng.IntN(10)
	switch {
	case depth >= 3 || k < 6:
		return g.compare()
	case k < 8:
		terms := make([]Expr, g.rng.IntN(4))
		for i := range terms {
			terms[i] = g.expr(depth + 1)
		}
		if k == 6 {
			return &And{Terms: terms}
		}
		return &Or{Terms: terms}
	}
	return &Not{X: g.expr(depth + 1)}
}

func (g *matchGen) compare() *Compare {
	f := matchFields[g.rng.IntN(len(matchFields))]
	c := &Compare{Field: f, Op: matchOps[g.rng.IntN(len(matchOps))]}
	c.Any = f.Type == TypeArray && g.rng.IntN(4) != 0
	if c.Op == OpIn || c.Op == OpNotIn {
		c.Values = make([]Value, 1+g.rng.IntN(4))
		for i := range c.Values {
			c.Values[i] = g.literal(f)
		}
	} else {
		c.Value = g.literal(f)
	}
	return c
}

// literal returns a literal for f: mostly of f's type, sometimes of another.
func (g *matchGen) literal(f Field) Value {
	typ := f.Type
	if typ == TypeArray {
		typ = f.Items
	}
	if g.rng.IntN(4) == 0 {
		typ = []Type{TypeAny, TypeString, TypeNumber, TypeBoolean, TypeTime}[g.rng.IntN(5)]
	}
	switch typ {
	case TypeString:
		return Value{Kind: ValueString, Str: g.pick(matchStrings)}
	case TypeNumber, TypeInteger:
		return Value{Kind: ValueNumber, Num: matchLiteralNumbers[g.rng.IntN(len(matchLiteralNumbers))]}
	case TypeBoolean:
		return Value{Kind: ValueBool, Bool: g.rng.IntN(2) == 0}
	case TypeTime:
		at := matchCreated.Add(time.Duration(g.rng.IntN(5)-2) * 30 * time.Minute)
		if g.rng.IntN(2) == 0 {
			at = at.Truncate(time.Microsecond).Add(time.Duration(g.rng.IntN(3)-1) * time.Microsecond)
		}
		return Value{Kind: ValueTime, Time: at}
	}
	switch g.rng.IntN(3) {
	case 0:
		return Value{Kind: ValueNull}
	case 1:
		return Value{Kind: ValueString, Str: g.pick(matchStrings)}
	}
	return Value{Kind: ValueNumber, Num: matchLiteralNumbers[g.rng.IntN(len(matchLiteralNumbers))]}
}

// Benchmarks. BenchmarkMatch/decoded is what an evaluator that decodes
// the whole document first would pay.

// benchDocument is a document of about 1 KB with the owner field last
// in key order.
func benchDocument() Document {
	var b strings.Builder
	b.WriteString(`{"author":{"age":41,"name":"Zoë"},"body":"`)
	b.WriteString(strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 14))
	b.WriteString(`","count":17,"nums":[1,2,3,4.5],"owner":"u1","score":9.99,"tags":["a","b","c"],"title":"Basalt"}`)
	return Document{ID: "d1", Version: 3, CreatedAt: matchCreated, UpdatedAt: matchCreated, Data: []byte(b.String())}
}

func BenchmarkMatch(b *testing.B) {
	owner := &Compare{Field: Field{Path: []string{"owner"}, Type: TypeString}, Op: OpEq,
		Value: Value{Kind: ValueString, Str: "u1"}}
	five := &And{Terms: []Expr{
		owner,
		&Compare{Field: Field{Path: []string{"score"}, Type: TypeNumber}, Op: OpGe, Value: Value{Kind: ValueNumber, Num: 9.5}},
		&Compare{Field: Field{Path: []string{"title"}, Type: TypeString}, Op: OpContains, Value: Value{Kind: ValueString, Str: "SALT"}},
		&Compare{Field: Field{Path: []string{"tags"}, Type: TypeArray, Items: TypeString}, Op: OpEq, Any: true,
			Value: Value{Kind: ValueString, Str: "c"}},
		&Compare{Field: Field{Path: []string{"author", "age"}, Type: TypeInteger}, Op: OpNotIn,
			Values: []Value{{Kind: ValueNumber, Num: 1}, {Kind: ValueNumber, Num: 2}}},
	}}
	small := Document{ID: "d1", Version: 1, CreatedAt: matchCreated, UpdatedAt: matchCreated,
		Data: []byte(`{"owner":"u1","title":"t"}`)}
	large := benchDocument()
	for _, c := range []struct {
		name string
		e    Expr
		d    Document
	}{
		{"owner/small", owner, small},
		{"owner/1KB", owner, large},
		{"five/1KB", five, large},
	} {
		if ok, err := Match(c.e, c.d); !ok || err != nil {
			b.Fatalf("%s: Match = %v, %v", c.name, ok, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := Match(c.e, c.d); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
		b.Run(c.name+"/decoded", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, _ := refMatchData(c.e, c.d); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}
