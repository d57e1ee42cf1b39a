package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
)

func TestProblemMapping(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fault.New(fault.Invalid, "op", "bad"), 400, "invalid"},
		{fault.New(fault.Validation, "op", "bad"), 400, "validation"},
		{fault.New(fault.Unauthenticated, "op", "who"), 401, "unauthenticated"},
		{fault.New(fault.Forbidden, "op", "no"), 403, "forbidden"},
		{fault.New(fault.NotFound, "op", "gone"), 404, "not_found"},
		{fault.New(fault.Conflict, "op", "taken"), 409, "conflict"},
		{fault.New(fault.PreconditionFailed, "op", "stale"), 412, "precondition_failed"},
		{fault.New(fault.PayloadTooLarge, "op", "big"), 413, "payload_too_large"},
		{fault.New(fault.UnsupportedMedia, "op", "xml"), 415, "unsupported_media_type"},
		{fault.New(fault.IdempotencyMismatch, "op", "other"), 422, "idempotency_mismatch"},
		{fault.New(fault.TooManyRequests, "op", "slow down"), 429, "too_many_requests"},
		{fault.New(fault.Internal, "op", "secret"), 500, "internal"},
		{fault.New(fault.Unavailable, "op", "later"), 503, "unavailable"},
		{fault.New(fault.Kind("made_up"), "op", "x"), 500, "internal"},
		{errors.New("driver: disk on fire"), 500, "internal"},
		{fmt.Errorf("reading: %w", &http.MaxBytesError{Limit: 10}), 413, "payload_too_large"},
		{fmt.Errorf("wrapped: %w", fault.New(fault.NotFound, "op", "gone")), 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.code+"/"+tc.err.Error(), func(t *testing.T) {
			p := ProblemFor(tc.err)
			if p.Status != tc.status || p.Code != tc.code || p.Type != "urn:basalt:problem:"+tc.code || p.Title == "" {
				t.Fatalf("ProblemFor = %+v, want %d %s", p, tc.status, tc.code)
			}
			if tc.status == 500 && (p.Detail != genericInternalDetail || p.Errors != nil) {
				t.Errorf("internal detail leaks: %+v", p)
			}
		})
	}
}

// TestEveryKindIsMapped guards the one mapping: every fault kind has a
// status, and only unknown kinds fall back to 500.
func TestEveryKindIsMapped(t *testing.T) {
	for _, k := range fault.Kinds() {
		if _, ok := kinds[k]; !ok {
			t.Errorf("kind %q has no HTTP mapping", k)
		}
	}
}

func TestWriteProblem(t *testing.T) {
	t.Run("validation fields", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rec.Header().Set("ETag", `"3"`)
		err := &fault.Error{Kind: fault.Validation, Op: "docstore.Create", Msg: "does not match",
			Fields: []fault.FieldError{{Pointer: "/data/title", Message: "is required"}}}
		WriteProblem(rec, httptest.NewRequest("POST", "/v1/x", nil), err)
		want := `{"type":"urn:basalt:problem:validation","title":"Members of the request are not valid","status":400,` +
			`"code":"validation","detail":"does not match","errors":[{"pointer":"/data/title","message":"is required"}]}`
		if got := rec.Body.String(); got != want {
			t.Errorf("body\n%s\nwant\n%s", got, want)
		}
		if rec.Header().Get("ETag") != "" || rec.Header().Get("Content-Type") != ProblemContentType {
			t.Errorf("headers %v", rec.Header())
		}
	})
	t.Run("unavailable has Retry-After", func(t *testing.T) {
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest("GET", "/", nil), fault.New(fault.Unavailable, "op", "db down"))
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("%d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
	})
	t.Run("not modified has no body", func(t *testing.T) {
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest("GET", "/", nil), fault.New(fault.NotModified, "op", ""))
		if rec.Code != 304 || rec.Body.Len() != 0 {
			t.Errorf("%d %q", rec.Code, rec.Body.String())
		}
	})
	t.Run("not found handler", func(t *testing.T) {
		rec := httptest.NewRecorder()
		NotFoundHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/nowhere", nil))
		assertProblem(t, rec, "not_found")
	})
}

