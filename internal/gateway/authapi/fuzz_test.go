package authapi

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAuthRequests sends arbitrary bodies and media types, anonymously and
// as an admin, to every route that takes a body: every answer must be below
// 500, and every error a problem.
func FuzzAuthRequests(f *testing.F) {
	for _, rt := range postRoutes {
		f.Add(rt.body, "")
	}
	f.Add(`{"email":"ada@example.com","password":"`+testPassword+`","device":"\ud83d\ude00"}`, "application/json; charset=utf-8")
	f.Add(`{"roles":["admin"],"disabled":false}`, "application/merge-patch+json")
	f.Add(`{"name":"k","scopes":["*:*"],"expiresAt":"2999-01-01T00:00:00Z","roles":[]}`, "")
	f.Add(`{"expiresAt":"0000-01-01T00:00:00Z","name":"`+strings.Repeat("n", 200)+`","scopes":["a:b"]}`, "")
	f.Add(`{"email":"a@b","email":"c@d"}`, "")
	f.Add("{\"token\":\"\xff\"}", "text/plain")
	f.Add(`{"refreshToken":"bsr_`+strings.Repeat("A", 43)+`"}`, "")
	f.Add(`{"a":[[[[[[[[1]]]]]]]]}`, "")
	s := newStack(f)
	as := s.admin().AccessToken
	s.signUp("ada@example.com")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		if contentType == "" {
			contentType = "application/json"
		}
		for _, rt := range postRoutes {
			for _, bearer := range []string{"", as} {
				if bearer != "" && (rt.path == "/v1/auth/logout" || rt.path == "/v1/auth/me") {
					continue // would end the admin's session for the next inputs
				}
				r := httptest.NewRequestWithContext(t.Context(), rt.method, rt.path, strings.NewReader(body))
				r.Header.Set("Content-Type", contentType)
				if bearer != "" {
					r.Header.Set("Authorization", "Bearer "+bearer)
				}
				rec := httptest.NewRecorder()
				s.handler.ServeHTTP(rec, r)
				if rec.Code >= 500 {
					t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, rec.Code, rec.Body.String())
				}
				if rec.Code >= 400 {
					assertProblem(t, rec)
				} else if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
					t.Fatalf("%s %s: body is not JSON: %q", rt.method, rt.path, rec.Body.String())
				}
			}
		}
	})
}
