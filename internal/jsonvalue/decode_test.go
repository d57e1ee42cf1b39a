package jsonvalue

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
)

type acceptCase struct {
	name string
	in   string
	want any
}

func acceptCases() []acceptCase {
	return []acceptCase{
		{"null", `null`, nil},
		{"true", ` true `, true},
		{"false", "\n\tfalse\r", false},
		{"int", `42`, json.Number("42")},
		{"negative zero", `-0`, json.Number("-0")},
		{"float", `-1.5e-3`, json.Number("-1.5e-3")},
		{"max safe int", `9007199254740992`, json.Number("9007199254740992")},
		{"min safe int", `-9007199254740992`, json.Number("-9007199254740992")},
		{"large float", `1.7976931348623157e308`, json.Number("1.7976931348623157e308")},
		{"underflow is zero", `1e-400`, json.Number("1e-400")},
		{"smallest scale both engines store", `1e-16383`, json.Number("1e-16383")},
		{"a long fraction within the scale", `1.25e-16381`, json.Number("1.25e-16381")},
		{"a fraction the exponent shortens", `0.` + strings.Repeat("1", 16390) + `e10`, json.Number(`0.` + strings.Repeat("1", 16390) + `e10`)},
		{"big exponent notation", `1E20`, json.Number("1E20")},
		{"string", `"basalt"`, "basalt"},
		{"escapes", `"a\"\\\/\b\f\n\r\tz"`, "a\"\\/\b\f\n\r\tz"},
		{"unicode escape", `"\u00e9\u4e2d"`, "é中"},
		{"surrogate pair", `"\ud83d\ude00"`, "😀"},
		{"raw utf8", `"héllo 😀"`, "héllo 😀"},
		{"empty object", `{}`, map[string]any{}},
		{"empty array", `[]`, []any{}},
		{"nested", `{"a":[1,{"b":null}],"c":"d"}`, map[string]any{
			"a": []any{json.Number("1"), map[string]any{"b": nil}}, "c": "d",
		}},
		{"keys differing by escape", `{"a":1,"\u0062":2}`, map[string]any{"a": json.Number("1"), "b": json.Number("2")}},
		{"depth 32", strings.Repeat("[", 32) + strings.Repeat("]", 32), nest(32)},
	}
}

