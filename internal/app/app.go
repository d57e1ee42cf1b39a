// Package app is Basalt's composition root: it turns a Config into running
// components (storage, services, transports, listeners), starts them in
// dependency order and stops them in reverse. It is the only package that
// imports storage engines and transports.
package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/auth/mail"
	"github.com/basaltdev/basalt/internal/auth/password"
	"github.com/basaltdev/basalt/internal/auth/revocation"
	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/adminui"
	"github.com/basaltdev/basalt/internal/gateway/authapi"
	"github.com/basaltdev/basalt/internal/gateway/eventsapi"
	"github.com/basaltdev/basalt/internal/gateway/graphqlapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/gateway/webhookapi"
	"github.com/basaltdev/basalt/internal/ratelimit"
	"github.com/basaltdev/basalt/internal/ratelimit/memory"
	"github.com/basaltdev/basalt/internal/remote"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
	"github.com/basaltdev/basalt/internal/storage/timing"
	"github.com/basaltdev/basalt/internal/telemetry"
)

// Run runs the Basalt server until ctx ends, then drains in-flight
// requests and closes the database. It runs the components of
// cfg.Split.Targets (every one by default) and reaches the others over
// gRPC; nothing past this wiring knows which are where.
func Run(ctx context.Context, cfg Config) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	reg := telemetry.NewRegistry()
	// Which build runs: during a rolling or canary upgrade, the
	// processes of each version side by side.
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "basalt_build_info",
		Help:        "Always 1; the labels name the build of the running binary.",
		ConstLabels: prometheus.Labels{"version": cfg.Build.Version, "commit": cfg.Build.Commit, "go_version": cfg.Build.Go}})
	build.Set(1)
	if err := reg.Register(build); err != nil {
		return err
	}
	// What operators alert on beside the requests: the dependencies as
	// they answer at each scrape, and when the certificates expire.
	deps, certs := telemetry.NewDependencies(time.Second), telemetry.NewCertificates()
	tracing, err := newTracing(ctx, cfg)
	if err != nil {
		return err
	}
	defer shutdownTracing(tracing, log)
	// traced is the tracer provider of the components, nil when tracing
	// is off: they then skip every span.
	var traced trace.TracerProvider
	if tracing.On() {
		traced = tracing.Provider
	}
	if err := registerAll(reg, deps, certs); err != nil {
		return err
	}
	here, err := cfg.Split.plan()
	if err != nil {
		return err
	}
	var internal *rpcapi.Internal
	var internalHTTP *http.Client
	if !here.all() {
		// Calls between components carry the internal token; a process
		// without the gateway serves components only.
		internal = &rpcapi.Internal{Token: cfg.Split.InternalToken, Only: !here.gateway}
		if internalHTTP, err = cfg.Split.internalClient(certs); err != nil {
			return err
		}
		// Calls to other components continue the caller's trace.
		internalHTTP.Transport = telemetry.Transport(internalHTTP.Transport, tracerOf(traced, "remote"), tracing.Propagator)
	}
	// clientIP is a request's client address: the one the gateway
	// vouches for with the internal token, else the socket's or, behind
	// trusted proxies, the forwarded one.
	clientIP := func(r *http.Request) string {
		if internal.Valid(r.Header.Get(rpcapi.InternalTokenHeader)) {
			if ip := r.Header.Get(rpcapi.ClientIPHeader); ip != "" {
				return ip
			}
		}
		return authapi.ClientIP(r, cfg.Auth.TrustedProxies)
	}
	// publicHost is the host a client sent a request to: a gateway's,
	// which it tells the component it passes the request on to.
	publicHost := func(r *http.Request) string {
		if h := r.Header.Get(rpcapi.HostHeader); h != "" && internal.Valid(r.Header.Get(rpcapi.InternalTokenHeader)) {
			return h
		}
		return r.Host
	}
	readyz := &readiness{}

	var db database
	var store docstore.Store
	if here.database() {
		if cfg.DB == "" {
			// One server per SQLite data directory; with PostgreSQL, several
			// processes on one database is how Basalt scales out.
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
			lock, err := lockDataDir(cfg.DataDir)
			if err != nil {
				return err
			}
			if err := reg.Register(telemetry.NewDataDir(cfg.DataDir)); err != nil {
				return err
			}
			defer func() {
				if err := lock.release(); err != nil {
					log.Error("releasing the data directory lock failed", "err", err)
				}
			}()
		}
		if db, err = openStore(ctx, cfg, log, traced); err != nil {
			return err
		}
		defer func() {
			if cerr := db.Close(); cerr != nil {
				log.Error("closing the database failed", "err", cerr)
			}
		}()
		if db.collector != nil {
			if err := reg.Register(db.collector); err != nil {
				return err
			}
		}
		var opts []timing.Option
		if traced != nil {
			opts = append(opts, timing.Traced(traced))
		}
		if store, err = timing.New(db.Store, db.engine, reg, telemetry.LatencyBuckets, opts...); err != nil {
			return err
		}
		readyz.add("database", databaseReady(store))
		dbCheck := db.Ping
		if r, ok := db.Store.(interface{ Reachable(context.Context) error }); ok {
			dbCheck = r.Reachable // PostgreSQL: on a connection of its own, outside the pool
		}
		deps.Add("database", dbCheck)
		if m, ok := db.Store.(interface{ MigrationVersion() int64 }); ok {
			if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_db_migration_version",
				Help: "Version of the last database migration applied, as read when the process started."},
				func() float64 { return float64(m.MigrationVersion()) })); err != nil {
				return err
			}
		}
	}
	rdb, err := openRedis(cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis(rdb)
	if rdb != nil {
		deps.Add("redis", func(ctx context.Context) error { return rdb.Do(ctx, rdb.B().Ping().Build()).Error() })
	}
	lims, err := newLimiters(rdb, log, reg)
	if err != nil {
		return err
	}
	apiLimits, err := newAPILimits(cfg, lims.api(), log, reg)
	if err != nil {
		return err
	}

	// The accounts component: here, or reached over gRPC.
	var comps []component
	var accAPI authapi.Accounts
	var localAccounts *accounts.Service
	if here.accounts {
		queue, err := mailQueue(cfg, log)
		if err != nil {
			return err
		}
		acc, hasher, err := accountService(ctx, cfg, db, log, reg, traced, queue, lims.auth(), revocationBroadcaster(rdb, log))
		if err != nil {
			return err
		}
		defer closeHasher(hasher, log)
		if err := acc.Start(ctx); err != nil {
			return fmt.Errorf("signing keys: %w", err)
		}
		accAPI, localAccounts = acc, acc
		readyz.add("accounts", func(context.Context) error { return acc.Ready() })
		// The account service queues mail (password resets) in the work it
		// finishes; the mail queue then sends everything queued.
		comps = append(comps, component{name: "account service", run: acc.Run}, component{name: "mail queue", run: queue.Run, flush: queue.Flush})
	} else {
		acc, err := remote.NewAccounts(remote.Options{URL: cfg.Split.AccountsURL, HTTPClient: internalHTTP, Token: cfg.Split.InternalToken})
		if err != nil {
			return err
		}
		accAPI = acc
		readyz.add("accounts", acc.Ready)
	}

	// The documents component: here, or reached over gRPC, with the
	// routes of what lives beside the documents (event streams, search,
	// webhooks, the event log) passed on to it.
	var docs restapi.Documents
	var mount []func(*http.ServeMux) error
	restOpts := restapi.Options{Logger: log, MaxBodyBytes: cfg.MaxBodyBytes, Authenticator: accAPI, Limits: apiLimits,
		OpenAPI: openAPIDescribers(cfg), Heartbeat: cfg.Realtime.Heartbeat, ClientIP: clientIP}
	rpcOpts := rpcapi.Options{MaxBodyBytes: int(cfg.MaxBodyBytes), CompressMinBytes: cfg.CompressMinBytes, Authenticator: accAPI, Limits: apiLimits, ClientIP: clientIP,
		Internal: internal, Ready: readyz.ready}
	services := rpcapi.Services{Accounts: accAPI}
	if localAccounts != nil {
		services.Component = localAccounts
	}
	var hub interface{ Drain() }
	// drains end what outlives a request when the server drains: the
	// GraphQL WebSocket connections.
	var drains []func()
	if here.documents {
		d, err := documentsComponent(ctx, cfg, db, store, rdb, log, reg, traced)
		if err != nil {
			return err
		}
		defer d.close()
		docs = d.svc
		restOpts.Catalog, restOpts.Subscriber, restOpts.Realtime = d.svc, d.svc, d.hub
		restOpts.Search, restOpts.SearchStatus = d.search.svc, d.search.svc
		rpcOpts.Realtime = d.hub
		services.Subscriber = d.svc
		hub = d.hub
		if k, ok := d.bus.(interface{ Check(context.Context) error }); ok { // Kafka
			deps.Add("kafka", k.Check)
		}
		mount = append(mount, func(mux *http.ServeMux) error {
			webhookapi.New(d.hooks.svc, accAPI, log).WithLimits(apiLimits).Register(mux)
			gql, err := graphqlapi.New(graphqlapi.Services{Documents: d.svc, Accounts: accAPI, Search: d.search.svc}, d.svc,
				cfg.GraphQL.options(graphqlapi.Options{Authenticator: accAPI, RateLimits: apiLimits, MaxBodyBytes: cfg.MaxBodyBytes, ClientIP: clientIP,
					Realtime: d.hub, Subscriber: d.svc, Origins: cfg.CORSOrigins, Host: publicHost, Heartbeat: cfg.Realtime.Heartbeat, MaxConnectionsPerIP: cfg.Realtime.MaxPerIP}))
			if err != nil {
				return err
			}
			gql.Register(mux)
			drains = append(drains, gql.Drain)
			return mountEventsAdmin(mux, db, d.bus, accAPI, apiLimits, log)
		})
		comps = append(d.components(), comps...)
		comps = append(comps, component{name: "document service", run: d.svc.Run},
			// Last: the consumers above depend on it.
			component{name: "event relay", run: d.relay.Run})
	} else if here.gateway {
		rd, err := remote.NewDocuments(remote.Options{URL: cfg.Split.DocumentsURL, HTTPClient: internalHTTP, Token: cfg.Split.InternalToken})
		if err != nil {
			return err
		}
		docs = rd
		readyz.add("documents", rd.Ready)
		forward, err := remote.Forwarder(remote.ForwardOptions{Options: remote.Options{URL: cfg.Split.DocumentsURL,
			HTTPClient: internalHTTP, Token: cfg.Split.InternalToken}, ClientIP: clientIP,
			Problem: restapi.NewResponder("gateway", log).WriteProblem})
		if err != nil {
			return err
		}
		restOpts.Elsewhere, rpcOpts.Elsewhere = forward, forward
		mount = append(mount, func(mux *http.ServeMux) error {
			for _, p := range slices.Concat(webhookapi.RoutePatterns(), eventsapi.RoutePatterns(), graphqlapi.RoutePatterns()) {
				mux.Handle(p, forward)
			}
			return nil
		})
	}
	if docs != nil {
		services.Documents, services.Collections = docs, docs
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz)
	rpcapi.MountHealth(mux, readyz.ready)
	mountMetrics(mux, cfg, reg, log)
	if docs != nil {
		restapi.New(docs, restOpts).Register(mux)
	}
	authapi.New(accAPI, authapi.Options{Logger: log, TrustedProxies: cfg.Auth.TrustedProxies, Limits: apiLimits}).Register(mux)
	rpcapi.New(services, rpcOpts).Register(mux)
	for _, m := range mount {
		if err := m(mux); err != nil {
			return err
		}
	}
	if cfg.AdminUI && here.gateway {
		console, err := adminui.New(restapi.WriteStatusProblem)
		if err != nil {
			return err
		}
		console.Register(mux)
	}
	mux.Handle("/", restapi.NotFoundHandler())
	mw, err := gateway.NewMiddleware(gateway.MiddlewareOptions{
		Logger: log, Registerer: reg, Buckets: telemetry.LatencyBuckets,
		Fallbacks: []string{"/", restapi.CatchAll},
		Classify:  apilimit.MetricClass,
		Problem:   restapi.WriteStatusProblem,
		Tracer:    tracerOf(traced, "gateway"), Propagator: tracing.Propagator,
	})
	if err != nil {
		return err
	}
	var routes http.Handler = mux
	if internal != nil && internal.Only {
		routes = componentsOnly(mux, internal)
	}
	handler, err := gateway.NewHandler(mw, routes, gateway.HandlerConfig{CORSOrigins: cfg.CORSOrigins, CompressMinBytes: cfg.CompressMinBytes})
	if err != nil {
		return err
	}
	srvCfg := gateway.Config{Addr: cfg.Addr, DrainTimeout: cfg.DrainTimeout}
	certComps, acmeNotAfter, err := serverTLS(cfg, &srvCfg, log)
	if err != nil {
		return err
	}
	if err := requireClientCerts(cfg, here, &srvCfg); err != nil {
		return err
	}
	srv := gateway.NewServer(srvCfg, handler, log)
	readyz.srv = srv
	switch {
	case acmeNotAfter != nil:
		certs.Add("server", acmeNotAfter)
	case srv.TLS():
		certs.Add("server", srv.CertificateNotAfter)
	}
	if hub != nil {
		srv.OnDrain(hub.Drain) // event streams end when the drain begins
	}
	for _, d := range drains {
		srv.OnDrain(d)
	}
	comps = append(certComps, comps...)
	if db.Store != nil {
		// First to stop: a draining process leaves the registry at once.
		if c := instanceComponent(cfg, db, here.String(), log); c != nil {
			comps = append([]component{*c}, comps...)
		}
	}
	metricsSrv, err := metricsListener(cfg, reg, mw, readyz, log)
	if err != nil {
		return err
	}
	addr, err := srv.Listen()
	if err != nil {
		return err
	}
	attrs := []any{"addr", addr.String(), "tls", srv.TLS(), "http3", srv.HTTP3(), "version", cfg.Version, "targets", here.String()}
	if cfg.AdminUI && here.gateway {
		attrs = append(attrs, "admin_console", adminui.Path)
	}
	if here.database() {
		attrs = append(attrs, storageAttrs(cfg)...)
	}
	if here.documents {
		attrs = append(attrs, busAttrs(cfg)...)
	}
	log.Info("basalt is serving", append(attrs, redisAttrs(cfg)...)...)
	if cfg.Ready != nil {
		cfg.Ready(addr.String())
	}
	// Stopped in reverse order once the listeners have drained: the
	// event relay last, after the consumers it feeds. The event bus, the
	// password worker and the database close after (deferred above).
	err = serve(ctx, log, srv, metricsSrv, comps)
	if errors.Is(err, gateway.ErrDrainTimeout) {
		log.Warn("basalt stopped: requests were cut off at the drain timeout", "exit_code", ExitDrainTimeout)
	} else if err == nil {
		log.Info("basalt stopped")
	}
	return err
}

