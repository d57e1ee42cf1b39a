package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/argon2"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
)

// MaxPasswordBytes is the longest password Basalt accepts, in bytes. The
// bound keeps a single request from feeding megabytes into the hash.
const MaxPasswordBytes = 1024

// Hasher hashes and verifies passwords with fixed argon2id parameters. At
// most maxConcurrent hashes run at once; further calls wait for a slot. A
// Hasher is safe for concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{} // one token per running hash
	dummy  string        // a hash no password matches, for DummyVerify
	worker *worker       // hash in a separate process (InWorker)
	budget *memory.Limiter
	rate   ratelimit.Limit

	tracer   trace.Tracer          // set by Traced
	reg      prometheus.Registerer // set by Metrics
	hashes   prometheus.Counter
	refusals *prometheus.CounterVec
}

// Traced makes a span of each hash and verification run within a
// recorded span ("password hash", "password verify"), from the wait for a
// slot to the end of the work: the part of a login's time that is the
// hash.
func Traced(tp trace.TracerProvider) Option {
	return func(h *Hasher) { h.tracer = tp.Tracer("github.com/basaltdev/basalt/internal/auth/password") }
}

// span starts the span of one hash when tracing; end ends it.
func (h *Hasher) span(ctx context.Context, name string) (context.Context, func(error)) {
	if h.tracer == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, func(error) {}
	}
	ctx, span := h.tracer.Start(ctx, name)
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, string(fault.KindOf(err)))
		}
		span.End()
	}
}

// Metrics registers the hasher's metrics with reg:
// basalt_password_hashes_total, the hashes computed, and
// basalt_password_hash_refusals_total{reason}, the hashes refused before
// they started: "budget" when MaxRate's budget was spent (the caller got
// 429), "canceled" when the request ended while waiting for a slot (it
// got 503).
func Metrics(reg prometheus.Registerer) Option {
	return func(h *Hasher) { h.reg = reg }
}

// Option tunes a Hasher.
type Option func(*Hasher)

// MaxRate caps how many hashes start per second, with bursts of up to
// burst, whatever their cause (logins of known or unknown accounts,
// sign-ups, password changes). Beyond it Hash and Verify fail at once with
// fault.TooManyRequests and a RetryAfter. Throttles per IP and per account
// stop one client; this budget bounds the CPU a storm from many clients can
// take from everything else.
func MaxRate(perSecond float64, burst int) Option {
	return func(h *Hasher) {
		h.rate = ratelimit.Limit{Rate: perSecond, Burst: burst}
		h.budget = memory.New(time.Now, 1)
	}
}

// New returns a Hasher that makes new hashes with p and runs at most
// maxConcurrent hashes at once. Each running hash holds p.Memory KiB, so
// maxConcurrent × p.Memory bounds the memory hashing uses.
func New(p Params, maxConcurrent int, opts ...Option) (*Hasher, error) {
	const op = "password.New"
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if maxConcurrent < 1 {
		return nil, fault.Newf(fault.Invalid, op, "maxConcurrent must be at least 1, got %d", maxConcurrent)
	}
	// The dummy hash has the current parameters and random salt and key, so
	// verifying against it costs exactly what a real verify costs and never
	// succeeds in practice.
	salt := make([]byte, p.SaltLen)
	key := make([]byte, p.KeyLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fault.Internalf(op, err)
	}
	if _, err := rand.Read(key); err != nil {
		return nil, fault.Internalf(op, err)
	}
	h := &Hasher{
		params: p,
		sem:    make(chan struct{}, maxConcurrent),
		dummy:  encode(p, salt, key),
	}
	for _, o := range opts {
		o(h)
	}
	h.hashes = prometheus.NewCounter(prometheus.CounterOpts{Name: "basalt_password_hashes_total",
		Help: "Password hashes computed (sign-ups, logins, password changes, and the dummy checks of unknown accounts)."})
	h.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "basalt_password_hash_refusals_total",
		Help: "Password hashes refused before they started, by reason: budget (the hashing budget, --password-max-rate, was spent: 429), canceled (the request ended while waiting for a hashing slot: 503)."},
		[]string{"reason"})
	for _, r := range []string{"budget", "canceled"} {
		h.refusals.WithLabelValues(r)
	}
	if h.reg != nil {
		for _, c := range []prometheus.Collector{h.hashes, h.refusals} {
			if err := h.reg.Register(c); err != nil {
				return nil, fault.Internalf(op, err)
			}
		}
	}
	if h.budget != nil {
		if err := h.rate.Validate(); err != nil {
			return nil, fault.Wrap(fault.Invalid, op, err, "invalid hashing rate")
		}
	}
	if h.worker != nil {
		// Started now, so that a worker that cannot start stops Basalt from
		// starting rather than failing every login later.
		h.worker.slots = maxConcurrent
		if _, err := h.worker.running(); err != nil {
			return nil, fault.Internalf(op, err)
		}
	}
	return h, nil
}

