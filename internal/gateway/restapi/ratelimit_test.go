package restapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// testLimits are apilimit's defaults with specs applied, over an
// in-process limiter.
func testLimits(t testing.TB, specs ...string) *apilimit.Limits {
	t.Helper()
	cfg := apilimit.DefaultConfig()
	for _, s := range specs {
		if err := cfg.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	// The limiter's clock stands still: the answers' reset times are exact
	// however slowly the requests run.
	now := time.Now()
	l, err := apilimit.New(apilimit.Options{Config: cfg, Limiter: memory.New(func() time.Time { return now }, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// spend sends one request before the scenario's, to use up a budget.
func spend(method, path, body string, headers map[string]string, status int) func(*stack) {
	return func(s *stack) {
		s.t.Helper()
		if rec := s.do(method, path, headers, body); rec.Code != status {
			s.t.Fatalf("%s %s before the scenario: %d, want %d: %s", method, path, rec.Code, status, rec.Body)
		}
	}
}

func TestRateLimitScenarios(t *testing.T) {
	const (
		docs = "/v1/collections/posts/documents"
		p1   = docs + "/p1"
		p3   = `{"title":"Obsidian"}`
	)
	bad := map[string]string{"Authorization": "Bearer " + unknownToken}
	scenarios := []scenario{
		{name: "an allowed read carries the fields", seed: true, limits: []string{}, method: "GET", path: p1, status: 200,
			header: map[string]string{
				"RateLimit-Policy": `"read-ip";q=1000;w=4, "read-account";q=200;w=4`,
				"RateLimit":        `"read-account";r=199;t=1`,
			}},
		{name: "a write over the account's budget is refused and changes nothing", seed: true,
			limits: []string{"write:account=1/1h:1"}, setup: spend("POST", docs, `{"title":"Tuff"}`, nil, 201),
			method: "POST", path: docs + "?id=p3", body: p3, status: 429, code: "too_many_requests",
			header: map[string]string{
				"Retry-After":      "3600",
				"RateLimit-Policy": `"write-ip";q=500;w=5, "write-account";q=1;w=3600`,
				"RateLimit":        `"write-account";r=0;t=3600`,
				"ETag":             "", "Location": "",
			}, has: []string{`"status":429`, "write-account"}},
		{name: "another caller keeps its budget", seed: true,
			limits: []string{"write:account=1/1h:1"}, setup: spend("POST", docs, `{"title":"Tuff"}`, nil, 201),
			method: "POST", path: docs, body: p3, headers: map[string]string{"Authorization": "Bearer " + ownerToken},
			status: 403, code: "forbidden"}, // refused by the rules, not by the limit
		{name: "reads keep their budget when writes are used up", seed: true,
			limits: []string{"write:account=1/1h:1"}, setup: spend("POST", docs, `{"title":"Tuff"}`, nil, 201),
			method: "GET", path: p1, status: 200},
		{name: "a batch counts as a write", seed: true,
			limits: []string{"write:account=1/1h:1"}, setup: spend("POST", docs, `{"title":"Tuff"}`, nil, 201),
			method: "POST", path: "/v1/batch", body: `{"operations":[{"op":"create","collection":"posts","id":"p3","data":{"title":"x"}}]}`,
			status: 429, code: "too_many_requests"},
		{name: "a collection's own budget", seed: true,
			limits: []string{"posts.write:account=1/1h:1"}, setup: spend("DELETE", p1, "", nil, 204),
			method: "POST", path: docs + "?id=p3", body: p3, status: 429, code: "too_many_requests",
			header: map[string]string{"RateLimit": `"posts.write-account";r=0;t=3600`}},
		{name: "bad credentials over the address's budget are refused before they are checked", seed: true,
			limits: []string{"read:ip=1/1h:1"}, setup: spend("GET", p1, "", bad, 401),
			method: "GET", path: p1, headers: bad, status: 429, code: "too_many_requests",
			header: map[string]string{"WWW-Authenticate": "", "RateLimit": `"read-ip";r=0;t=3600`}},
		{name: "a rejected credential still carries the address's fields", seed: true, limits: []string{},
			method: "GET", path: p1, headers: bad, status: 401, code: "unauthenticated",
			header: map[string]string{"RateLimit": `"read-ip";r=999;t=1`, "RateLimit-Policy": `"read-ip";q=1000;w=4`}},
		{name: "search has its own class", seed: true,
			limits: []string{"search:account=1/1h:1"}, setup: spend("GET", "/v1/collections/posts/search?q=basalt", "", nil, 503),
			method: "GET", path: "/v1/collections/posts/search?q=basalt", status: 429, code: "too_many_requests"},
		{name: "event streams are the realtime class", seed: true,
			limits: []string{"realtime:account=1/1h:1"}, setup: spend("GET", docs+"/p1/events", "", nil, 503),
			method: "GET", path: docs + "/p1/events", status: 429, code: "too_many_requests",
			header: map[string]string{"RateLimit": `"realtime-account";r=0;t=3600`}},
		{name: "a limit that is off", seed: true, limits: []string{"read:ip=off", "read:account=off"},
			method: "GET", path: p1, status: 200, header: map[string]string{"RateLimit": "", "RateLimit-Policy": ""}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t)
		})
	}
}

// TestRateLimitedHead: a HEAD is a read, refused like a GET but without a
// body.
func TestRateLimitedHead(t *testing.T) {
	s := newStack(t, "read:account=1/1h:1")
	s.seedPosts()
	if rec := s.do("HEAD", "/v1/collections/posts", nil, ""); rec.Code != 200 {
		t.Fatalf("first HEAD: %d", rec.Code)
	}
	rec := s.do("HEAD", "/v1/collections/posts", nil, "")
	if rec.Code != 429 || rec.Body.Len() != 0 || rec.Header().Get("Retry-After") != "3600" {
		t.Errorf("second HEAD: %d, Retry-After %q, body %q", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

// recordingLimits is Limits that records what known told it, then
// authenticates.
type recordingLimits struct {
	asked bool
	p     auth.Principal
	ok    bool
}

func (l *recordingLimits) Admit(_ http.ResponseWriter, _ *http.Request, _ string, known func() (auth.Principal, bool), authenticate func() (auth.Principal, error)) (auth.Principal, error) {
	if known != nil {
		l.asked = true
		l.p, l.ok = known()
	}
	return authenticate()
}

// recognizer authenticates one token and recognizes it.
type recognizer struct{ auth.AuthenticatorFunc }

func (recognizer) Recognize(credential string) (auth.Principal, bool) {
	if credential == "known-token" {
		return auth.Principal{Kind: auth.KindUser, ID: "acc_known"}, true
	}
	return auth.Principal{}, false
}

// TestGuardTellsTheLimitsWhoIsKnown: the guard lets the limits decide
// both steps at once for anonymous requests and recognized credentials,
// and for nothing else.
func TestGuardTellsTheLimitsWhoIsKnown(t *testing.T) {
	authenticate := auth.AuthenticatorFunc(func(_ context.Context, cred string) (auth.Principal, error) {
		if cred == "known-token" || cred == "other-token" {
			return auth.Principal{Kind: auth.KindUser, ID: "acc_" + cred}, nil
		}
		return auth.Principal{}, fault.New(fault.Unauthenticated, "test", "no")
	})
	rec := recognizer{authenticate}
	for _, c := range []struct {
		name   string
		a      auth.Authenticator
		header []string
		want   auth.Principal
		ok     bool
	}{
		{"anonymous", rec, nil, auth.Anonymous(), true},
		{"no authenticator: a public route", nil, []string{"Bearer known-token"}, auth.Anonymous(), true},
		{"a recognized credential", rec, []string{"Bearer known-token"}, auth.Principal{Kind: auth.KindUser, ID: "acc_known"}, true},
		{"a credential not recognized", rec, []string{"Bearer other-token"}, auth.Principal{}, false},
		{"a malformed header", rec, []string{"Basic a25vd24tdG9rZW4="}, auth.Principal{}, false},
		{"two headers", rec, []string{"Bearer known-token", "Bearer known-token"}, auth.Principal{}, false},
		{"an authenticator that cannot recognize", authenticate, []string{"Bearer known-token"}, auth.Principal{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			lim := &recordingLimits{}
			h := guard("GET /v1/collections/{collection}/documents/{id}", lim, c.a, WriteProblem,
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			r := httptest.NewRequest(http.MethodGet, "/v1/collections/posts/documents/p1", nil)
			for _, v := range c.header {
				r.Header.Add("Authorization", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if !lim.asked || lim.ok != c.ok || lim.p.Kind != c.want.Kind || lim.p.ID != c.want.ID {
				t.Errorf("known() = %+v, %v (asked %v); want %+v, %v", lim.p, lim.ok, lim.asked, c.want, c.ok)
			}
		})
	}
}