// storageAttrs are the log attributes that say which database a command
// uses: the engine, and that engine's settings only.
func storageAttrs(cfg Config) []any {
	if cfg.DB == "" {
		return []any{"engine", "sqlite", "data_dir", cfg.DataDir, "sqlite_synchronous", cfg.SQLiteSynchronous}
	}
	host, name := "(unparsable)", ""
	if u, err := url.Parse(cfg.DB); err == nil {
		host, name = u.Host, strings.TrimPrefix(u.Path, "/")
		if host == "" {
			host = u.Query().Get("host")
		}
	}
	return []any{"engine", "postgres", "db_host", host, "db_name", name, "db_max_conns", cfg.DBMaxConns}
}

// mailQueue returns the queue of outgoing mail: SMTP when --smtp-addr is
// set, else the log (for development: mail, tokens included, is logged).
func mailQueue(cfg Config, log *slog.Logger) (*mail.Queue, error) {
	sender := mail.NewLogSender(log)
	if a := cfg.Auth; a.SMTPAddr != "" {
		var err error
		sender, err = mail.NewSMTPSender(mail.SMTPConfig{Addr: a.SMTPAddr, From: a.SMTPFrom,
			Username: a.SMTPUsername, Password: a.SMTPPass, StartTLS: a.SMTPStartTLS})
		if err != nil {
			return nil, fmt.Errorf("--smtp-*: %w", err)
		}
	} else {
		log.Warn("no --smtp-addr: verification and password reset mail is written to the log")
	}
	return mail.NewQueue(sender, 1024, log), nil
}

