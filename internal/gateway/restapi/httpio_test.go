package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
)

func TestCheckContentType(t *testing.T) {
	tests := []struct {
		ct         string
		mergePatch bool
		ok         bool
	}{
		{"application/json", false, true},
		{"application/json; charset=utf-8", false, true},
		{"Application/JSON; charset=UTF-8", false, true},
		{"application/merge-patch+json", true, true},
		{"application/json", true, true},
		{"application/merge-patch+json", false, false},
		{"", false, false},
		{"", true, false},
		{"text/plain", false, false},
		{"application/json; charset=iso-8859-1", false, false},
		{"application/json; boundary=x", false, false},
		{"application/json;;", false, false},
		{"application/problem+json", false, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "/", nil)
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		err := CheckContentType(r, tc.mergePatch)
		if (err == nil) != tc.ok {
			t.Errorf("Content-Type %q (merge patch %v): %v, want ok=%v", tc.ct, tc.mergePatch, err, tc.ok)
		}
		if err != nil && !fault.Is(err, fault.UnsupportedMedia) {
			t.Errorf("Content-Type %q: kind %q", tc.ct, fault.KindOf(err))
		}
	}
}

// TestCheckContentTypeOnce refuses a request with two Content-Type lines,
// as it refuses two Authorization lines: a proxy and Basalt could read
// different ones.
func TestCheckContentTypeOnce(t *testing.T) {
	for _, cts := range [][]string{
		{"application/json", "application/json"},
		{"application/json", "text/plain"},
		{"text/plain", "application/json"},
		{"application/merge-patch+json", ""},
	} {
		r := httptest.NewRequest("PATCH", "/", nil)
		r.Header["Content-Type"] = cts
		err := CheckContentType(r, true)
		if !fault.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "once") {
			t.Errorf("Content-Type %q: %v, want an invalid error asking for one header", cts, err)
		}
	}

	// Through the whole stack: a 400 problem, and nothing is written.
	s := newStack(t)
	s.seedPosts()
	before := s.snapshot()
	req := httptest.NewRequestWithContext(t.Context(), "POST", docsPath, strings.NewReader(`{"title":"two types"}`))
	req.Header["Content-Type"] = []string{"application/json", "application/json"}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("two Content-Type lines: status %d, want 400; %s", rec.Code, rec.Body)
	}
	assertProblem(t, rec, "invalid")
	if after := s.snapshot(); after != before {
		t.Errorf("a refused request changed the state:\nbefore %s\nafter  %s", before, after)
	}
}

func TestPathValue(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"p1", true},
		{strings.Repeat("a", MaxPathValue), true},
		{"", false},
		{strings.Repeat("a", MaxPathValue+1), false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetPathValue("id", tc.value)
		got, err := PathValue(r, "id")
		if (err == nil) != tc.ok || (tc.ok && got != tc.value) {
			t.Errorf("PathValue(%d characters) = %q, %v; want ok=%v", len(tc.value), got, err, tc.ok)
		}
		if err != nil && (!fault.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "the id in the path")) {
			t.Errorf("PathValue(%d characters): %v", len(tc.value), err)
		}
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		ok    bool
		has   string
	}{
		{"", true, ""},
		{"limit=1&cursor=x", true, ""},
		{"limit=", true, ""},
		{"limt=1", false, `unknown query parameter "limt"`},
		{"limit=1&limit=2", false, `query parameter "limit" is given more than once`},
		{"cursor=%zz", false, "the query string is malformed"},
		{"limit=1;cursor=2", false, "the query string is malformed"},
	} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.URL.RawQuery = tc.query
		q, err := ParseQuery(r, "limit", "cursor")
		if (err == nil) != tc.ok {
			t.Errorf("ParseQuery(%q) = %v, want ok=%v", tc.query, err, tc.ok)
			continue
		}
		if err != nil {
			if !fault.Is(err, fault.Invalid) || fault.Message(err) != tc.has {
				t.Errorf("ParseQuery(%q) error %v, want invalid %q", tc.query, err, tc.has)
			}
			continue
		}
		if tc.query == "limit=1&cursor=x" && (q.Get("limit") != "1" || q.Get("cursor") != "x") {
			t.Errorf("ParseQuery(%q) = %v", tc.query, q)
		}
	}
	r := httptest.NewRequest("GET", "/x?a=1", nil)
	if _, err := ParseQuery(r); !fault.Is(err, fault.Invalid) {
		t.Errorf("a parameter where none is allowed: %v", err)
	}
}

// unknownLength returns a request whose body has no declared length, as
// chunked HTTP/1.1 bodies and HTTP/2 bodies without Content-Length do.
func unknownLength(body string, chunked bool) *http.Request {
	r := httptest.NewRequest("POST", "/", nil)
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), -1
	if chunked {
		r.TransferEncoding = []string{"chunked"}
	}
	return r
}

