// Package apilimit is Basalt's API-wide rate limiting: GCRA limits
// (ratelimit.Limiter) per route class (auth, read, write, search,
// realtime) and key kind (client address, anonymous caller, account, API
// key), optionally replaced per collection, configured by the operator in a
// small grammar (ParseSpec).
//
// Every REST request is decided by Limits.Admit under two rules: the
// class's per-address (ip) rule, which applies to everyone, and the
// caller's own rule (anonymous callers by address, users by account,
// services by API key). When the caller is known without cost (an
// anonymous request, a credential verified recently), both are decided in
// one step of the limiter, one round trip to Redis. Otherwise the address
// is decided before the credential is checked, so floods of bad
// credentials are refused before any token is verified, and the caller
// after it. Answers carry the
// RateLimit-Policy and RateLimit fields of draft-ietf-httpapi-ratelimit-
// headers-10; a refused request gets fault.TooManyRequests with a
// RetryAfter, which the transport answers 429.
//
// When the limiter fails (Redis unreachable), the auth class is decided by
// an in-process fallback limiter, so logins and password flows never become
// unlimited; every other class fails open: the request is served, and
// basalt_ratelimit_errors_total{class} counts it, with a log line at most
// every 10 s.
package apilimit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// logEvery is the least time between two log lines about limiter errors.
const logEvery = 10 * time.Second

// fallbackKeys bounds the keys of the default in-process fallback limiter.
const fallbackKeys = 100_000

// Options configures Limits.
type Options struct {
	// Config holds the rules: DefaultConfig with the operator's specs.
	// The zero Config limits nothing. New keeps it: do not Set it after.
	Config Config
	// Limiter counts the requests: an in-process limiter for one process,
	// a shared one (Redis) for several. Required.
	Limiter ratelimit.Limiter
	// Fallback decides the auth class when Limiter fails: an in-process
	// limiter. Nil: a memory limiter of 100,000 keys on Now.
	Fallback ratelimit.Limiter
	// ClientIP returns the client address of a request (behind trusted
	// proxies, the forwarded one). Nil: the socket peer's address.
	ClientIP func(*http.Request) string
	// Logger receives the limiter's errors (at most one line every 10 s).
	// Nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock of the log throttle and of the default fallback
	// limiter; nil is time.Now.
	Now func() time.Time
}

// Limits decides the API-wide rate limits of requests. It is safe for
// concurrent use. A nil *Limits limits nothing.
type Limits struct {
	cfg      Config
	limiter  ratelimit.Limiter
	auth     ratelimit.Limiter // limiter with the in-process fallback, for the auth class
	clientIP func(*http.Request) string
	log      *slog.Logger
	now      func() time.Time

	// policies are the class-wide policies, built once: their names, key
	// prefixes and RateLimit-Policy items.
	policies [numClasses][numKinds]policy

	decisions [numClasses][numResults]prometheus.Counter
	errs      [numClasses]prometheus.Counter

	lastLog    atomic.Int64 // unix nanoseconds of the last error log line
	suppressed atomic.Int64 // errors not logged since then
}

// policy is one limit's name ("read-account"), the prefix of its keys and
// its item of RateLimit-Policy.
type policy struct {
	name, prefix, field string
	limit               ratelimit.Limit
}

// newPolicy is the policy of rule for class and kind, on collection ("":
// the class's).
func newPolicy(collection string, class Class, kind Kind, rule Rule) policy {
	p := policy{name: class.String() + "-" + kind.String(), prefix: "api:" + class.String() + ":" + kind.String()}
	if collection != "" {
		p.name = collection + "." + p.name
		p.prefix += "@" + collection
	}
	p.prefix += ":"
	if !rule.Off() {
		p.limit = rule.Limit()
		p.field = PolicyField(p.name, p.limit)
	}
	return p
}

// Decision results, the result label of basalt_ratelimit_decisions_total.
const (
	resultAllowed = iota
	resultDenied
	resultError
	numResults
)

var resultNames = [numResults]string{"allowed", "denied", "error"}