// accountService builds the account service over the opened database, and
// the password hasher it uses, which the caller closes after the service's
// last use. With cfg.Executable the hasher runs hashes in a worker process
// (password.InWorker); without, in-process.
func accountService(ctx context.Context, cfg Config, db database, log *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider, m accounts.Mailer, lim ratelimit.Limiter, bc revocation.Broadcaster) (*accounts.Service, *password.Hasher, error) {
	a := cfg.Auth
	opts := []password.Option{password.MaxRate(a.PasswordMaxRate, max(1, int(math.Ceil(a.PasswordMaxRate)))), password.Metrics(reg)}
	if tp != nil {
		opts = append(opts, password.Traced(tp))
	}
	if cfg.Executable != "" {
		stderr := cfg.Logs
		if stderr == nil {
			stderr = os.Stderr
		}
		opts = append(opts, password.InWorker(workerCommand(cfg.Executable, stderr)))
	}
	hasher, err := password.New(password.Params{
		Memory: a.PasswordMemoryKiB, Iterations: a.PasswordIterations, Parallelism: a.PasswordParallelism,
		SaltLen: 16, KeyLen: 32,
	}, a.PasswordMaxConcurrent, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("--password-*: %w", err)
	}
	derivation, err := secret(ctx, db.Store, "refresh-derivation-key")
	if err != nil {
		closeHasher(hasher, log)
		return nil, nil, err
	}
	acc, err := accounts.NewService(db.accounts, accounts.Options{
		Logger: log, Hasher: hasher, Issuer: a.Issuer, Audience: a.Audience,
		AccessTTL: a.AccessTTL, SessionIdle: a.SessionIdle, SessionLifetime: a.SessionLifetime,
		RefreshGrace: a.RefreshGrace, RequireVerified: a.RequireVerified, Mail: m, HashSharePerIP: a.PasswordIPShare,
		Signup: accounts.SignupMode(a.Signup), InviteTTL: a.InviteTTL,
		Limiter:       lim,
		HashLimiter:   memory.New(time.Now, 100_000), // the hashing budget, and so its share per IP, is this process's
		LoginPerIP:    ratelimit.Limit{Rate: float64(time.Second) / float64(a.LoginIPInterval), Burst: a.LoginIPBurst},
		LoginPerEmail: ratelimit.Limit{Rate: float64(time.Second) / float64(a.LoginEmailInterval), Burst: a.LoginEmailBurst},
		DerivationKey: derivation,
		Revocation:    revocation.Options{Broadcaster: bc},
		Registerer:    reg,
	})
	if err != nil {
		closeHasher(hasher, log)
		return nil, nil, err
	}
	return acc, hasher, nil
}

