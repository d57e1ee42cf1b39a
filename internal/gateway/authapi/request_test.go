package authapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// decode runs readObject on body sent as application/json.
func decode(t *testing.T, body string) (*restapi.BodyObject, error) {
	t.Helper()
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return readObject(httptest.NewRecorder(), r, 256, false)
}

// wantField asserts err is Invalid with one field error at pointer.
func wantField(t *testing.T, err error, pointer string) {
	t.Helper()
	if !fault.Is(err, fault.Invalid) {
		t.Fatalf("error %v, want invalid", err)
	}
	fs := fault.FieldsOf(err)
	if len(fs) != 1 || fs[0].Pointer != pointer {
		t.Fatalf("fields %+v, want one at %q", fs, pointer)
	}
}

func TestObjectAccessors(t *testing.T) {
	o, err := decode(t, `{"s":"x","b":true,"l":["a","b"],"t":"2026-05-01T12:00:00+02:00","empty":[]}`)
	if err != nil {
		t.Fatal(err)
	}
	if s := o.Str("s"); s != "x" {
		t.Errorf("str = %q", s)
	}
	if b, ok := o.Boolean("b"); !b || !ok {
		t.Errorf("boolean = %v, %v", b, ok)
	}
	if l, ok := o.StrList("l"); !ok || strings.Join(l, ",") != "a,b" {
		t.Errorf("strList = %q, %v", l, ok)
	}
	if l, ok := o.StrList("empty"); !ok || l == nil || len(l) != 0 {
		t.Errorf("empty strList = %#v, %v", l, ok)
	}
	if ts := o.Timestamp("t"); !ts.Equal(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)) || ts.Location() != time.UTC {
		t.Errorf("timestamp = %v", ts)
	}
	if s := o.Str("absent"); s != "" {
		t.Errorf("absent str = %q", s)
	}
	if _, ok := o.Boolean("absent2"); ok {
		t.Error("absent boolean present")
	}
	if err := o.Done(); err != nil {
		t.Fatalf("done: %v", err)
	}
}

func TestObjectRejects(t *testing.T) {
	tests := []struct {
		name, body, pointer string
		use                 func(o *restapi.BodyObject)
	}{
		{"unknown member", `{"email":"a","emial":"b"}`, "/emial", func(o *restapi.BodyObject) { o.Str("email") }},
		{"unknown member, nothing expected", `{"x":1}`, "/x", func(*restapi.BodyObject) {}},
		{"pointer escaping", `{"a/b~c":1}`, "/a~1b~0c", func(*restapi.BodyObject) {}},
		{"string as number", `{"email":5}`, "/email", func(o *restapi.BodyObject) { o.Str("email") }},
		{"string as null", `{"email":null}`, "/email", func(o *restapi.BodyObject) { o.Str("email") }},
		{"string as object", `{"email":{}}`, "/email", func(o *restapi.BodyObject) { o.Str("email") }},
		{"boolean as string", `{"verified":"true"}`, "/verified", func(o *restapi.BodyObject) { o.Boolean("verified") }},
		{"list as string", `{"roles":"admin"}`, "/roles", func(o *restapi.BodyObject) { o.StrList("roles") }},
		{"list of numbers", `{"roles":["a",1]}`, "/roles/1", func(o *restapi.BodyObject) { o.StrList("roles") }},
		{"list as null", `{"roles":null}`, "/roles", func(o *restapi.BodyObject) { o.StrList("roles") }},
		{"bad timestamp", `{"expiresAt":"tomorrow"}`, "/expiresAt", func(o *restapi.BodyObject) { o.Timestamp("expiresAt") }},
		{"timestamp as number", `{"expiresAt":1}`, "/expiresAt", func(o *restapi.BodyObject) { o.Timestamp("expiresAt") }},
		{"first error wins", `{"a":1,"b":2}`, "/a", func(o *restapi.BodyObject) { o.Str("a"); o.Str("b") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := decode(t, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			tc.use(o)
			wantField(t, o.Done(), tc.pointer)
		})
	}
}

func TestReadObject(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		kind           fault.Kind
	}{
		{"ok", "application/json", `{}`, ""},
		{"charset", "application/json; charset=UTF-8", `{}`, ""},
		{"no content type", "", `{}`, fault.UnsupportedMedia},
		{"text", "text/plain", `{}`, fault.UnsupportedMedia},
		{"other charset", "application/json; charset=latin1", `{}`, fault.UnsupportedMedia},
		{"merge patch where not allowed", "application/merge-patch+json", `{}`, fault.UnsupportedMedia},
		{"empty", "application/json", ``, fault.Invalid},
		{"array", "application/json", `[]`, fault.Invalid},
		{"duplicate", "application/json", `{"a":"1","a":"2"}`, fault.Invalid},
		{"trailing", "application/json", `{} {}`, fault.Invalid},
		{"too deep", "application/json", `{"a":[[[[1]]]]}`, fault.Invalid},
		{"too large", "application/json", `{"a":"` + strings.Repeat("x", 300) + `"}`, fault.PayloadTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			_, err := readObject(httptest.NewRecorder(), r, 256, false)
			if fault.KindOf(err) != tc.kind {
				t.Fatalf("error %v, want kind %q", err, tc.kind)
			}
		})
	}
	r := httptest.NewRequest("PATCH", "/", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/merge-patch+json")
	if _, err := readObject(httptest.NewRecorder(), r, 256, true); err != nil {
		t.Fatalf("merge patch: %v", err)
	}
}

// TestOptionalBodiesOfUnknownLength: chunked or HTTP/2 bodies without
// Content-Length count by their content, not their framing.
func TestOptionalBodiesOfUnknownLength(t *testing.T) {
	unknown := func(body, ct string) *http.Request {
		r := httptest.NewRequest("POST", "/", nil)
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), -1
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		return r
	}
	o, err := readOptionalObject(httptest.NewRecorder(), unknown("", ""), 64)
	if err != nil || o.Done() != nil {
		t.Errorf("empty optional body: %v", err)
	}
	o, err = readOptionalObject(httptest.NewRecorder(), unknown(`{"x":1}`, "application/json"), 64)
	if err != nil {
		t.Fatal(err)
	}
	wantField(t, o.Done(), "/x")
	if _, err := readOptionalObject(httptest.NewRecorder(), unknown(`{}`, "text/plain"), 64); !fault.Is(err, fault.UnsupportedMedia) {
		t.Errorf("optional body with a wrong media type: %v", err)
	}
	if _, err := readOptionalObject(httptest.NewRecorder(), unknown(strings.Repeat(" ", 100), "application/json"), 64); !fault.Is(err, fault.PayloadTooLarge) {
		t.Errorf("oversized optional body: %v", err)
	}
}