// Close stops the hashing worker, if the Hasher has one (InWorker), after
// the hashes it is computing; hashes asked for afterwards fail with
// fault.Unavailable. Without a worker Close does nothing.
func (h *Hasher) Close() error {
	if h.worker == nil {
		return nil
	}
	return h.worker.close(5 * time.Second)
}

// Budget returns the hashing budget set with MaxRate, and whether there is
// one.
func (h *Hasher) Budget() (ratelimit.Limit, bool) { return h.rate, h.budget != nil }

// Params returns the parameters h uses for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC-encoded argon2id hash of password with a fresh random
// salt. It fails with fault.Invalid for an empty password or one longer than
// MaxPasswordBytes, and with fault.Unavailable (wrapping the context error)
// if ctx ends while waiting for a hashing slot.
func (h *Hasher) Hash(ctx context.Context, password string) (_ string, err error) {
	const op = "password.Hash"
	if err := checkPassword(op, password); err != nil {
		return "", err
	}
	ctx, end := h.span(ctx, "password hash")
	defer func() { end(err) }()
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fault.Internalf(op, err)
	}
	release, err := h.acquire(ctx, op)
	if err != nil {
		return "", err
	}
	defer release()
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches the stored hash encoded. When it
// does, needsRehash reports whether encoded was made with parameters other
// than h's, so the caller should store a fresh Hash of password; needsRehash
// is always false when ok is false.
//
// Verify fails with fault.Invalid for an empty or over-long password, with
// fault.Internal when encoded is not a well-formed hash (stored data is
// Basalt's responsibility, not the client's), and with fault.Unavailable
// (wrapping the context error) if ctx ends while waiting for a slot.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	const op = "password.Verify"
	if err := checkPassword(op, password); err != nil {
		return false, false, err
	}
	p, salt, want, err := Parse(encoded)
	if err != nil {
		return false, false, fault.Wrap(fault.Internal, op, err, "")
	}
	ctx, end := h.span(ctx, "password verify")
	defer func() { end(err) }()
	release, err := h.acquire(ctx, op)
	if err != nil {
		return false, false, err
	}
	defer release()
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// DummyVerify does the work of Verify against a hash no password matches,
// and fails as Verify would (fault.Invalid, fault.TooManyRequests,
// fault.Unavailable). Callers run it when an account does not exist, and
// answer its errors as they answer Verify's, so looking up an unknown
// account takes as long, and fails alike, as a wrong password: neither the
// time nor the answer reveals which accounts exist.
func (h *Hasher) DummyVerify(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// derive computes the argon2id key of password, in the worker process when
// h has one and in the calling goroutine otherwise. The caller holds a slot
// until it returns, so a hash in progress counts against the limit.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	if h.worker != nil {
		return h.worker.derive(ctx, password, salt, p)
	}
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen), nil
}

// acquire waits for a hashing slot or for ctx to end. The returned function
// frees the slot.
func (h *Hasher) acquire(ctx context.Context, op string) (release func(), err error) {
	// A context that has already ended never starts a hash, even if a slot
	// is free.
	if err := ctx.Err(); err != nil {
		return nil, unavailable(op, err)
	}
	if h.budget != nil {
		d, err := h.budget.Allow(ctx, "hash", h.rate, 1)
		if err != nil {
			return nil, fault.Internalf(op, err)
		}
		if !d.Allowed {
			h.refusals.WithLabelValues("budget").Inc()
			return nil, &fault.Error{Kind: fault.TooManyRequests, Op: op,
				Msg: "too many password checks right now; try again shortly", RetryAfter: d.RetryAfter}
		}
	}
	select {
	case h.sem <- struct{}{}:
		h.hashes.Inc()
		return func() { <-h.sem }, nil
	case <-ctx.Done():
		h.refusals.WithLabelValues("canceled").Inc()
		return nil, unavailable(op, ctx.Err())
	}
}

func unavailable(op string, err error) error {
	return fault.Wrap(fault.Unavailable, op, err, "the server is busy verifying passwords; try again")
}

func checkPassword(op, password string) error {
	switch {
	case password == "":
		return fault.New(fault.Invalid, op, "the password must not be empty")
	case len(password) > MaxPasswordBytes:
		return fault.Newf(fault.Invalid, op, "the password must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}
