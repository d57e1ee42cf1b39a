package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	for _, k := range []fault.Kind{fault.Internal, fault.Invalid, fault.Validation, fault.Unauthenticated,
		fault.Forbidden, fault.NotFound, fault.Conflict, fault.PreconditionFailed, fault.NotModified,
		fault.PayloadTooLarge, fault.UnsupportedMedia, fault.IdempotencyMismatch, fault.TooManyRequests, fault.Unavailable} {
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
		want := `{"type":"urn:basalt:problem:validation","title":"The document does not match the schema","status":400,` +
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
