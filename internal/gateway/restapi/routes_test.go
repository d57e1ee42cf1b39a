package restapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestRegisterRoutes(t *testing.T) {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }
	routes := []Route{
		{Method: "GET", Path: "/things", Handler: ok},
		{Method: "POST", Path: "/things", Handler: ok},
		{Method: "DELETE", Path: "/things/{id}", Handler: ok},
	}
	if got, want := Patterns(routes), []string{"GET /things", "POST /things", "DELETE /things/{id}"}; !slices.Equal(got, want) {
		t.Fatalf("Patterns = %q, want %q", got, want)
	}
	mux := http.NewServeMux()
	wrapped := 0
	RegisterRoutes(mux, routes, func(h http.Handler) http.Handler {
		wrapped++
		return NoStore(h)
	})
	if wrapped != len(routes) {
		t.Fatalf("wrap called %d times, want %d", wrapped, len(routes))
	}
	tests := []struct {
		method, path string
		status       int
		allow        string
		noStore      bool
	}{
		{"GET", "/things", http.StatusTeapot, "", true},
		{"HEAD", "/things", http.StatusTeapot, "", true},
		{"POST", "/things", http.StatusTeapot, "", true},
		{"PUT", "/things", http.StatusMethodNotAllowed, "GET, HEAD, POST", false},
		{"DELETE", "/things/7", http.StatusTeapot, "", true},
		{"GET", "/things/7", http.StatusMethodNotAllowed, "DELETE", false},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status || w.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d, Allow %q; want %d, Allow %q", tt.method, tt.path, w.Code, w.Header().Get("Allow"), tt.status, tt.allow)
		}
		if got := w.Header().Get("Cache-Control") == "no-store"; got != tt.noStore {
			t.Errorf("%s %s: Cache-Control %q", tt.method, tt.path, w.Header().Get("Cache-Control"))
		}
		if tt.status == http.StatusMethodNotAllowed && w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: Content-Type %q, want a problem", tt.method, tt.path, w.Header().Get("Content-Type"))
		}
	}

	plain := http.NewServeMux()
	RegisterRoutes(plain, routes[:1], nil)
	w := httptest.NewRecorder()
	plain.ServeHTTP(w, httptest.NewRequest("GET", "/things", nil))
	if w.Code != http.StatusTeapot || w.Header().Get("Cache-Control") != "" {
		t.Errorf("nil wrap: %d, Cache-Control %q", w.Code, w.Header().Get("Cache-Control"))
	}
}

func TestPathTarget(t *testing.T) {
	tests := []struct {
		name, target, body string
		id                 string
		status             int
	}{
		{"plain", "/things/7", "", "7", 0},
		{"query", "/things/7?x=1", "", "", http.StatusBadRequest},
		{"body", "/things/7", "{}", "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				id  string
				err error
			)
			mux := http.NewServeMux()
			mux.HandleFunc("DELETE /things/{id}", func(_ http.ResponseWriter, r *http.Request) {
				id, err = PathTarget(r, "id")
			})
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", tt.target, strings.NewReader(tt.body)))
			if tt.status == 0 {
				if err != nil || id != tt.id {
					t.Fatalf("PathTarget = %q, %v; want %q", id, err, tt.id)
				}
				return
			}
			if got := ProblemFor(err).Status; got != tt.status {
				t.Fatalf("PathTarget error %v: status %d, want %d", err, got, tt.status)
			}
		})
	}
}