// workerCommand starts exe as the password worker: through /proc/self/exe
// when that is exe (Linux), so a worker restarted after the binary at exe
// was replaced by an upgrade is still this version.
func workerCommand(exe string, stderr io.Writer) password.Command {
	c := password.Command{Path: exe, Stderr: stderr}
	const self = "/proc/self/exe"
	if a, err := os.Stat(exe); err == nil {
		if b, err := os.Stat(self); err == nil && os.SameFile(a, b) {
			c.Path, c.Name = self, exe
		}
	}
	return c
}

// closeHasher stops the hasher's worker process, if it has one.
func closeHasher(h *password.Hasher, log *slog.Logger) {
	if err := h.Close(); err != nil {
		log.Error("stopping the password worker failed", "err", err)
	}
}

// CreateAdmin makes an account with the admin role ("basalt admin create").
func CreateAdmin(ctx context.Context, cfg Config) error {
	return withAccounts(ctx, cfg, func(acc *accounts.Service, log *slog.Logger) error {
		a, err := acc.CreateAccount(auth.WithPrincipal(ctx, auth.System()), accounts.NewAccount{
			Email: cfg.Admin.Email, Password: cfg.Admin.Password, Roles: []string{auth.RoleAdmin}, Verified: true,
		})
		if err != nil {
			return err
		}
		log.Info("admin account created", "id", a.ID, "email", a.Email)
		return nil
	})
}

