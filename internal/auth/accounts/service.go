package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/auth/mail"
	"github.com/basaltdev/basalt/internal/auth/password"
	"github.com/basaltdev/basalt/internal/auth/revocation"
	"github.com/basaltdev/basalt/internal/auth/token"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/ratelimit"
)

// Defaults of Options.
const (
	DefaultAccessTTL       = token.DefaultTTL
	DefaultSessionIdle     = 30 * 24 * time.Hour
	DefaultSessionLifetime = 90 * 24 * time.Hour
	DefaultRefreshGrace    = 10 * time.Second
	DefaultVerifyTTL       = 48 * time.Hour
	DefaultResetTTL        = time.Hour
	DefaultInviteTTL       = 7 * 24 * time.Hour
	// DefaultKeyPropagation is how long a new signing key is published
	// before it signs, so that every process verifies it first.
	DefaultKeyPropagation = 5 * time.Second
	// MinPasswordBytes is the shortest password accepted for new accounts.
	MinPasswordBytes = 8
)

// Mailer queues mail for delivery (mail.Queue).
type Mailer interface {
	Enqueue(m mail.Message) error
}

// Options configures a Service.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Hasher hashes passwords. Required.
	Hasher *password.Hasher
	// Issuer and Audience are the iss and aud of access tokens (default
	// "basalt" both).
	Issuer, Audience string
	// AccessTTL is the lifetime of access tokens (default 10 min).
	AccessTTL time.Duration
	// Leeway is the clock skew tolerated when verifying tokens (default
	// token.DefaultLeeway).
	Leeway time.Duration
	// SessionIdle ends a session not refreshed for this long (default 30
	// days); SessionLifetime ends every session this long after login
	// (default 90 days).
	SessionIdle, SessionLifetime time.Duration
	// RefreshGrace is how long a refresh token that was just exchanged
	// still returns the same successor, for clients retrying a refresh
	// whose answer they lost (default 10 s). Outside it, presenting a used
	// token revokes the whole session.
	RefreshGrace time.Duration
	// VerifyTTL, ResetTTL and InviteTTL are the lifetimes of emailed
	// tokens (defaults 48 h, 1 h and 7 days).
	VerifyTTL, ResetTTL, InviteTTL time.Duration
	// Signup says who may sign up (default SignupOpen).
	Signup SignupMode
	// KeyPropagation is how long a new signing key waits before it signs
	// (default 5 s; every process reloads keys every second).
	KeyPropagation time.Duration
	// RequireVerified refuses logins of accounts whose email address is
	// not verified.
	RequireVerified bool
	// Mail receives verification, reset and invitation messages.
	// Required.
	Mail Mailer
	// Limiter and the two limits throttle logins and emailed-token requests
	// per IP and per account. Limiter nil disables throttling.
	Limiter                   ratelimit.Limiter
	LoginPerIP, LoginPerEmail ratelimit.Limit
	// HashSharePerIP is the largest share of the hasher's budget
	// (password.MaxRate) that the hashes started for one client IP — its
	// logins, sign-ups and password resets — may use: at most
	// HashSharePerIP × the budget's rate per second, and HashSharePerIP ×
	// its burst (rounded up) at once. The rest of the budget stays for
	// everyone else while one IP floods. In (0, 1]; 0 means
	// DefaultHashSharePerIP, and 1 lets one IP use the whole budget. It
	// needs a Limiter and a hasher with a budget.
	HashSharePerIP float64
	// HashLimiter, if not nil, counts the hashes of HashSharePerIP instead
	// of Limiter. The hashing budget is this process's own, so its share
	// belongs in an in-process limiter when Limiter is shared between
	// processes (Redis).
	HashLimiter ratelimit.Limiter
	// DerivationKey (at least 32 bytes, shared by every process on the
	// database) derives a refresh token's successor from the token, so a
	// retried refresh can be answered with the same successor although only
	// hashes are stored.
	DerivationKey []byte
	// Revocation tunes the revocation feed (Retention is set from the
	// token lifetime).
	Revocation revocation.Options
	// Registerer receives the service's metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// DefaultLoginPerIP allows bursts of 20 login attempts from one IP and one
// per second after that; DefaultLoginPerEmail 10 per account, then one per
// 6 seconds.
var (
	DefaultLoginPerIP    = ratelimit.Limit{Rate: 1, Burst: 20}
	DefaultLoginPerEmail = ratelimit.Limit{Rate: 1.0 / 6, Burst: 10}
)

// DefaultHashSharePerIP lets one client IP use half the hashing budget.
const DefaultHashSharePerIP = 0.5

// Service is the account service.
type Service struct {
	store   Store
	log     *slog.Logger
	now     func() time.Time
	hasher  *password.Hasher
	opts    Options
	issuer  *token.Issuer
	cache   *token.Cache
	keys    *keyring
	revoked *revocation.Set
	apiKeys *apiKeyCache
	jobs    chan job // work done after answering (see later)
	metrics *metrics

	// hashPerIP is the share of the hashing budget one IP may use; the
	// zero Limit when unlimited (see Options.HashSharePerIP).
	hashPerIP ratelimit.Limit
}