// TestRejectBody: bodies count by their content, not their framing.
func TestRejectBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *http.Request
		ok   bool
	}{
		{"no body", httptest.NewRequest("DELETE", "/", nil), true},
		{"sized body", httptest.NewRequest("DELETE", "/", strings.NewReader("x")), false},
		{"sized empty object", httptest.NewRequest("DELETE", "/", strings.NewReader("{}")), false},
		{"empty body of unknown length", unknownLength("", false), true},
		{"body of unknown length", unknownLength("x", false), false},
		{"empty chunked body", unknownLength("", true), true},
		{"chunked body", unknownLength("{}", true), false},
	} {
		err := RejectBody(tc.r)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && (!fault.Is(err, fault.Invalid) || fault.Message(err) != "this request takes no body") {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
}

// failingReader fails every read, like a connection reset mid-body.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

func TestReadBody(t *testing.T) {
	read := func(r *http.Request, maxBytes int64) (string, error) {
		var buf bytes.Buffer
		buf.WriteString("kept:")
		err := ReadBody(httptest.NewRecorder(), r, maxBytes, &buf)
		return buf.String(), err
	}
	if got, err := read(httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`)), 7); err != nil || got != `kept:{"a":1}` {
		t.Errorf("body at the limit = %q, %v", got, err)
	}
	if got, err := read(unknownLength(`{"a":1}`, true), 64); err != nil || got != `kept:{"a":1}` {
		t.Errorf("chunked body = %q, %v", got, err)
	}
	if got, err := read(httptest.NewRequest("POST", "/", nil), 64); err != nil || got != "kept:" {
		t.Errorf("no body = %q, %v", got, err)
	}
	for _, r := range []*http.Request{
		httptest.NewRequest("POST", "/", strings.NewReader(`{"a":12}`)),
		unknownLength(strings.Repeat("x", 100), true),
	} {
		_, err := read(r, 7)
		if !fault.Is(err, fault.PayloadTooLarge) || fault.Message(err) != "the request body is larger than 7 bytes" {
			t.Errorf("oversized body: %v", err)
		}
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			t.Errorf("oversized body: %v does not wrap the MaxBytesError", err)
		}
	}
	broken := unknownLength("", false)
	broken.Body = io.NopCloser(failingReader{})
	if _, err := read(broken, 64); !fault.Is(err, fault.Invalid) || fault.Message(err) != "the request body could not be read" {
		t.Errorf("broken body: %v", err)
	}
}

func TestWriteMethodNotAllowed(t *testing.T) {
	for _, method := range []string{"DELETE", "HEAD"} {
		rec := httptest.NewRecorder()
		WriteMethodNotAllowed(rec, httptest.NewRequest(method, "/v1/things", nil), []string{"GET", "HEAD", "POST"})
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD, POST" ||
			rec.Header().Get("Content-Type") != ProblemContentType {
			t.Fatalf("%s: %d %v", method, rec.Code, rec.Header())
		}
		if method == "HEAD" {
			if rec.Body.Len() != 0 {
				t.Errorf("HEAD answered with a body: %q", rec.Body.String())
			}
			continue
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Status != 405 || p.Code != "invalid" || p.Title != "Method not allowed" ||
			p.Detail != "method DELETE is not allowed for /v1/things" {
			t.Errorf("problem %+v", p)
		}
	}
}

func TestResponderWriteJSON(t *testing.T) {
	var logs bytes.Buffer
	rs := NewResponder("testapi", slog.New(slog.NewJSONHandler(&logs, nil)))
	for _, method := range []string{"GET", "HEAD"} {
		rec := httptest.NewRecorder()
		rs.WriteJSON(rec, httptest.NewRequest(method, "/", nil), http.StatusCreated, map[string]string{"html": "<b>&"})
		const want = `{"html":"<b>&"}` + "\n"
		if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" ||
			rec.Header().Get("Content-Length") != fmt.Sprint(len(want)) {
			t.Fatalf("%s: %d %v", method, rec.Code, rec.Header())
		}
		if body := rec.Body.String(); (method == "GET" && body != want) || (method == "HEAD" && body != "") {
			t.Errorf("%s: body %q", method, body)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("a successful answer was logged: %s", logs.String())
	}

	rec := httptest.NewRecorder()
	rs.WriteJSON(rec, httptest.NewRequest("GET", "/", nil), http.StatusOK, math.Inf(1))
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != ProblemContentType {
		t.Fatalf("unencodable value: %d %s", rec.Code, rec.Body.String())
	}
	var entry map[string]any
	if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if entry["msg"] != "testapi: internal error" || !strings.Contains(fmt.Sprint(entry["error"]), "testapi.encode") {
		t.Errorf("log entry %v", entry)
	}
}

// TestResponderLogging: internal errors are logged once; client errors
// never; a cancellation the client caused at debug level only, but an
// unrelated failure of an abandoned request still as an error.
func TestResponderLogging(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		err   error
		level string // "" when nothing is logged
		msg   string
	}{
		{"internal", context.Background(), errors.New("disk on fire"), "ERROR", "testapi: internal error"},
		{"client error", context.Background(), fault.New(fault.NotFound, "op", "gone"), "", ""},
		{"oversized body", context.Background(), fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 1}), "", ""},
		{"canceled by the client", canceled, fmt.Errorf("query: %w", context.Canceled), "DEBUG", "testapi: request canceled by the client"},
		{"cancellation of a live request", context.Background(), fmt.Errorf("query: %w", context.Canceled), "ERROR", "testapi: internal error"},
		{"other failure of an abandoned request", canceled, errors.New("disk on fire"), "ERROR", "testapi: internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			rs := NewResponder("testapi", slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			r := httptest.NewRequestWithContext(tc.ctx, "GET", "/v1/x", nil)
			r.Header.Set("X-Request-ID", strings.Repeat("r", 300))
			rec := httptest.NewRecorder()
			rs.WriteProblem(rec, r, tc.err)
			if want := ProblemFor(tc.err).Status; rec.Code != want {
				t.Errorf("status %d, want %d", rec.Code, want)
			}
			if tc.level == "" {
				if logs.Len() != 0 {
					t.Errorf("logged: %s", logs.String())
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("log lines = %d: %s", len(lines), logs.String())
			}
			var entry map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
				t.Fatal(err)
			}
			if entry["level"] != tc.level || entry["msg"] != tc.msg || entry["method"] != "GET" || entry["path"] != "/v1/x" ||
				entry["request_id"] != strings.Repeat("r", maxLoggedRequestID) {
				t.Errorf("log entry %v", entry)
			}
		})
	}
}

func TestNewResponderWithoutLogger(t *testing.T) {
	rec := httptest.NewRecorder()
	NewResponder("testapi", nil).WriteProblem(rec, httptest.NewRequest("GET", "/", nil), errors.New("disk on fire"))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
}

// TestResponderAuthenticate: the Responder's authentication answers like
// the package's and logs an authenticator's internal failure once.
func TestResponderAuthenticate(t *testing.T) {
	var logs bytes.Buffer
	rs := NewResponder("testapi", slog.New(slog.NewJSONHandler(&logs, nil)))
	h := rs.Authenticate(testAuthenticator(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	for token, status := range map[string]int{adminToken: 204, unknownToken: 401, downToken: 503, brokenToken: 500} {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != status {
			t.Errorf("%s: status %d, want %d", token, rec.Code, status)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "the session store exploded") {
		t.Errorf("logs: %s", logs.String())
	}
}

func TestUnescapeHTML(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":"x"}`, `{"a":"x"}`},
		{`{"a":"R\u0026D \u003cb\u003e"}`, `{"a":"R&D <b>"}`},
		// An escaped backslash before u0026 is a backslash and the text u0026.
		{`{"a":"\\u0026"}`, `{"a":"\\u0026"}`},
		{`{"a":"\\\u0026"}`, `{"a":"\\&"}`},
		// Other escapes stay.
		{`{"a":"\u0000\u2028\"\n"}`, `{"a":"\u0000\u2028\"\n"}`},
		{`"\u00`, `"\u00`},
	} {
		if got := string(unescapeHTML([]byte(tc.in))); got != tc.want {
			t.Errorf("unescapeHTML(%s) = %s, want %s", tc.in, got, tc.want)
		}
		if json.Valid([]byte(tc.in)) {
			var a, b any
			_ = json.Unmarshal([]byte(tc.in), &a)
			if err := json.Unmarshal(unescapeHTML([]byte(tc.in)), &b); err != nil || !reflect.DeepEqual(a, b) {
				t.Errorf("unescapeHTML(%s) changed the value: %v, %v", tc.in, b, err)
			}
		}
	}
}

// htmlMarshaler escapes HTML in its own output, as json.Marshal does.
type htmlMarshaler struct{ S string }

func (m htmlMarshaler) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"s": m.S})
}

// TestWriteJSONIsNotHTMLEscaped: &, < and > appear as themselves even in
// what a json.Marshaler wrote (kin-openapi's OpenAPI documents do).
func TestWriteJSONIsNotHTMLEscaped(t *testing.T) {
	rec := httptest.NewRecorder()
	NewResponder("test", nil).WriteJSON(rec, httptest.NewRequest("GET", "/", nil), 200,
		map[string]any{"plain": "R&D <b>", "marshaler": htmlMarshaler{S: "a && b > c"}})
	want := `{"marshaler":{"s":"a && b > c"},"plain":"R&D <b>"}` + "\n"
	if got := rec.Body.String(); got != want || rec.Header().Get("Content-Length") != strconv.Itoa(len(want)) {
		t.Errorf("body %q (Content-Length %s), want %q", got, rec.Header().Get("Content-Length"), want)
	}
}