// RotateKeys adds a signing key ("basalt keys rotate").
func RotateKeys(ctx context.Context, cfg Config) error {
	return withAccounts(ctx, cfg, func(acc *accounts.Service, log *slog.Logger) error {
		if err := acc.Start(ctx); err != nil {
			return err
		}
		k, err := acc.RotateKeys(auth.WithPrincipal(ctx, auth.System()))
		if err != nil {
			return err
		}
		log.Info("signing key added; it signs within seconds, the previous keys retire after the access-token lifetime", "kid", k.ID)
		return nil
	})
}

// withAccounts opens the database and runs fn with an account service.
func withAccounts(ctx context.Context, cfg Config, fn func(*accounts.Service, *slog.Logger) error) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			log.Error("closing the database failed", "err", cerr)
		}
	}()
	acc, hasher, err := accountService(ctx, cfg, db, log, nil, nil, discardMail{}, memory.New(time.Now, 100_000), nil)
	if err != nil {
		return err
	}
	defer closeHasher(hasher, log)
	return fn(acc, log)
}

// discardMail drops mail: commands run by operators send none.
type discardMail struct{}

func (discardMail) Enqueue(mail.Message) error { return nil }

// readiness answers GET /readyz: 200 while the server is not draining
// and every check passes (the database, the account service, the
// components in other processes); otherwise 503 with Retry-After and a
// JSON body that names what is not ready. The gRPC health checks and
// ComponentService.Ready answer from it too (ready).
type readiness struct {
	srv    *gateway.Server // nil until the server exists
	checks []readyCheck
}