// TestInternalErrorsAreLoggedOnce checks that the detail of an internal
// error reaches the log once, with the request id, and never the client.
func TestInternalErrorsAreLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	a := New(nil, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	req := httptest.NewRequest("GET", "/v1/collections", nil)
	req.Header.Set("X-Request-ID", "req-42")
	rec := httptest.NewRecorder()
	a.WriteProblem(rec, req, fmt.Errorf("query: %w", errors.New("SQLITE_CORRUPT page 7")))
	if strings.Contains(rec.Body.String(), "SQLITE") {
		t.Errorf("detail leaked to the client: %s", rec.Body.String())
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("log lines = %d: %s", len(lines), logs.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatal(err)
	}
	if entry["request_id"] != "req-42" || !strings.Contains(fmt.Sprint(entry["error"]), "SQLITE_CORRUPT") || entry["level"] != "ERROR" {
		t.Errorf("log entry %v", entry)
	}
	logs.Reset()
	a.WriteProblem(httptest.NewRecorder(), req, fault.New(fault.NotFound, "op", "gone"))
	if logs.Len() != 0 {
		t.Errorf("client error was logged: %s", logs.String())
	}
}

func TestWriteStatusProblem(t *testing.T) {
	tests := []struct {
		status      int
		detail      string
		code, title string
		wantDetail  string
	}{
		{400, "malformed Host header", "invalid", "The request is invalid", "malformed Host header"},
		{404, "no route matches /x", "not_found", "Not found", "no route matches /x"},
		{431, "", "payload_too_large", "Request Header Fields Too Large", "Request Header Fields Too Large"},
		{414, "the URL is too long", "payload_too_large", "Request URI Too Long", "the URL is too long"},
		{501, "unsupported transfer encoding", "invalid", "Not Implemented", "unsupported transfer encoding"},
		{505, "", "invalid", "HTTP Version Not Supported", "HTTP Version Not Supported"},
		{418, "", "invalid", "I'm a teapot", "I'm a teapot"},
		{500, "the secret is 42", "internal", "Internal server error", genericInternalDetail},
		{503, "draining", "unavailable", "The service is unavailable", "draining"},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		WriteStatusProblem(rec, httptest.NewRequest("GET", "/", nil), tc.status, tc.detail)
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("%d: %v %s", tc.status, err, rec.Body)
		}
		if rec.Code != tc.status || p.Status != tc.status || p.Code != tc.code || p.Title != tc.title || p.Detail != tc.wantDetail ||
			p.Type != "urn:basalt:problem:"+tc.code || rec.Header().Get("Content-Type") != ProblemContentType {
			t.Errorf("%d %q: answered %d %+v %v", tc.status, tc.detail, rec.Code, p, rec.Header())
		}
	}
}