// job is work Run does in the background for a request.
type job struct {
	name string
	fn   func(context.Context) error
}

// jobQueue bounds the background work waiting for Run.
const jobQueue = 256

// NewService returns the account service over store.
func NewService(store Store, opts Options) (*Service, error) {
	const op = "accounts.NewService"
	if store == nil {
		return nil, errors.New("accounts: nil store")
	}
	if opts.Hasher == nil {
		return nil, errors.New("accounts: a password hasher is required")
	}
	if opts.Mail == nil {
		return nil, errors.New("accounts: a mailer is required")
	}
	if len(opts.DerivationKey) < 32 {
		return nil, errors.New("accounts: the derivation key must be at least 32 bytes")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.AccessTTL, DefaultAccessTTL)
	def(&opts.Leeway, token.DefaultLeeway)
	def(&opts.SessionIdle, DefaultSessionIdle)
	def(&opts.SessionLifetime, DefaultSessionLifetime)
	def(&opts.RefreshGrace, DefaultRefreshGrace)
	def(&opts.VerifyTTL, DefaultVerifyTTL)
	def(&opts.ResetTTL, DefaultResetTTL)
	def(&opts.InviteTTL, DefaultInviteTTL)
	switch opts.Signup {
	case "":
		opts.Signup = SignupOpen
	case SignupOpen, SignupClosed, SignupInvite:
	default:
		return nil, fault.Newf(fault.Invalid, op, "sign-up mode %q is not open, closed or invite", opts.Signup)
	}
	def(&opts.KeyPropagation, DefaultKeyPropagation)
	if opts.Issuer == "" {
		opts.Issuer = "basalt"
	}
	if opts.Audience == "" {
		opts.Audience = "basalt"
	}
	if opts.LoginPerIP == (ratelimit.Limit{}) {
		opts.LoginPerIP = DefaultLoginPerIP
	}
	if opts.LoginPerEmail == (ratelimit.Limit{}) {
		opts.LoginPerEmail = DefaultLoginPerEmail
	}
	for _, l := range []ratelimit.Limit{opts.LoginPerIP, opts.LoginPerEmail} {
		if err := l.Validate(); err != nil {
			return nil, fault.Wrap(fault.Invalid, op, err, "invalid login limit")
		}
	}
	hashPerIP, err := hashShare(opts.Hasher, opts.HashSharePerIP)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, op, err, "invalid hashing share per IP")
	}
	issuer, err := token.NewIssuer(opts.Issuer, opts.Audience, opts.AccessTTL, opts.Now)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:  store,
		log:    opts.Logger,
		now:    opts.Now,
		hasher: opts.Hasher,
		opts:   opts,
		issuer: issuer,
	}
	s.keys = newKeyring(store, opts.Now, opts.KeyPropagation, opts.AccessTTL+opts.Leeway)
	verifier, err := token.NewVerifier(opts.Issuer, opts.Audience, s.keys.verifying, opts.Now, opts.Leeway)
	if err != nil {
		return nil, err
	}
	s.cache = token.NewCache(verifier, 100_000, opts.Now)
	ropts := opts.Revocation
	ropts.Retention = opts.AccessTTL + 2*opts.Leeway
	ropts.Now = opts.Now
	ropts.Logger = opts.Logger
	ropts.Registerer = opts.Registerer
	s.revoked, err = revocation.New(feed{s}, ropts)
	if err != nil {
		return nil, err
	}
	s.apiKeys = newAPIKeyCache(opts.Now)
	s.hashPerIP = hashPerIP
	s.jobs = make(chan job, jobQueue)
	if s.metrics, err = newMetrics(opts.Registerer); err != nil {
		return nil, err
	}
	return s, nil
}

// hashShare returns the limit of the hashes one IP may start: share of
// h's budget, rounded up to whole hashes in a burst; the zero Limit when
// one IP may use it all (share 1, or no budget).
func hashShare(h *password.Hasher, share float64) (ratelimit.Limit, error) {
	if share == 0 {
		share = DefaultHashSharePerIP
	}
	if math.IsNaN(share) || share <= 0 || share > 1 {
		return ratelimit.Limit{}, fmt.Errorf("%v is not in (0, 1]", share)
	}
	budget, ok := h.Budget()
	if !ok || share == 1 {
		return ratelimit.Limit{}, nil
	}
	l := ratelimit.Limit{Rate: budget.Rate * share, Burst: max(1, int(math.Ceil(float64(budget.Burst)*share)))}
	return l, l.Validate()
}