// nest returns n nested empty arrays.
func nest(n int) any {
	var v any = []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

func TestDecodeAccepts(t *testing.T) {
	for _, tc := range acceptCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.in), DefaultLimits())
			if err != nil {
				t.Fatalf("Decode(%q) error: %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

type rejectCase struct {
	name    string
	in      string
	lim     Limits
	pointer string // expected pointer of the first field error
	msg     string // substring of the message
}

func rejectCases() []rejectCase {
	return []rejectCase{
		{name: "empty", in: ``, msg: "end of input"},
		{name: "spaces only", in: `  `, msg: "end of input"},
		{name: "garbage", in: `nul`, msg: "literal"},
		{name: "trailing data", in: `{} {}`, msg: "after the JSON value"},
		{name: "trailing comma object", in: `{"a":1,}`, msg: "object key"},
		{name: "trailing comma array", in: `[1,]`, pointer: "/1", msg: "unexpected character"},
		{name: "missing colon", in: `{"a" 1}`, pointer: "/a", msg: "':'"},
		{name: "unterminated string", in: `"abc`, msg: "end of input"},
		{name: "unterminated object", in: `{"a":1`, msg: "end of input"},
		{name: "single quotes", in: `{'a':1}`, msg: "object key"},
		{name: "leading zero", in: `01`, msg: "after the JSON value"},
		{name: "plus sign", in: `+1`, msg: "unexpected character"},
		{name: "bare minus", in: `-`, msg: "invalid number"},
		{name: "dot without digits", in: `1.`, msg: "after '.'"},
		{name: "exponent without digits", in: `1e+`, msg: "exponent"},
		{name: "NaN", in: `NaN`, msg: "unexpected character"},
		{name: "BOM", in: "\ufeff{}", msg: "unexpected character"},
		{name: "duplicate key", in: `{"a":1,"b":{"c":1,"c":2}}`, pointer: "/b/c", msg: "duplicate"},
		{name: "duplicate key via escape", in: `{"a":1,"\u0061":2}`, pointer: "/a", msg: "duplicate"},
		{name: "too deep", in: strings.Repeat("[", 33) + strings.Repeat("]", 33), pointer: "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0", msg: "deeper than 32"},
		{name: "too deep custom", in: `{"a":{"b":{}}}`, lim: Limits{MaxDepth: 2}, pointer: "/a/b", msg: "deeper than 2"},
		{name: "invalid utf8 in string", in: "{\"a\":\"\xff\"}", pointer: "/a", msg: "UTF-8"},
		{name: "invalid utf8 in key", in: "{\"\xc3\":1}", msg: "UTF-8"},
		{name: "utf8 encoded surrogate", in: "\"\xed\xa0\x80\"", msg: "UTF-8"},
		{name: "invalid utf8 outside string", in: "[\xff]", pointer: "/0", msg: "unexpected character"},
		{name: "escaped NUL", in: `{"a":"x\u0000"}`, pointer: "/a", msg: "NUL"},
		{name: "escaped NUL in key", in: `{"\u0000":1}`, msg: "NUL"},
		{name: "raw NUL", in: "\"a\x00\"", msg: "NUL"},
		{name: "raw control", in: "\"a\nb\"", msg: "control character"},
		{name: "lone high surrogate", in: `["\ud800"]`, pointer: "/0", msg: "surrogate"},
		{name: "high surrogate then letter", in: `"\ud800\u0041"`, msg: "surrogate"},
		{name: "lone low surrogate", in: `"\udc00"`, msg: "surrogate"},
		{name: "bad escape", in: `"\x"`, msg: "escape"},
		{name: "bad unicode escape", in: `"\u12g4"`, msg: "\\u escape"},
		{name: "float overflow", in: `{"n":1e400}`, pointer: "/n", msg: "RFC 7493"},
		{name: "negative float overflow", in: `[-1.8e308]`, pointer: "/0", msg: "64-bit float"},
		{name: "integer above 2^53", in: `{"n":9007199254740993}`, pointer: "/n", msg: "2^53"},
		{name: "integer below -2^53", in: `-9007199254740993`, msg: "2^53"},
		{name: "huge integer", in: `123456789012345678901234567890`, msg: "2^53"},
		{name: "string too long", in: `{"s":"abcdef"}`, lim: Limits{MaxString: 5}, pointer: "/s", msg: "longer than 5"},
		{name: "escaped string too long", in: `{"s":"\u00e9\u00e9\u00e9"}`, lim: Limits{MaxString: 5}, pointer: "/s", msg: "longer than 5"},
		{name: "key too long", in: `{"abcdef":1}`, lim: Limits{MaxString: 5}, msg: "longer than 5"},
		{name: "too many values", in: `[1,2,3]`, lim: Limits{MaxMembers: 3}, pointer: "/2", msg: "too many values"},
		{name: "pointer escaping", in: `{"a/b":{"m~n":[1,]}}`, pointer: "/a~1b/m~0n/1", msg: "unexpected character"},
		// What PostgreSQL's numeric cannot store: too many digits after the
		// decimal point, written out or through the exponent.
		{name: "tiny exponent", in: `{"n":1e-20000}`, pointer: "/n", msg: "more than 16383 digits after the decimal point"},
		{name: "just too tiny", in: `{"n":1e-16384}`, pointer: "/n", msg: "digits after the decimal point"},
		{name: "tiny with fraction", in: `{"n":0.5e-16383}`, pointer: "/n", msg: "digits after the decimal point"},
		{name: "huge negative exponent", in: `{"n":[1E-99999999999999999999999]}`, pointer: "/n/0", msg: "digits after the decimal point"},
		{name: "long fraction", in: `{"n":0.` + strings.Repeat("1", 16384) + `}`, pointer: "/n", msg: "digits after the decimal point"},
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range rejectCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.in), tc.lim)
			if err == nil {
				t.Fatalf("Decode(%q) = %#v, want an error", tc.in, got)
			}
			var fe *fault.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *fault.Error", err)
			}
			if fe.Kind != fault.Invalid || fe.Op != "jsonvalue.Decode" {
				t.Errorf("kind, op = %q, %q", fe.Kind, fe.Op)
			}
			if !strings.Contains(fe.Msg, tc.msg) {
				t.Errorf("message %q does not contain %q", fe.Msg, tc.msg)
			}
			if len(fe.Fields) != 1 {
				t.Fatalf("fields = %v, want one", fe.Fields)
			}
			if fe.Fields[0].Pointer != tc.pointer {
				t.Errorf("pointer = %q, want %q", fe.Fields[0].Pointer, tc.pointer)
			}
		})
	}
}

func TestDecodeObject(t *testing.T) {
	m, err := DecodeObject([]byte(`{"a":true}`), Limits{})
	if err != nil || m["a"] != true {
		t.Fatalf("DecodeObject = %v, %v", m, err)
	}
	for _, in := range []string{`[]`, `"s"`, `null`, `1`} {
		if _, err := DecodeObject([]byte(in), Limits{}); !fault.Is(err, fault.Invalid) {
			t.Errorf("DecodeObject(%s) error = %v, want invalid", in, err)
		}
	}
}

func TestDefaultLimits(t *testing.T) {
	if got := (Limits{}).withDefaults(); got != DefaultLimits() {
		t.Fatalf("zero limits = %+v, want %+v", got, DefaultLimits())
	}
}

// benchDoc is a typical 300-byte document.
const benchDoc = `{"title":"Basalt: a self-hostable backend","author":{"name":"Ada","id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},` +
	`"score":7,"ratio":0.75,"published":true,"tags":["rock","go","sqlite"],"summary":"Documents, accounts, search and events ` +
	`in one binary.","draft":null,"views":123456,"lang":"en"}`

func BenchmarkDecode(b *testing.B) {
	in := []byte(benchDoc)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(in, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodingJSONUnmarshal(b *testing.B) {
	in := []byte(benchDoc)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(in, &v); err != nil {
			b.Fatal(err)
		}
	}
}
