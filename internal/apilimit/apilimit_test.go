package apilimit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

func (f *failing) AllowAll(_ context.Context, _ []ratelimit.Request, dst []ratelimit.Decision) ([]ratelimit.Decision, error) {
	f.calls++
	return dst, errors.New("redis: connection refused")
}

// counting is a limiter that counts its calls and the requests in them.
type counting struct {
	ratelimit.Limiter
	calls, requests int
}

func (c *counting) AllowAll(ctx context.Context, reqs []ratelimit.Request, dst []ratelimit.Decision) ([]ratelimit.Decision, error) {
	c.calls++
	c.requests += len(reqs)
	return c.Limiter.AllowAll(ctx, reqs, dst)
}

// bothWays runs test with callers known before authentication (one step
// for both limits) and unknown (address first, caller after).
func bothWays(t *testing.T, test func(t *testing.T, known bool)) {
	for _, known := range []bool{false, true} {
		t.Run(map[bool]string{false: "unknown caller", true: "known caller"}[known], func(t *testing.T) { test(t, known) })
	}
}

// fixture is Limits over a memory limiter on a fake clock, with the given
// specs over DefaultConfig.
type fixture struct {
	*apilimit.Limits
	// known makes do tell Admit the caller before authentication.
	known bool
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
	var known func() (auth.Principal, bool)
	if f.known {
		known = func() (auth.Principal, bool) { return c.p, true }
	}
	p, err := f.Admit(w, r, c.route, known, func() (auth.Principal, error) {
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
	bothWays(t, func(t *testing.T, known bool) {
		f := newFixture(t, nil, "read:anonymous=1/1m:3", "read:account=1/1m:4", "read:apikey=1/1m:5")
		f.known = known
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
	})
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
	bothWays(t, func(t *testing.T, known bool) {
		f := newFixture(t, nil, "write:account=1/10s:2")
		f.known = known
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
		f.known = known
		f.do(c)
		if got := fault.RetryAfterOf(f.do(c).err); got != time.Second {
			t.Errorf("retry after %v, want 1s", got)
		}
	})
}

// TestCollectionOverride: a collection's own rule replaces the class's on
// that collection, in a budget of its own; other collections keep the
// class's.
func TestCollectionOverride(t *testing.T) {
	bothWays(t, func(t *testing.T, known bool) {
		f := newFixture(t, nil, "write:account=1/1m:5", "posts.write:account=1/1m:2")
		f.known = known
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
	})
}

// TestOff: a rule that is off limits nothing; a disabled config neither.
func TestOff(t *testing.T) {
	bothWays(t, func(t *testing.T, known bool) {
		f := newFixture(t, nil, "read:ip=off", "read:account=off")
		f.known = known
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
		if _, err := l.Admit(httptest.NewRecorder(), r, loginRoute, nil, func() (auth.Principal, error) { return anon, nil }); err != nil {
			t.Errorf("disabled limits refused: %v", err)
		}
	})
}

// TestHeaders: the fields of the draft, with the most restrictive limit
// in RateLimit.
func TestHeaders(t *testing.T) {
	bothWays(t, func(t *testing.T, known bool) {
		f := newFixture(t, nil)
		f.known = known
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
		f.known = known
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
	})
}

// TestFailOpen: when the limiter fails, a read is served, counted as an
// error, and logged at most once every 10 s.
func TestFailOpen(t *testing.T) {
	bothWays(t, func(t *testing.T, known bool) {
		lim := &failing{}
		f := newFixture(t, lim, "read:ip=1/1m:1", "read:account=1/1m:1")
		f.known = known
		c := call{route: readRoute, ip: "192.0.2.1", p: alice}
		for i := range 5 {
			if res := f.do(c); res.err != nil || !res.authenticated {
				t.Fatalf("request %d: %v, want it served", i, res.err)
			}
			if h := f.do(c).header; h.Get("RateLimit") != "" {
				t.Fatalf("RateLimit %q without a decision", h.Get("RateLimit"))
			}
		}
		// Ten requests of two limits each: one call apiece for a known
		// caller, two otherwise.
		calls := map[bool]int{false: 20, true: 10}[known]
		if lim.calls != calls {
			t.Errorf("%d limiter calls, want %d", lim.calls, calls)
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
		if !strings.Contains(f.logs.String(), fmt.Sprintf("errors_not_logged=%d", calls-1)) {
			t.Errorf("the second line does not count the errors in between:\n%s", f.logs)
		}
	})
}

// TestAuthFallback: when the limiter fails, the auth class is decided by
// the in-process fallback, so a login flood is still refused.
func TestAuthFallback(t *testing.T) {
	bothWays(t, func(t *testing.T, known bool) {
		lim := &failing{}
		f := newFixture(t, lim, "auth:ip=1/1m:3")
		f.known = known
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
		g.known = known
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
		if _, err := l.Admit(httptest.NewRecorder(), r, loginRoute, nil, func() (auth.Principal, error) { return anon, nil }); fault.KindOf(err) != fault.Unavailable {
			t.Errorf("both limiters down: %v, want unavailable", err)
		}
	})
}

// TestDecisionMetrics: allowed and denied checks are counted by class.
func TestDecisionMetrics(t *testing.T) {
	bothWays(t, func(t *testing.T, known bool) {
		f := newFixture(t, nil, "search:ip=off", "search:account=1/1m:2")
		f.known = known
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
	})
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
	_, err := f.Admit(httptest.NewRecorder(), r.WithContext(ctx), readRoute, nil, func() (auth.Principal, error) { return alice, nil })
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

// TestKnownCallerOneStep: a caller known before authentication has both
// its limits decided in one call of the limiter (one round trip to
// Redis); any other caller pays two, the address's before authentication.
func TestKnownCallerOneStep(t *testing.T) {
	c := newClock()
	lim := &counting{Limiter: memory.New(c.now, 1000)}
	f := newFixture(t, lim, "read:ip=1/1m:3", "read:account=1/1m:2")
	alicesRead := call{route: readRoute, ip: "192.0.2.1", p: alice}

	f.known = true
	if res := f.do(alicesRead); res.err != nil || !res.authenticated {
		t.Fatalf("known caller: %v (authenticated %v)", res.err, res.authenticated)
	}
	if lim.calls != 1 || lim.requests != 2 {
		t.Fatalf("known caller: %d calls for %d requests, want 1 for 2", lim.calls, lim.requests)
	}
	f.known = false
	if res := f.do(alicesRead); res.err != nil || !res.authenticated {
		t.Fatalf("unknown caller: %v (authenticated %v)", res.err, res.authenticated)
	}
	if lim.calls != 3 || lim.requests != 4 {
		t.Fatalf("unknown caller: %d calls for %d requests in all, want 3 for 4", lim.calls, lim.requests)
	}

	// Alice's budget is spent: refused by her own limit, before her
	// credential is checked, with both limits reported.
	f.known = true
	res := f.do(alicesRead)
	if fault.KindOf(res.err) != fault.TooManyRequests || res.authenticated {
		t.Fatalf("third read: %v (authenticated %v), want too_many_requests before authentication", res.err, res.authenticated)
	}
	if got, want := res.header.Get("RateLimit"), `"read-account";r=0;t=120`; got != want {
		t.Errorf("RateLimit = %q, want %q", got, want)
	}
	if got, want := res.header.Get("RateLimit-Policy"), `"read-ip";q=3;w=180, "read-account";q=2;w=120`; got != want {
		t.Errorf("RateLimit-Policy = %q, want %q", got, want)
	}
	// That refusal counted on the address, as the address is decided
	// first either way: its budget is spent too, and bob is refused there
	// without a decision on his own budget.
	res = f.do(call{route: readRoute, ip: "192.0.2.1", p: bob})
	if fault.KindOf(res.err) != fault.TooManyRequests || res.authenticated {
		t.Fatalf("bob from the same address: %v (authenticated %v), want too_many_requests", res.err, res.authenticated)
	}
	if got, want := res.header.Get("RateLimit-Policy"), `"read-ip";q=3;w=180`; got != want {
		t.Errorf("refused by address: RateLimit-Policy = %q, want %q", got, want)
	}
	if res := f.do(call{route: readRoute, ip: "192.0.2.2", p: bob}); res.err != nil {
		t.Errorf("bob from elsewhere: %v, want his budget untouched", res.err)
	}
}

// TestKnownCallerAuthenticateFails: a caller recognized before
// authentication but refused by it (a revoked session) gets
// authenticate's error, with the fields of the limits it was counted on.
func TestKnownCallerAuthenticateFails(t *testing.T) {
	f := newFixture(t, nil)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.1:4711"
	w := httptest.NewRecorder()
	revoked := fault.New(fault.Unauthenticated, "test", "invalid or expired access token")
	_, err := f.Admit(w, r, readRoute, func() (auth.Principal, bool) { return alice, true },
		func() (auth.Principal, error) { return auth.Principal{}, revoked })
	if !errors.Is(err, revoked) {
		t.Fatalf("Admit: %v, want authenticate's error", err)
	}
	if got := w.Header().Get("RateLimit-Policy"); got != `"read-ip";q=1000;w=4, "read-account";q=200;w=4` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	// A known func that does not know falls back to the two steps.
	w = httptest.NewRecorder()
	p, err := f.Admit(w, r, readRoute, func() (auth.Principal, bool) { return auth.Principal{}, false },
		func() (auth.Principal, error) { return bob, nil })
	if err != nil || p.ID != bob.ID {
		t.Fatalf("Admit: %+v, %v", p, err)
	}
}

// TestDecideWithoutHTTP: a transport that is not HTTP's (gRPC, Connect)
// gets the same decisions from Decide, per collection too, and the fields
// to send as it can.
func TestDecideWithoutHTTP(t *testing.T) {
	f := newFixture(t, nil, "read:account=1/1m:3", "posts.read:account=1/1m:1")
	req := apilimit.Request{Route: "POST /basalt.v1.DocumentService/GetDocument", Collection: "posts", ClientIP: "192.0.2.1"}
	known := func() (auth.Principal, bool) { return alice, true }
	authenticate := func() (auth.Principal, error) { return alice, nil }
	p, fields, err := f.Decide(context.Background(), req, known, authenticate)
	if err != nil || p.ID != alice.ID {
		t.Fatalf("first: %+v, %v", p, err)
	}
	if want := `"read-ip";q=1000;w=4, "posts.read-account";q=1;w=60`; fields.Policy != want {
		t.Errorf("Policy = %q, want %q", fields.Policy, want)
	}
	_, fields, err = f.Decide(context.Background(), req, known, authenticate)
	if fault.KindOf(err) != fault.TooManyRequests || fields.State != `"posts.read-account";r=0;t=60` {
		t.Fatalf("second: %v, fields %+v; want the posts limit to refuse", err, fields)
	}
	// Another collection keeps the class's budget.
	req.Collection = "notes"
	if _, _, err := f.Decide(context.Background(), req, nil, authenticate); err != nil {
		t.Fatalf("notes: %v", err)
	}
	h := http.Header{}
	fields.Write(h)
	if h.Get("RateLimit") != fields.State || h.Get("RateLimit-Policy") != fields.Policy {
		t.Errorf("Write: %v", h)
	}
	h = http.Header{}
	apilimit.Fields{}.Write(h)
	if len(h) != 0 {
		t.Errorf("empty fields wrote %v", h)
	}
}