// New returns the limits of opts.
func New(opts Options) (*Limits, error) {
	if opts.Limiter == nil {
		return nil, errors.New("apilimit: a Limiter is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Fallback == nil {
		opts.Fallback = memory.New(opts.Now, fallbackKeys)
	}
	if opts.ClientIP == nil {
		opts.ClientIP = peerIP
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Limits{cfg: opts.Config, limiter: opts.Limiter, clientIP: opts.ClientIP, log: opts.Logger, now: opts.Now}
	// The auth class never becomes unlimited: when the limiter fails, the
	// in-process fallback decides, and the failure is counted and logged.
	l.auth = ratelimit.Fallback(opts.Limiter, opts.Fallback, func(err error) {
		l.errs[Auth].Inc()
		l.logError(Auth, err)
	})
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "basalt_ratelimit_decisions_total",
		Help: "API rate-limit checks by route class and result (allowed, denied, or error: the limiter failed). A request is checked against up to two limits.",
	}, []string{"class", "result"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "basalt_ratelimit_errors_total",
		Help: "API rate-limit checks whose limiter failed, by route class: the auth class was then decided in process, the others were let through.",
	}, []string{"class"})
	for _, c := range Classes() {
		for _, k := range Kinds() {
			rule, _ := l.cfg.Rule("", c, k)
			l.policies[c][k] = newPolicy("", c, k, rule)
		}
		for r := range numResults {
			l.decisions[c][r] = decisions.WithLabelValues(c.String(), resultNames[r])
		}
		l.errs[c] = errs.WithLabelValues(c.String())
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{decisions, errs} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// peerIP is the address of the socket peer, without its port.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// applied is one limit checked for a request, and its decision.
type applied struct {
	p *policy
	d ratelimit.Decision
}

// checks are the limits checked for one request: at most one per key
// kind's step (address, then caller).
type checks struct {
	n int
	p [2]applied
}

// step is one limit to check: its policy and rule, and the request's key.
type step struct {
	pol  *policy
	rule Rule
	key  string
}

// steps are the limits to decide together: at most the address's and the
// caller's.
type steps struct {
	n int
	s [2]step
}

// Request is what the limits need to know of a request, whatever its
// transport.
type Request struct {
	// Route is the route pattern ("METHOD /path") or, for gRPC and
	// Connect, "POST /<procedure>": it picks the class (ClassOf).
	Route string
	// Collection is the collection the request is about, for the rules of
	// a collection of its own; "" for none.
	Collection string
	// ClientIP is the client's address (behind trusted proxies, the
	// forwarded one); "" skips the per-address rule.
	ClientIP string
}

// Fields are the RateLimit-Policy and RateLimit fields of an answer: ""
// when no limit was checked.
type Fields struct {
	Policy, State string
}

// Write sets the fields on h (none that are empty).
func (f Fields) Write(h http.Header) {
	// The fields' names in canonical form, set directly: http.Header.Set
	// would allocate the canonical form of "RateLimit" on every request.
	const policyKey, stateKey = "Ratelimit-Policy", "Ratelimit"
	if f.Policy != "" {
		h[policyKey] = []string{f.Policy}
	}
	if f.State != "" {
		h[stateKey] = []string{f.State}
	}
}

// Admit decides whether r, served by the route pattern ("METHOD /path"),
// may run (Decide, with the collection r.PathValue("collection") and the
// client address of Options.ClientIP), sets the RateLimit-Policy and
// RateLimit fields on w for the limits it checked, and returns the
// caller.
func (l *Limits) Admit(w http.ResponseWriter, r *http.Request, route string, known func() (auth.Principal, bool), authenticate func() (auth.Principal, error)) (auth.Principal, error) {
	if l == nil || l.cfg.Disabled {
		return authenticate()
	}
	p, f, err := l.Decide(r.Context(), Request{Route: route, Collection: r.PathValue("collection"), ClientIP: l.clientIP(r)},
		known, authenticate)
	f.Write(w.Header())
	return p, err
}

// Decide decides whether req may run under the route class's per-address
// rule and the caller's own rule, and returns the caller and the fields
// of the limits it checked, to send either way. When a limit refuses req,
// Decide returns a fault.TooManyRequests error with the wait as RetryAfter
// (at least a second), and authenticate is not called; an error of
// authenticate is returned as it is.
//
// known, if not nil, tells who the caller is when that costs nothing: an
// anonymous request, or a credential verified recently (auth.Recognizer).
// Then both limits are decided in one step (one round trip to Redis)
// before authenticate runs. Otherwise the address's limit is decided
// first, then authenticate runs, then the caller's limit: a flood of
// unknown credentials is refused by address before any is checked.
func (l *Limits) Decide(ctx context.Context, req Request, known func() (auth.Principal, bool), authenticate func() (auth.Principal, error)) (auth.Principal, Fields, error) {
	if l == nil || l.cfg.Disabled {
		p, err := authenticate()
		return p, Fields{}, err
	}
	class, _ := ClassOf(req.Route)
	coll, ip := req.Collection, req.ClientIP
	var cs checks
	if known != nil {
		if p, ok := known(); ok {
			var both steps
			l.plan(&both, class, coll, IP, ip)
			kind, id := callerKey(p, ip)
			l.plan(&both, class, coll, kind, id)
			if err := l.check(ctx, &cs, class, &both); err != nil {
				return auth.Principal{}, cs.fields(), err
			}
			p, err := authenticate()
			return p, cs.fields(), err
		}
	}
	var first steps
	l.plan(&first, class, coll, IP, ip)
	if err := l.check(ctx, &cs, class, &first); err != nil {
		return auth.Principal{}, cs.fields(), err
	}
	p, err := authenticate()
	if err != nil {
		return p, cs.fields(), err
	}
	var second steps
	kind, id := callerKey(p, ip)
	l.plan(&second, class, coll, kind, id)
	if err := l.check(ctx, &cs, class, &second); err != nil {
		return auth.Principal{}, cs.fields(), err
	}
	return p, cs.fields(), nil
}

// callerKey is the key kind and id of p's own limits: anonymous callers
// by address, users by account, services by API key.
func callerKey(p auth.Principal, ip string) (Kind, string) {
	switch p.Kind {
	case auth.KindUser:
		return Account, p.ID
	case auth.KindAPIKey:
		return APIKey, p.ID
	}
	return Anonymous, ip
}

// plan adds to st the limit of class on coll for the kind's id, unless
// its rule is off or the id unknown.
func (l *Limits) plan(st *steps, class Class, coll string, kind Kind, id string) {
	rule, own := l.cfg.Rule(coll, class, kind)
	if rule.Off() || id == "" {
		return
	}
	pol := &l.policies[class][kind]
	if own {
		p := newPolicy(coll, class, kind, rule)
		pol = &p
	}
	st.s[st.n] = step{pol: pol, rule: rule, key: pol.prefix + id}
	st.n++
}

// check decides st in one step of the limiter and records it in cs.
func (l *Limits) check(ctx context.Context, cs *checks, class Class, st *steps) error {
	if st.n == 0 {
		return nil
	}
	var (
		reqs [len(st.s)]ratelimit.Request
		buf  [len(st.s)]ratelimit.Decision
	)
	for i, s := range st.s[:st.n] {
		reqs[i] = ratelimit.Request{Key: s.key, Limit: s.pol.limit, N: 1}
	}
	limiter := l.limiter
	if class == Auth {
		limiter = l.auth
	}
	ds, err := limiter.AllowAll(ctx, reqs[:st.n], buf[:0])
	if err != nil && ctx.Err() != nil {
		// The client is gone or out of time, not the limiter: nothing
		// to count or log, and the handler finds its context done.
		return nil
	}
	switch {
	case err != nil && class == Auth:
		// The fallback failed too (the limiter's failure is counted and
		// logged by l.auth's onError).
		l.decisions[class][resultError].Add(float64(st.n))
		return &fault.Error{Kind: fault.Unavailable, Op: "apilimit", Msg: "the rate limiter is unavailable; try again later",
			Err: err, RetryAfter: time.Second}
	case err != nil:
		l.decisions[class][resultError].Add(float64(st.n))
		l.errs[class].Add(float64(st.n))
		l.logError(class, err)
		return nil // fail open
	}
	for i, d := range ds {
		s := &st.s[i]
		cs.p[cs.n] = applied{p: s.pol, d: d}
		cs.n++
		if !d.Allowed {
			l.decisions[class][resultDenied].Inc()
			return &fault.Error{Kind: fault.TooManyRequests, Op: "apilimit",
				Msg:        "too many requests: the " + s.pol.name + " limit allows " + s.rule.String() + " (COUNT/PER:BURST); retry after the Retry-After seconds",
				RetryAfter: max(d.RetryAfter, time.Second)}
		}
		l.decisions[class][resultAllowed].Inc()
	}
	return nil
}

// logError logs a limiter error, at most once every logEvery, with the
// number of errors not logged since the previous line.
func (l *Limits) logError(class Class, err error) {
	now := l.now().UnixNano()
	last := l.lastLog.Load()
	if last != 0 && now-last < int64(logEvery) {
		l.suppressed.Add(1)
		return
	}
	if !l.lastLog.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return
	}
	policy := "let through"
	if class == Auth {
		policy = "decided in process"
	}
	l.log.Warn("the rate limiter failed: requests of the auth class are decided in process, the others are let through",
		"class", class.String(), "this_request", policy, "errors_not_logged", l.suppressed.Swap(0), "err", err)
}

// fields are the RateLimit-Policy of every checked limit and the
// RateLimit of the one that refused the request, if one did (the last
// checked), else of the most restrictive: the fewest remaining requests,
// then the longest reset.
func (cs *checks) fields() Fields {
	switch cs.n {
	case 0:
		return Fields{}
	case 1:
		return Fields{Policy: cs.p[0].p.field, State: Field(cs.p[0].p.name, cs.p[0].d)}
	}
	a, b := &cs.p[0], &cs.p[1]
	best := a
	if !b.d.Allowed || b.d.Remaining < a.d.Remaining || (b.d.Remaining == a.d.Remaining && b.d.ResetAfter > a.d.ResetAfter) {
		best = b
	}
	return Fields{Policy: a.p.field + ", " + b.p.field, State: Field(best.p.name, best.d)}
}

// PolicyField renders one policy of the RateLimit-Policy field: the name,
// q (the Burst) and w (seconds for an empty budget to fill, rounded up).
func PolicyField(name string, l ratelimit.Limit) string {
	return `"` + name + `";q=` + strconv.Itoa(l.Burst) + ";w=" + strconv.FormatInt(window(l), 10)
}

// Field renders the RateLimit field of a decision: the policy's name, r
// (requests remaining) and t (seconds until the budget is full, rounded
// up).
func Field(name string, d ratelimit.Decision) string {
	t := (d.ResetAfter + time.Second - 1) / time.Second
	return `"` + name + `";r=` + strconv.Itoa(d.Remaining) + ";t=" + strconv.FormatInt(int64(t), 10)
}
