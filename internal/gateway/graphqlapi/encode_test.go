package graphqlapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// FuzzAppendString: appendString writes what encoding/json writes without
// HTML escaping, and what it writes decodes back to the string (invalid
// UTF-8 as U+FFFD).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote \" backslash \\ slash /", "\n\r\t\x00\x1f\x7f", "é 😀 \u2028\u2029", "\xff\xfe bad", "<a&b>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := appendString(nil, s)
		if string(got) != string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("%q: %s, encoding/json %s", s, got, want.Bytes())
		}
	})
}

// TestAppendValue: the value tree of an answer written as JSON.
func TestAppendValue(t *testing.T) {
	v := &object{members: []member{{"b", json.Number("1.5")}, {"a", int64(-3)},
		{"list", []any{nil, true, "x", 2.5, int(7)}}, {"json", map[string]any{"z": []any{}, "y": map[string]any{}, "x": json.Number("10")}}}}
	got, err := appendValue(nil, v)
	if err != nil || string(got) != `{"b":1.5,"a":-3,"list":[null,true,"x",2.5,7],"json":{"x":10,"y":{},"z":[]}}` {
		t.Errorf("%s, %v", got, err)
	}
}

// FuzzJSONOf: the stored data of a document, parsed by fastjson for the
// executor, is the value encoding/json decodes (numbers as json.Number),
// for every JSON text of valid UTF-8 encoding/json accepts, however many
// texts one jsonReader read before.
func FuzzJSONOf(f *testing.F) {
	for _, s := range []string{`{}`, `{"a": 1, "b": [true, false, null, -2.5e3, "x\u00e9\ud83d\ude00"], "c": {"d": {}}}`, `{"a": 1, "a": 2}`,
		`{"k\"ey": "v\\al\n"}`, `[1, {"x": []}]`, `"s"`, `12345678901234567890123`, `{"\u0000": "\u2028"}`} {
		f.Add(s)
	}
	// One reader for every input, as one for every document of a page: the
	// keys it keeps from one must not change another's values.
	var r jsonReader
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || !json.Valid([]byte(s)) {
			return
		}
		var want any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil || dec.More() {
			return
		}
		var p fastjson.Parser
		got, err := r.parse(&p, []byte(s))
		if err != nil {
			t.Fatalf("%q: encoding/json accepts it, fastjson: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %#v, encoding/json %#v", s, got, want)
		}
	})
}