// TestProblemTitles checks the title of every problem type Basalt emits:
// the type named like each kind, and each type that shares a kind with
// others. Each title is its own and names its own problem.
func TestProblemTitles(t *testing.T) {
	tests := []struct {
		err        error
		typ, title string
		status     int
		code       fault.Kind
	}{
		{fault.New(fault.Invalid, "op", "x"), "invalid", "The request is invalid", 400, fault.Invalid},
		{fault.New(fault.Validation, "op", "x"), "validation", "Members of the request are not valid", 400, fault.Validation},
		{fault.New(fault.Unauthenticated, "op", "x"), "unauthenticated", "The request is not authenticated", 401, fault.Unauthenticated},
		{fault.New(fault.Forbidden, "op", "x"), "forbidden", "The request is not allowed", 403, fault.Forbidden},
		{fault.New(fault.NotFound, "op", "x"), "not_found", "Not found", 404, fault.NotFound},
		{fault.New(fault.Conflict, "op", "x"), "conflict", "The request conflicts with the current state", 409, fault.Conflict},
		{fault.New(fault.PreconditionFailed, "op", "x"), "precondition_failed", "A precondition failed", 412, fault.PreconditionFailed},
		{fault.New(fault.PayloadTooLarge, "op", "x"), "payload_too_large", "The request is too large", 413, fault.PayloadTooLarge},
		{fault.New(fault.UnsupportedMedia, "op", "x"), "unsupported_media_type", "The media type is not supported", 415, fault.UnsupportedMedia},
		{fault.New(fault.IdempotencyMismatch, "op", "x"), "idempotency_mismatch", "The idempotency key was used for a different request", 422, fault.IdempotencyMismatch},
		{fault.New(fault.TooManyRequests, "op", "x"), "too_many_requests", "Too many requests", 429, fault.TooManyRequests},
		{fault.New(fault.Internal, "op", "x"), "internal", "Internal server error", 500, fault.Internal},
		{fault.New(fault.Unavailable, "op", "x"), "unavailable", "The service is unavailable", 503, fault.Unavailable},
		{&fault.Error{Kind: fault.Forbidden, Type: fault.TypeSignupClosed}, "signup_closed", "Sign-up is closed", 403, fault.Forbidden},
		{&fault.Error{Kind: fault.Forbidden, Type: fault.TypeInviteRequired}, "invite_required", "Sign-up needs an invitation", 403, fault.Forbidden},
		{&fault.Error{Kind: fault.Forbidden, Type: fault.TypeInviteInvalid}, "invite_invalid", "The invitation is not valid", 403, fault.Forbidden},
		// An Internal error wrapping a typed one is internal, type and all.
		{fault.Internalf("op", &fault.Error{Kind: fault.Forbidden, Type: fault.TypeSignupClosed}), "internal", "Internal server error", 500, fault.Internal},
	}
	covered := map[string]bool{}
	titles := map[string]string{}
	for _, tc := range tests {
		p := ProblemFor(tc.err)
		if p.Type != "urn:basalt:problem:"+tc.typ || p.Title != tc.title || p.Status != tc.status || p.Code != string(tc.code) {
			t.Errorf("ProblemFor(%v) = type %q, title %q, status %d, code %q; want %q, %q, %d, %q",
				tc.err, p.Type, p.Title, p.Status, p.Code, tc.typ, tc.title, tc.status, tc.code)
		}
		if other, ok := titles[tc.title]; ok && other != tc.typ {
			t.Errorf("types %q and %q share the title %q", other, tc.typ, tc.title)
		}
		titles[tc.title], covered[tc.typ] = tc.typ, true
	}
	for k := range kinds {
		if k != fault.NotModified && !covered[string(k)] {
			t.Errorf("the title of type %q is not tested", k)
		}
	}
	for _, typ := range fault.Types() {
		if _, ok := typeTitles[typ]; !ok || !covered[typ] {
			t.Errorf("problem type %q has no title, or an untested one", typ)
		}
	}
}

// TestProblemsAreNotHTMLEscaped: &, < and > in a detail and a pointer
// appear as themselves, not as \u0026, \u003c, \u003e.
func TestProblemsAreNotHTMLEscaped(t *testing.T) {
	rec := httptest.NewRecorder()
	err := &fault.Error{Kind: fault.Invalid, Op: "op", Msg: `filter "a < 1 && b > 2" is invalid`,
		Fields: []fault.FieldError{{Pointer: "/R&D", Message: "<is> & <was>"}}}
	WriteProblem(rec, httptest.NewRequest("GET", "/v1/x", nil), err)
	body := rec.Body.String()
	for _, want := range []string{`"detail":"filter \"a < 1 && b > 2\" is invalid"`, `"pointer":"/R&D"`, `"message":"<is> & <was>"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, `\u00`) || !json.Valid(rec.Body.Bytes()) || strings.HasSuffix(body, "\n") {
		t.Errorf("body is escaped, invalid or ends in a newline: %q", body)
	}
	if rec.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %s for %d bytes", rec.Header().Get("Content-Length"), len(body))
	}
}

// TestDocumentsAreNotHTMLEscaped: a document's data, read alone or in a
// list, keeps &, < and > as they were written.
func TestDocumentsAreNotHTMLEscaped(t *testing.T) {
	s := newStack(t)
	s.seedPosts()
	const title = `"title":"R&D <b>notes</b>"`
	if rec := s.do("POST", "/v1/collections/posts/documents?id=amp", nil, `{`+title+`}`); rec.Code != 201 || !strings.Contains(rec.Body.String(), title) {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/v1/collections/posts/documents/amp", "/v1/collections/posts/documents?sort=title", "/v1/collections/posts"} {
		rec := s.do("GET", path, nil, "")
		if rec.Code != 200 || strings.Contains(rec.Body.String(), `\u00`) {
			t.Errorf("GET %s: %d, HTML-escaped: %s", path, rec.Code, rec.Body)
		}
		if path != "/v1/collections/posts" && !strings.Contains(rec.Body.String(), title) {
			t.Errorf("GET %s lacks %s: %s", path, title, rec.Body)
		}
	}
}
