package apilimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// clock is a settable time for the limiter and the log throttle.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newClock() *clock { return &clock{t: time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)} }

// failing is a Limiter whose store is down.
type failing struct{ calls int }

func (f *failing) Allow(context.Context, string, ratelimit.Limit, int) (ratelimit.Decision, error) {
	f.calls++
	return ratelimit.Decision{}, errors.New("redis: connection refused")
}

// fixture is Limits over a memory limiter on a fake clock, with the given
// specs over DefaultConfig.
type fixture struct {
	*apilimit.Limits
	clock *clock
	reg   *prometheus.Registry
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, lim ratelimit.Limiter, specs ...string) *fixture {
	t.Helper()
	cfg := apilimit.DefaultConfig()
	for _, s := range specs {
		if err := cfg.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	c := newClock()
	if lim == nil {
		lim = memory.New(c.now, 1000)
	}
	reg := prometheus.NewPedanticRegistry()
	logs := &bytes.Buffer{}
	l, err := apilimit.New(apilimit.Options{Config: cfg, Limiter: lim, Now: c.now, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{Limits: l, clock: c, reg: reg, logs: logs}
}

// call is one request through Admit: its route, collection, address and
// caller.
type call struct {
	route, collection, ip string
	p                     auth.Principal
}

// result is what Admit answered.
type result struct {
	err           error
	authenticated bool // Admit called authenticate
	header        http.Header
}

func (f *fixture) do(c call) result {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = c.ip + ":4711"
	if c.collection != "" {
		r.SetPathValue("collection", c.collection)
	}
	w := httptest.NewRecorder()
	var res result
	p, err := f.Admit(w, r, c.route, func() (auth.Principal, error) {
		res.authenticated = true
		return c.p, nil
	})
	res.err, res.header = err, w.Header()
	if err == nil && (p.Kind != c.p.Kind || p.ID != c.p.ID) {
		res.err = errors.New("Admit returned another principal")
	}
	return res
}

// allowed counts the calls Admit lets through before the first refusal
// (at most limit).
func (f *fixture) allowed(c call, limit int) int {
	for i := range limit {
		if f.do(c).err != nil {
			return i
		}
	}
	return limit
}

const (
	readRoute  = "GET /v1/collections/{collection}/documents/{id}"
	writeRoute = "POST /v1/collections/{collection}/documents"
	loginRoute = "POST /v1/auth/login"
)

var (
	alice  = auth.Principal{Kind: auth.KindUser, ID: "acc_alice"}
	bob    = auth.Principal{Kind: auth.KindUser, ID: "acc_bob"}
	apiKey = auth.Principal{Kind: auth.KindAPIKey, ID: "key_1", Account: "acc_alice"}
	anon   = auth.Anonymous()
)

// TestKeys: each caller has its own budget, chosen by who they are:
// anonymous callers by address, users by account, services by API key.
func TestKeys(t *testing.T) {
	f := newFixture(t, nil, "read:anonymous=1/1m:3", "read:account=1/1m:4", "read:apikey=1/1m:5")
	for _, c := range []struct {
		name string
		call call
		want int
	}{
		{"anonymous", call{route: readRoute, ip: "192.0.2.1", p: anon}, 3},
		{"anonymous, other address", call{route: readRoute, ip: "192.0.2.2", p: anon}, 3},
		{"alice", call{route: readRoute, ip: "192.0.2.1", p: alice}, 4},
		{"alice from elsewhere: the same account", call{route: readRoute, ip: "198.51.100.7", p: alice}, 0},
		{"bob", call{route: readRoute, ip: "192.0.2.1", p: bob}, 4},
		{"API key", call{route: readRoute, ip: "192.0.2.1", p: apiKey}, 5},
		{"alice, writing: another class", call{route: writeRoute, ip: "192.0.2.1", p: alice}, 10},
	} {
		if got := f.allowed(c.call, 10); got != c.want {
			t.Errorf("%s: %d allowed, want %d", c.name, got, c.want)
		}
	}
}

// TestAddressBeforeAuthentication: the per-address limit refuses a request
// before its credential is checked, whoever the caller claims to be.
func TestAddressBeforeAuthentication(t *testing.T) {
	f := newFixture(t, nil, "read:ip=1/1m:2")
	flood := call{route: readRoute, ip: "203.0.113.9", p: alice}
	for i := range 2 {
		if res := f.do(flood); res.err != nil || !res.authenticated {
			t.Fatalf("request %d: %v (authenticated %v)", i, res.err, res.authenticated)
		}
	}
	res := f.do(call{route: readRoute, ip: "203.0.113.9", p: bob})
	if fault.KindOf(res.err) != fault.TooManyRequests {
		t.Fatalf("third request: %v, want too_many_requests", res.err)
	}
	if res.authenticated {
		t.Error("the refused request was authenticated: the address limit must come first")
	}
	if res := f.do(call{route: readRoute, ip: "203.0.113.10", p: bob}); res.err != nil {
		t.Errorf("another address was refused: %v", res.err)
	}
}

// TestRefusal: a refused request carries the wait (at least a second) and
// the budget refills with time.
func TestRefusal(t *testing.T) {
	f := newFixture(t, nil, "write:account=1/10s:2")
	c := call{route: writeRoute, ip: "192.0.2.1", p: alice}
	f.do(c)
	f.do(c)
	res := f.do(c)
	if fault.KindOf(res.err) != fault.TooManyRequests || fault.RetryAfterOf(res.err) != 10*time.Second {
		t.Fatalf("third write: %v (retry after %v), want too_many_requests after 10s", res.err, fault.RetryAfterOf(res.err))
	}
	if !strings.Contains(fault.Message(res.err), "write-account") {
		t.Errorf("the message %q does not name the policy", fault.Message(res.err))
	}
	f.clock.t = f.clock.t.Add(10 * time.Second)
	if res := f.do(c); res.err != nil {
		t.Errorf("after the wait: %v", res.err)
	}
	// A wait shorter than a second is answered as a second.
	f = newFixture(t, nil, "write:account=100/1s:1")
	f.do(c)
	if got := fault.RetryAfterOf(f.do(c).err); got != time.Second {
		t.Errorf("retry after %v, want 1s", got)
	}
}

// TestCollectionOverride: a collection's own rule replaces the class's on
// that collection, in a budget of its own; other collections keep the
// class's.
func TestCollectionOverride(t *testing.T) {
	f := newFixture(t, nil, "write:account=1/1m:5", "posts.write:account=1/1m:2")
	posts := call{route: writeRoute, collection: "posts", ip: "192.0.2.1", p: alice}
	notes := call{route: writeRoute, collection: "notes", ip: "192.0.2.1", p: alice}
	if got := f.allowed(posts, 10); got != 2 {
		t.Errorf("posts: %d writes allowed, want 2", got)
	}
	if got := f.allowed(notes, 10); got != 5 {
		t.Errorf("notes: %d writes allowed, want 5 (the class's budget, untouched by posts)", got)
	}
	res := f.do(posts)
	if got := res.header.Get("RateLimit"); !strings.HasPrefix(got, `"posts.write-account";r=0;`) {
		t.Errorf("RateLimit = %q, want the posts policy", got)
	}
}

// TestOff: a rule that is off limits nothing; a disabled config neither.
func TestOff(t *testing.T) {
	f := newFixture(t, nil, "read:ip=off", "read:account=off")
	c := call{route: readRoute, ip: "192.0.2.1", p: alice}
	if got := f.allowed(c, 3000); got != 3000 {
		t.Errorf("%d allowed, want all", got)
	}
	if h := f.do(c).header; h.Get("RateLimit") != "" || h.Get("RateLimit-Policy") != "" {
		t.Errorf("headers %v without a limit", h)
	}
	cfg := apilimit.DefaultConfig()
	cfg.Disabled = true
	l, err := apilimit.New(apilimit.Options{Config: cfg, Limiter: &failing{}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := l.Admit(httptest.NewRecorder(), r, loginRoute, func() (auth.Principal, error) { return anon, nil }); err != nil {
		t.Errorf("disabled limits refused: %v", err)
	}
}

// TestHeaders: the fields of the draft, with the most restrictive limit
// in RateLimit.
func TestHeaders(t *testing.T) {
	f := newFixture(t, nil)
	c := call{route: readRoute, ip: "192.0.2.1", p: alice}
	h := f.do(c).header
	if got, want := h.Get("RateLimit-Policy"), `"read-ip";q=1000;w=4, "read-account";q=200;w=4`; got != want {
		t.Errorf("RateLimit-Policy = %q, want %q", got, want)
	}
	// 200 - 1 left of the account's, 1000 - 1 of the address's; the
	// bucket is full again 20 ms after one read (t rounds up to 1 s).
	if got, want := h.Get("RateLimit"), `"read-account";r=199;t=1`; got != want {
		t.Errorf("RateLimit = %q, want %q", got, want)
	}
	// When the address has fewer left than the caller, it is reported.
	f = newFixture(t, nil, "write:ip=1/1m:3", "write:account=1/1m:10")
	w := call{route: writeRoute, ip: "192.0.2.1", p: alice}
	f.do(w)
	h = f.do(w).header
	if got, want := h.Get("RateLimit"), `"write-ip";r=1;t=120`; got != want {
		t.Errorf("RateLimit = %q, want %q", got, want)
	}
	if got, want := h.Get("RateLimit-Policy"), `"write-ip";q=3;w=180, "write-account";q=10;w=600`; got != want {
		t.Errorf("RateLimit-Policy = %q, want %q", got, want)
	}
	// A refusal by address reports that policy alone.
	f.do(w)
	res := f.do(w)
	if got, want := res.header.Get("RateLimit"), `"write-ip";r=0;t=180`; got != want || res.err == nil {
		t.Errorf("refused: RateLimit = %q, err %v; want %q", got, res.err, want)
	}
	if got, want := res.header.Get("RateLimit-Policy"), `"write-ip";q=3;w=180`; got != want {
		t.Errorf("refused: RateLimit-Policy = %q, want %q", got, want)
	}
}

// TestFailOpen: when the limiter fails, a read is served, counted as an
// error, and logged at most once every 10 s.
func TestFailOpen(t *testing.T) {
	lim := &failing{}
	f := newFixture(t, lim, "read:ip=1/1m:1", "read:account=1/1m:1")
	c := call{route: readRoute, ip: "192.0.2.1", p: alice}
	for i := range 5 {
		if res := f.do(c); res.err != nil || !res.authenticated {
			t.Fatalf("request %d: %v, want it served", i, res.err)
		}
		if h := f.do(c).header; h.Get("RateLimit") != "" {
			t.Fatalf("RateLimit %q without a decision", h.Get("RateLimit"))
		}
	}
	if lim.calls != 20 {
		t.Errorf("%d limiter calls, want 20", lim.calls)
	}
	if got := testutil.ToFloat64(counter(t, f.reg, "basalt_ratelimit_errors_total", "class", "read")); got != 20 {
		t.Errorf("errors_total{class=read} = %v, want 20", got)
	}
	if got := strings.Count(f.logs.String(), "the rate limiter failed"); got != 1 {
		t.Errorf("%d log lines within 10 s, want 1:\n%s", got, f.logs)
	}
	f.clock.t = f.clock.t.Add(10 * time.Second)
	f.do(c)
	if got := strings.Count(f.logs.String(), "the rate limiter failed"); got != 2 {
		t.Errorf("%d log lines after 10 s, want 2:\n%s", got, f.logs)
	}
	if !strings.Contains(f.logs.String(), "errors_not_logged=19") {
		t.Errorf("the second line does not count the errors in between:\n%s", f.logs)
	}
}

// TestAuthFallback: when the limiter fails, the auth class is decided by
// the in-process fallback, so a login flood is still refused.
func TestAuthFallback(t *testing.T) {
	lim := &failing{}
	f := newFixture(t, lim, "auth:ip=1/1m:3")
	c := call{route: loginRoute, ip: "192.0.2.1", p: anon}
	if got := f.allowed(c, 10); got != 3 {
		t.Errorf("%d logins allowed with the limiter down, want 3 (the fallback's)", got)
	}
	res := f.do(c)
	if fault.KindOf(res.err) != fault.TooManyRequests || res.authenticated {
		t.Errorf("login: %v (authenticated %v), want too_many_requests before authentication", res.err, res.authenticated)
	}
	if res.header.Get("RateLimit") == "" {
		t.Error("a fallback decision carries no RateLimit")
	}
	// The counter-case: the same rule on another class fails open.
	g := newFixture(t, &failing{}, "write:ip=1/1m:3")
	if got := g.allowed(call{route: writeRoute, ip: "192.0.2.1", p: anon}, 10); got != 10 {
		t.Errorf("%d writes allowed with the limiter down, want all 10 (fail open)", got)
	}
	if got := testutil.ToFloat64(counter(t, f.reg, "basalt_ratelimit_errors_total", "class", "auth")); got != 5 {
		t.Errorf("errors_total{class=auth} = %v, want 5", got)
	}
	// A failing fallback refuses: the auth class never runs unlimited.
	cfg := apilimit.DefaultConfig()
	l, err := apilimit.New(apilimit.Options{Config: cfg, Limiter: &failing{}, Fallback: &failing{}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", nil)
	if _, err := l.Admit(httptest.NewRecorder(), r, loginRoute, func() (auth.Principal, error) { return anon, nil }); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("both limiters down: %v, want unavailable", err)
	}
}

// TestDecisionMetrics: allowed and denied checks are counted by class.
func TestDecisionMetrics(t *testing.T) {
	f := newFixture(t, nil, "search:ip=off", "search:account=1/1m:2")
	c := call{route: "GET /v1/collections/{collection}/search", collection: "posts", ip: "192.0.2.1", p: alice}
	for range 3 {
		f.do(c)
	}
	if got := testutil.ToFloat64(counter(t, f.reg, "basalt_ratelimit_decisions_total", "class", "search", "result", "allowed")); got != 2 {
		t.Errorf("allowed = %v, want 2", got)
	}
	if got := testutil.ToFloat64(counter(t, f.reg, "basalt_ratelimit_decisions_total", "class", "search", "result", "denied")); got != 1 {
		t.Errorf("denied = %v, want 1", got)
	}
	// Labels come from fixed sets: never a collection, key or address.
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v := lp.GetValue(); strings.Contains(v, "posts") || strings.Contains(v, "192.0.2.1") || strings.Contains(v, "acc_") {
					t.Errorf("%s has the label %s=%q", mf.GetName(), lp.GetName(), v)
				}
			}
		}
	}
}

// counter finds the counter of name with the label pairs in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue next
				}
			}
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return m.GetCounter().GetValue() })
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

// TestCallerGone: a request whose context is done is not a limiter
// failure: nothing is counted or logged.
func TestCallerGone(t *testing.T) {
	f := newFixture(t, nil)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	_, err := f.Admit(httptest.NewRecorder(), r.WithContext(ctx), readRoute, func() (auth.Principal, error) { return alice, nil })
	if err != nil {
		t.Errorf("Admit: %v, want the request passed on", err)
	}
	if got := testutil.ToFloat64(counter(t, f.reg, "basalt_ratelimit_errors_total", "class", "read")); got != 0 {
		t.Errorf("errors_total{class=read} = %v, want 0", got)
	}
	if f.logs.Len() != 0 {
		t.Errorf("logged: %s", f.logs)
	}
}