// databaseReady checks that the database answers.
func databaseReady(store docstore.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		if store.Ping(ctx) != nil {
			return fault.New(fault.Unavailable, "readyz", "unavailable")
		}
		return nil
	}
}

// readyCheck is one thing a process needs to serve.
type readyCheck struct {
	name  string
	check func(context.Context) error
}

// add adds a check; its error's message is what /readyz says of it.
func (rd *readiness) add(name string, check func(context.Context) error) {
	rd.checks = append(rd.checks, readyCheck{name: name, check: check})
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	status, checks := rd.state(r.Context())
	if status != "ready" {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks,omitempty"`
	}{status, checks})
}

// ready is the readiness of the gRPC health checks: nil when /readyz
// answers 200.
func (rd *readiness) ready(ctx context.Context) error {
	if status, checks := rd.state(ctx); status != "ready" {
		var why []string
		for _, c := range rd.checks {
			if v := checks[c.name]; v != "ok" {
				why = append(why, c.name+": "+v)
			}
		}
		if len(why) == 0 {
			return errors.New(status)
		}
		return errors.New(strings.Join(why, "; "))
	}
	return nil
}

// state is "draining" (without checks), or "ready" or "not ready" with
// the outcome of each check, run at once.
func (rd *readiness) state(ctx context.Context) (string, map[string]string) {
	if rd.srv != nil && rd.srv.Draining() {
		return "draining", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	results := make([]string, len(rd.checks))
	var wg sync.WaitGroup
	for i, c := range rd.checks {
		wg.Go(func() {
			results[i] = "ok"
			if err := c.check(ctx); err != nil {
				results[i] = fault.Message(err)
			}
		})
	}
	wg.Wait()
	status, checks := "ready", make(map[string]string, len(rd.checks))
	for i, c := range rd.checks {
		checks[c.name] = results[i]
		if results[i] != "ok" {
			status = "not ready"
		}
	}
	return status, checks
}

func newLogger(cfg Config) (*slog.Logger, error) {
	out := cfg.Logs
	if out == nil {
		out = os.Stderr
	}
	return telemetry.NewLogger(out, cfg.LogLevel)
}

// database is an opened storage engine.
type database struct {
	docstore.Store
	accounts  accounts.Store
	engine    string // "sqlite" or "postgres", the engine label of metrics
	close     func() error
	collector prometheus.Collector // engine statistics (connection pool), may be nil
	// The event log and what the relay and consumers keep beside it, on
	// the engine itself (not through the timing wrapper).
	log         eventbus.Log
	cursors     eventbus.Cursors
	deadLetters consumer.DeadLetterStore
	waker       eventbus.Waker // nil when the engine cannot tell of other processes' events (SQLite)
}

func (d database) Close() error { return d.close() }

// openStore opens (and migrates) the configured database: PostgreSQL when
// --db is a postgres:// URL, else the embedded SQLite file in --data-dir.
func openStore(ctx context.Context, cfg Config, log *slog.Logger, tp trace.TracerProvider) (database, error) {
	switch {
	case strings.HasPrefix(cfg.DB, "postgres://") || strings.HasPrefix(cfg.DB, "postgresql://"):
		s, err := postgres.Open(ctx, postgres.Options{
			URL:              cfg.DB,
			MaxConns:         cfg.DBMaxConns,
			AcquireTimeout:   cfg.DBAcquireTimeout,
			StatementTimeout: cfg.DBStatementTimeout,
			MaxConnLifetime:  cfg.DBConnLifetime,
			Tracer:           tp,
			Logger:           log,
			Migrate:          cfg.Migration.Phase,
		})
		if err != nil {
			return database{}, fmt.Errorf("opening PostgreSQL: %w", err)
		}
		return database{Store: s, accounts: s, engine: "postgres", close: s.Close, collector: postgres.NewPoolCollector(s),
			log: s, cursors: s, deadLetters: s, waker: s}, nil
	case cfg.DB != "":
		return database{}, fmt.Errorf("--db %q: want a postgres:// URL, or nothing for the embedded SQLite database", redactURL(cfg.DB))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return database{}, fmt.Errorf("data directory: %w", err)
	}
	s, err := sqlite.Open(ctx, sqlite.Options{
		Path:        filepath.Join(cfg.DataDir, "basalt.db"),
		Synchronous: cfg.SQLiteSynchronous,
		Logger:      log,
		Tracer:      tp,
		Migrate:     cfg.Migration.Phase,
	})
	if err != nil {
		return database{}, err
	}
	return database{Store: s, accounts: s, engine: "sqlite", close: s.Close, log: s, cursors: s, deadLetters: s}, nil
}

// redactURL hides a password in a database URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// cursorKey returns the key that signs list cursors.
func cursorKey(ctx context.Context, store docstore.Store) ([]byte, error) {
	return secret(ctx, store, "cursor-signing-key")
}

// secret returns a 32-byte server secret. It lives in the database, so
// every process on one database shares it (and accepts the others'
// cursors, derives the same refresh tokens).
func secret(ctx context.Context, store docstore.Store, name string) ([]byte, error) {
	k, ok := store.(docstore.SecretKeeper)
	if !ok {
		return nil, fmt.Errorf("%T keeps no secrets", store)
	}
	candidate := make([]byte, 32)
	_, _ = rand.Read(candidate) // crypto/rand.Read never fails
	key, err := k.Secret(ctx, name, candidate)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return key, nil
}

// RunPasswordWorker runs the process as Basalt's password-hashing worker
// when getenv says it was started as one (password.WorkerEnv): it answers
// hash requests on stdin and stdout until stdin ends. ok is false for any
// other start.
func RunPasswordWorker(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	slots, ok := password.WorkerSlots(getenv)
	if !ok {
		return 0, false
	}
	if err := password.ServeWorker(stdin, stdout, stderr, slots); err != nil {
		fmt.Fprintln(stderr, "basalt:", err)
		return 1, true
	}
	return 0, true
}
