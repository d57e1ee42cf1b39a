package authapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/auth/accounts/accountstest"
	"github.com/basaltdev/basalt/internal/auth/password"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// stack is the real account API of one test: authapi over the account
// service over a fresh SQLite database.
type stack struct {
	t       testing.TB
	clock   *accountstest.Clock
	mail    *accountstest.Mailbox
	svc     *accounts.Service
	handler http.Handler
	logs    *bytes.Buffer

	mu        sync.Mutex
	responses []exchange // every answer, to look for leaked secrets
}

// exchange is one request path and the answer it got.
type exchange struct {
	method, path string
	status       int
	body         string
}

const testPassword = "correct horse battery"

type stackOption func(*accounts.Options, *Options)

func newStack(t testing.TB, tune ...stackOption) *stack {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db"), Synchronous: "normal"})
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	hasher, err := password.New(password.Params{Memory: password.MinMemoryKiB, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 4)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, clock: accountstest.NewClock(), mail: &accountstest.Mailbox{}, logs: new(bytes.Buffer)}
	svcOpts := accounts.Options{
		Now:           s.clock.Now,
		Hasher:        hasher,
		Mail:          s.mail,
		DerivationKey: []byte("0123456789abcdef0123456789abcdef"),
		Limiter:       memory.New(s.clock.Now, 10_000),
		LoginPerIP:    ratelimit.Limit{Rate: 1000, Burst: 1000},
		LoginPerEmail: ratelimit.Limit{Rate: 1000, Burst: 1000},
	}
	apiOpts := Options{
		Logger:       slog.New(slog.NewJSONHandler(s.logs, nil)),
		MaxBodyBytes: 2048,
	}
	for _, fn := range tune {
		fn(&svcOpts, &apiOpts)
	}
	s.svc, err = accounts.NewService(store, svcOpts)
	if err != nil {
		t.Fatalf("accounts.NewService: %v", err)
	}
	if err := s.svc.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.svc.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	mux := http.NewServeMux()
	New(s.svc, apiOpts).Register(mux)
	s.handler = mux
	return s
}

// request is one HTTP request to the stack.
type request struct {
	method, path string
	body         string            // sent as application/json unless headers say otherwise
	bearer       string            // Authorization: Bearer …
	headers      map[string]string // "" deletes a header
	remoteAddr   string
}

func (s *stack) do(req request) *httptest.ResponseRecorder {
	s.t.Helper()
	var rd io.Reader
	if req.body != "" {
		rd = strings.NewReader(req.body)
	}
	r := httptest.NewRequestWithContext(s.t.Context(), req.method, req.path, rd)
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+req.bearer)
	}
	r.Header.Set("User-Agent", "authapi-test/1.0")
	for k, v := range req.headers {
		if v == "" {
			r.Header.Del(k)
			continue
		}
		r.Header.Set(k, v)
	}
	if req.remoteAddr != "" {
		r.RemoteAddr = req.remoteAddr
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, r)
	s.mu.Lock()
	s.responses = append(s.responses, exchange{req.method, req.path, rec.Code, rec.Body.String()})
	s.mu.Unlock()
	return rec
}

// expect sends req and fails the test unless the status is want.
func (s *stack) expect(req request, want int) *httptest.ResponseRecorder {
	s.t.Helper()
	rec := s.do(req)
	if rec.Code != want {
		s.t.Fatalf("%s %s: status %d, want %d; body %s", req.method, req.path, rec.Code, want, rec.Body.String())
	}
	if want >= 400 {
		assertProblem(s.t, rec)
	}
	return rec
}

// decodeJSON decodes the body of rec into a new T.
func decodeJSON[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body.String(), err)
	}
	return v
}

// assertProblem checks that rec is an RFC 9457 problem that matches its
// status.
func assertProblem(t testing.TB, rec *httptest.ResponseRecorder) restapi.Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != restapi.ProblemContentType {
		t.Fatalf("status %d with Content-Type %q: %s", rec.Code, ct, rec.Body.String())
	}
	var p restapi.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body.String(), err)
	}
	if p.Status != rec.Code || p.Code == "" || p.Type != "urn:basalt:problem:"+p.Code {
		t.Fatalf("problem %+v does not match status %d", p, rec.Code)
	}
	return p
}

// tokens is the decoded answer of a login or a refresh.
type tokens struct {
	AccessToken           string `json:"accessToken"`
	TokenType             string `json:"tokenType"`
	ExpiresIn             int64  `json:"expiresIn"`
	AccessTokenExpiresAt  string `json:"accessTokenExpiresAt"`
	RefreshToken          string `json:"refreshToken"`
	RefreshTokenExpiresAt string `json:"refreshTokenExpiresAt"`
	Session               struct {
		ID        string  `json:"id"`
		Device    string  `json:"device"`
		UserAgent string  `json:"userAgent"`
		IP        string  `json:"ip"`
		RevokedAt *string `json:"revokedAt"`
		Current   bool    `json:"current"`
	} `json:"session"`
}

// signUp creates and verifies an account through the API.
func (s *stack) signUp(email string) {
	s.t.Helper()
	s.expect(request{method: "POST", path: "/v1/auth/signup", body: `{"email":"` + email + `","password":"` + testPassword + `"}`}, 202)
	tok := s.mail.Token(s.t, email, "Verify")
	s.expect(request{method: "POST", path: "/v1/auth/verify", body: `{"token":"` + tok + `"}`}, 204)
}

// login logs in through the API.
func (s *stack) login(email, pw string) tokens {
	s.t.Helper()
	rec := s.expect(request{method: "POST", path: "/v1/auth/login",
		body: `{"email":"` + email + `","password":"` + pw + `","device":"laptop"}`}, 200)
	return decodeJSON[tokens](s.t, rec)
}

// user signs up, verifies and logs in a user.
func (s *stack) user(email string) tokens {
	s.t.Helper()
	s.signUp(email)
	return s.login(email, testPassword)
}

// admin creates an admin account with the operator's principal and logs it
// in through the API.
func (s *stack) admin() tokens {
	s.t.Helper()
	ctx := auth.WithPrincipal(s.t.Context(), auth.System())
	_, err := s.svc.CreateAccount(ctx, accounts.NewAccount{Email: "root@example.com", Password: testPassword,
		Roles: []string{auth.RoleAdmin}, Verified: true})
	if err != nil {
		s.t.Fatalf("CreateAccount(admin): %v", err)
	}
	return s.login("root@example.com", testPassword)
}

// leaked returns the answers whose body contains secret, except those
// for which allowed is true.
func (s *stack) leaked(secret string, allowed func(exchange) bool) []exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []exchange
	for _, e := range s.responses {
		if strings.Contains(e.body, secret) && (allowed == nil || !allowed(e)) {
			out = append(out, e)
		}
	}
	return out
}

// trust makes the API believe X-Forwarded-For from prefixes.
func trust(prefixes ...string) stackOption {
	return func(_ *accounts.Options, o *Options) {
		for _, p := range prefixes {
			o.TrustedProxies = append(o.TrustedProxies, netip.MustParsePrefix(p))
		}
	}
}

// sortedCopy returns a sorted copy of ss.
func sortedCopy(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}