// Start loads the signing keys, creating the first one when the database
// has none, and reads the revocation feed once (a failure of that is
// logged: Run keeps trying). Call it before serving requests (Run calls it
// too).
func (s *Service) Start(ctx context.Context) error {
	if err := s.keys.load(ctx, true); err != nil {
		return err
	}
	if err := s.revoked.Sync(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("accounts: reading the revocation feed failed; retrying", "err", err)
	}
	return nil
}

// Ready returns nil when the service is ready to serve: its signing keys
// are loaded and its revocation set has caught up with the feed (Start
// does both). Otherwise its error says what is missing.
func (s *Service) Ready() error {
	var missing []string
	if !s.keys.loaded() {
		missing = append(missing, "signing keys are not loaded")
	}
	if !s.revoked.CaughtUp() {
		missing = append(missing, "the revocation feed has not been read")
	}
	if len(missing) > 0 {
		return fault.New(fault.Unavailable, "accounts.Ready", strings.Join(missing, "; "))
	}
	return nil
}

// Run keeps the service current until ctx ends: it follows the revocation
// feed, reloads signing keys every second, and purges what expired every
// minute, stores API keys' last use every 10 seconds, and does the work
// requests leave for later. It returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("accounts: loading signing keys: %w", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.revoked.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("accounts: revocation feed stopped", "err", err)
		}
	})
	keyTick := time.NewTicker(time.Second)
	useTick := time.NewTicker(10 * time.Second)
	purgeTick := time.NewTicker(time.Minute)
	defer func() {
		keyTick.Stop()
		useTick.Stop()
		purgeTick.Stop()
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			// The work requests left (mail they asked for) and the API
			// key use they recorded are done before returning, within a
			// bound.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownWork)
			defer cancel()
			s.runQueuedJobs(fctx)
			if err := s.FlushAPIKeyUse(fctx); err != nil {
				s.log.Warn("accounts: storing API key use", "err", err)
			}
			return nil
		case j := <-s.jobs:
			s.runJob(ctx, j)
		case <-useTick.C:
			if err := s.FlushAPIKeyUse(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("accounts: storing API key use", "err", err)
			}
		case <-keyTick.C:
			if err := s.keys.load(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Warn("accounts: reloading signing keys", "err", err)
			}
		case <-purgeTick.C:
			before := s.now().Add(-24 * time.Hour)
			if n, err := s.store.PurgeAuth(ctx, before); err != nil && ctx.Err() == nil {
				s.log.Warn("accounts: purging expired sessions and tokens", "err", err)
			} else if n > 0 {
				s.log.Debug("accounts: purged expired rows", "rows", n)
			}
		}
	}
}

// shutdownWork bounds what Run does after its context ends.
const shutdownWork = 5 * time.Second

// runJob does j within shutdownWork, even if ctx ends meanwhile: a job
// that started is finished.
func (s *Service) runJob(ctx context.Context, j job) {
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownWork)
	defer cancel()
	if err := j.fn(jctx); err != nil {
		s.log.Error("accounts: background work failed", "job", j.name, "err", err)
	}
}

// runQueuedJobs does the work waiting in the queue, until it is empty or
// ctx ends.
func (s *Service) runQueuedJobs(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case j := <-s.jobs:
			s.runJob(ctx, j)
		default:
			return
		}
	}
	if n := len(s.jobs); n > 0 {
		s.log.Error("accounts: background work dropped: shutting down", "jobs", n)
	}
}

// later queues fn for Run, so that the request that asks for it is
// answered without waiting for it — and without revealing, by how long the
// answer takes, whether there was anything to do. A full queue drops the
// work and logs it.
func (s *Service) later(name string, fn func(context.Context) error) {
	select {
	case s.jobs <- job{name: name, fn: fn}:
	default:
		s.log.Error("accounts: background work dropped: queue full", "job", name)
	}
}

// feed adapts the store to revocation.Feed.
type feed struct{ s *Service }

func (f feed) Since(ctx context.Context, since time.Time) ([]revocation.Entry, error) {
	rs, err := f.s.store.RevocationsSince(ctx, since)
	if err != nil {
		return nil, err
	}
	out := make([]revocation.Entry, len(rs))
	for i, r := range rs {
		out[i] = revocation.Entry{ID: r.ID, At: r.RevokedAt}
	}
	return out, nil
}

// Revoked asks the database whether a session or API key is revoked. An ID
// that names neither is revoked: it cannot be trusted.
func (f feed) Revoked(ctx context.Context, id string) (bool, error) {
	sess, err := f.s.store.SessionByID(ctx, id)
	if err == nil {
		return !sess.RevokedAt.IsZero(), nil
	}
	if !fault.Is(err, fault.NotFound) {
		return false, err
	}
	k, err := f.s.store.APIKeyByID(ctx, id)
	switch {
	case fault.Is(err, fault.NotFound):
		return true, nil
	case err != nil:
		return false, err
	}
	return !k.RevokedAt.IsZero(), nil
}

// timestamp is the service's clock in UTC at microsecond precision.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
