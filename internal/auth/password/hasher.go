package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"runtime"
	"time"

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
	params     Params
	sem        chan struct{} // one token per running hash
	dummy      string        // a hash no password matches, for DummyVerify
	background bool          // hash on threads of the lowest OS priority
	budget     *memory.Limiter
	rate       ratelimit.Limit
}

// Option tunes a Hasher.
type Option func(*Hasher)

// InBackground makes the Hasher compute every hash on an OS thread of its
// own at the lowest scheduling priority (on Linux the SCHED_IDLE policy,
// or nice 19 where that is refused; elsewhere the thread keeps its
// priority). The kernel then runs hashes only on CPU time
// that serving requests leaves idle, so a storm of logins slows logins, not
// everything else. Give the Go runtime one processor per hashing slot
// (GOMAXPROCS = CPUs + maxConcurrent), or a running hash still occupies a
// processor other requests need.
func InBackground() Option { return func(h *Hasher) { h.background = true } }

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
	if h.budget != nil {
		if err := h.rate.Validate(); err != nil {
			return nil, fault.Wrap(fault.Invalid, op, err, "invalid hashing rate")
		}
	}
	return h, nil
}

// Params returns the parameters h uses for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC-encoded argon2id hash of password with a fresh random
// salt. It fails with fault.Invalid for an empty password or one longer than
// MaxPasswordBytes, and with fault.Unavailable (wrapping the context error)
// if ctx ends while waiting for a hashing slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	const op = "password.Hash"
	if err := checkPassword(op, password); err != nil {
		return "", err
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fault.Internalf(op, err)
	}
	release, err := h.acquire(ctx, op)
	if err != nil {
		return "", err
	}
	defer release()
	key := h.derive(password, salt, h.params)
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
	release, err := h.acquire(ctx, op)
	if err != nil {
		return false, false, err
	}
	defer release()
	got := h.derive(password, salt, p)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// DummyVerify does the work of Verify against a hash no password matches.
// Callers run it when an account does not exist, so looking up an unknown
// account takes as long as a wrong password and does not reveal which
// accounts exist.
func (h *Hasher) DummyVerify(ctx context.Context, password string) {
	_, _, _ = h.Verify(ctx, password, h.dummy)
}

// derive computes the argon2id key of password. The caller holds a slot
// until it returns, so a hash in progress always counts against the limit.
func (h *Hasher) derive(password string, salt []byte, p Params) []byte {
	if !h.background {
		return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	}
	out := make(chan []byte, 1)
	go func() {
		// The thread is never unlocked: without privileges its priority
		// cannot be raised again, so it ends with this goroutine instead of
		// returning to the pool that serves requests.
		runtime.LockOSThread()
		lowerThreadPriority()
		out <- argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	}()
	return <-out
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
			return nil, &fault.Error{Kind: fault.TooManyRequests, Op: op,
				Msg: "too many password checks right now; try again shortly", RetryAfter: d.RetryAfter}
		}
	}
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-ctx.Done():
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
