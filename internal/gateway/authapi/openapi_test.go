package authapi

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/gateway/restapi/restapitest"
)

// describe builds the OpenAPI document of this package's routes as p sees
// it, checks that it is valid OpenAPI 3.1, and returns it.
func describe(t *testing.T, p auth.Principal) *openapi3.T {
	t.Helper()
	return restapitest.Describe(t, p, DescribeOpenAPI)
}

// TestDescribeOpenAPI checks that an admin's document describes every
// route of the package, that other callers see only the routes they may
// use, and that the views the handlers answer with match the schemas.
func TestDescribeOpenAPI(t *testing.T) {
	admin := describe(t, auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})
	for _, pattern := range RoutePatterns() {
		method, path, _ := strings.Cut(pattern, " ")
		item := admin.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s is not described", pattern)
			continue
		}
		if op := item.GetOperation(method); op.Summary == "" || op.Description == "" || op.Security == nil {
			t.Errorf("%s: summary %q, description %q, security %v", pattern, op.Summary, op.Description, op.Security)
		}
	}
	has := func(doc *openapi3.T, path, method string) bool {
		item := doc.Paths.Find(path)
		return item != nil && item.GetOperation(method) != nil
	}
	for name, c := range map[string]struct {
		p                  auth.Principal
		own, admin, apiKey bool
	}{
		"anonymous": {p: auth.Anonymous(), own: true},
		"user":      {p: auth.Principal{Kind: auth.KindUser, ID: "u1"}, own: true},
		"key":       {p: auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Scopes: []string{"*:*"}}},
		"admin key": {p: auth.Principal{Kind: auth.KindAPIKey, ID: "k2", Roles: []string{auth.RoleAdmin},
			Scopes: []string{auth.ScopeAdminAPIKeys}}, apiKey: true},
	} {
		doc := describe(t, c.p)
		for _, public := range []string{"/v1/auth/signup", "/v1/auth/login", "/v1/auth/refresh", "/v1/auth/verify"} {
			if !has(doc, public, "POST") {
				t.Errorf("%s: no POST %s", name, public)
			}
		}
		if !has(doc, JWKSPath, "GET") {
			t.Errorf("%s: no JWKS", name)
		}
		if got := has(doc, "/v1/auth/me", "GET"); got != c.own {
			t.Errorf("%s: getMe shown: %v", name, got)
		}
		if got := has(doc, "/v1/admin/accounts", "GET"); got != c.admin {
			t.Errorf("%s: listAccounts shown: %v", name, got)
		}
		if got := has(doc, "/v1/admin/api-keys", "POST"); got != c.apiKey {
			t.Errorf("%s: createAPIKey shown: %v", name, got)
		}
		if public := doc.Paths.Find("/v1/auth/login").Post.Security; public == nil || len(*public) != 0 {
			t.Errorf("%s: login security %v, want none", name, public)
		}
	}

	// The answers of the handlers match their schemas.
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	session := accounts.Session{ID: "s1", Device: "laptop", CreatedAt: now, LastUsedAt: now, ExpiresAt: now}
	key := accounts.APIKey{ID: "k1", Name: "ci", Prefix: "bsk_ab", Scopes: []string{"*:read"}, CreatedAt: now, CreatedBy: "a1"}
	for schema, v := range map[string]any{
		"Account":        viewAccount(accounts.Account{ID: "a1", Email: "a@example.test", CreatedAt: now, UpdatedAt: now, VerifiedAt: now}),
		"AccountPage":    pageView[accountView]{Items: []accountView{viewAccount(accounts.Account{ID: "a1", CreatedAt: now, UpdatedAt: now})}},
		"Tokens":         viewTokens(accounts.Tokens{AccessToken: "t", TokenType: "Bearer", ExpiresIn: 900, AccessExpiresAt: now, RefreshExpiresAt: now, Session: session}),
		"SessionList":    itemsView[sessionView]{Items: viewSessions([]accounts.Session{session, {ID: "s2", RevokedAt: now, RevokeReason: "logout"}}, "s1")},
		"APIKeyList":     itemsView[apiKeyView]{Items: []apiKeyView{viewAPIKey(key)}},
		"NewAPIKey":      newAPIKeyView{apiKeyView: viewAPIKey(key), Key: "bsk_secret"},
		"SigningKeyList": itemsView[signingKeyView]{Items: []signingKeyView{viewSigningKey(accounts.SigningKey{ID: "kid1", CreatedAt: now})}},
	} {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var decoded any
		if err := json.Unmarshal(raw, &decoded); err != nil {
			t.Fatal(err)
		}
		if err := admin.Components.Schemas[schema].Value.VisitJSON(decoded, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s does not match schema %s: %v", raw, schema, err)
		}
	}
}

// unknownMember finds, in a problem, the members a handler accepts (see
// object.done).
var unknownMember = regexp.MustCompile(`unknown member \\"zzz\\" \(expected ([^)]*)\)`)

// TestOpenAPIRequestSchemas sends every described request body a member
// the handler does not know, and checks that the members the handler
// names as accepted are exactly the properties of the described schema.
func TestOpenAPIRequestSchemas(t *testing.T) {
	s := newStack(t)
	admin := s.admin()
	doc := describe(t, auth.Principal{Kind: auth.KindUser, ID: "a1", Roles: []string{auth.RoleAdmin}})
	checked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			schema := op.RequestBody.Value.Content.Get("application/json").Schema
			props := doc.Components.Schemas[strings.TrimPrefix(schema.Ref, "#/components/schemas/")].Value.Properties
			want := slices.Sorted(maps.Keys(props))
			rec := s.do(request{method: method, path: strings.ReplaceAll(path, "{id}", "x"), body: `{"zzz":1}`, bearer: admin.AccessToken})
			m := unknownMember.FindStringSubmatch(rec.Body.String())
			if rec.Code != 400 || m == nil {
				t.Errorf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
				continue
			}
			got := []string{}
			if m[1] != "no members" {
				got = strings.Split(m[1], ", ")
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s (%s): the handler accepts %v, the schema describes %v", method, path, op.OperationID, got, want)
			}
			checked++
		}
	}
	if checked < 15 {
		t.Errorf("only %d request bodies checked", checked)
	}
}
