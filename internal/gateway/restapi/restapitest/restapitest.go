// Package restapitest holds what the tests of the REST transports share:
// sending a request and reading its answer whole, and building a caller's
// OpenAPI document, checked to be valid OpenAPI 3.1, and holding it
// against the routes.
package restapitest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// Answer is an HTTP answer, read whole.
type Answer struct {
	Status int
	Header http.Header
	// Body is the answer decoded as a JSON object; nil when it is not one.
	Body map[string]any
	Raw  string
}

// Do sends method path to srv with body (as application/json; none when
// empty) and bearer as the credential (none when empty), and returns the
// answer.
func Do(t testing.TB, srv *httptest.Server, bearer, method, path, body string) Answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := Answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

// Describe builds the OpenAPI document of describers (and of no
// collection) as p sees it, checks that it is valid OpenAPI 3.1 once
// written and read again, and returns what was read.
func Describe(t testing.TB, p auth.Principal, describers ...restapi.OpenAPIDescriber) *openapi3.T {
	t.Helper()
	doc, err := restapi.BuildOpenAPI(auth.WithPrincipal(t.Context(), p), docstore.Catalog{}, describers...)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Validate(t.Context(), openapi3.IsOpenAPI31OrLater()); err != nil {
		t.Fatalf("invalid OpenAPI: %v", err)
	}
	return loaded
}

// CheckDescribed fails t unless allowed describes every route of patterns
// ("METHOD /path") with a summary, a description and a security, and
// denied describes none of their paths.
func CheckDescribed(t testing.TB, allowed, denied *openapi3.T, patterns []string) {
	t.Helper()
	for _, pattern := range patterns {
		method, path, _ := strings.Cut(pattern, " ")
		item := allowed.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s is not described", pattern)
			continue
		}
		if op := item.GetOperation(method); op.Summary == "" || op.Description == "" || op.Security == nil {
			t.Errorf("%s: summary %q, description %q", pattern, op.Summary, op.Description)
		}
		if denied.Paths.Find(path) != nil {
			t.Errorf("%s is described to a user", pattern)
		}
	}
}

// Authenticator knows the bearer credentials "admin" (an admin account,
// a1), "user" (an account without roles, u1) and those of more; any other
// is unauthenticated.
func Authenticator(more map[string]auth.Principal) auth.Authenticator {
	return auth.AuthenticatorFunc(func(_ context.Context, cred string) (auth.Principal, error) {
		switch cred {
		case "admin":
			return auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}}, nil
		case "user":
			return auth.Principal{Kind: auth.KindUser, ID: "u1"}, nil
		}
		if p, ok := more[cred]; ok {
			return p, nil
		}
		return auth.Principal{}, fault.New(fault.Unauthenticated, "test", "unknown credential")
	})
}
