package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/basaltdev/basalt/internal/apilimit"
	"github.com/basaltdev/basalt/internal/auth/accounts"
	"github.com/basaltdev/basalt/internal/buildinfo"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus/kafka"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/slo"
	"github.com/basaltdev/basalt/internal/storage/migration"
	"github.com/basaltdev/basalt/internal/tlscert"
)

// Config is everything a Basalt process needs to run.
type Config struct {
	Addr              string
	DataDir           string
	DB                string
	LogLevel          string
	SQLiteSynchronous string
	// PostgreSQL connection pool (--db postgres://…).
	DBMaxConns         int32
	DBAcquireTimeout   time.Duration
	DBStatementTimeout time.Duration
	DBConnLifetime     time.Duration
	MaxBodyBytes       int64
	DrainTimeout       time.Duration
	// TLSCert and TLSKey are PEM files; with both, Basalt serves HTTPS.
	TLSCert, TLSKey string
	// Reload re-reads the TLS certificate on each value (main sends SIGHUP).
	Reload <-chan os.Signal
	// TLS: certificates from ACME or self-signed, and HTTP/3.
	TLS TLSConfig
	// CORSOrigins are the origins browser apps may call from.
	CORSOrigins []string
	// CompressMinBytes is the smallest JSON answer compressed; 0 turns
	// compression off.
	CompressMinBytes int
	// ListTotalCap is the most documents a list's total counts (1 to
	// docstore.MaxListTotalCap); beyond it the total says it is capped.
	ListTotalCap int
	// Realtime configures realtime subscriptions.
	Realtime RealtimeConfig
	// GraphQL configures the GraphQL API.
	GraphQL GraphQLConfig
	// AdminUI serves the admin console at /_/ (with the public API).
	AdminUI bool
	// Webhooks configures webhook deliveries.
	Webhooks WebhookConfig
	// Version is Build.Version.
	Version string
	// Build is the running binary's build (main sets it).
	Build buildinfo.Info
	// VersionJSON makes "basalt version" print JSON.
	VersionJSON bool
	Auth        AuthConfig
	// Admin is the account "basalt admin create" makes.
	Admin AdminAccount
	// DevKafka is the cluster "basalt dev kafka" runs.
	DevKafka DevKafkaConfig
	// Tracing configures OpenTelemetry tracing.
	Tracing TracingConfig
	// Status configures "basalt status".
	Status StatusConfig
	// Alerts configures "basalt alerts rules".
	Alerts AlertsConfig
	// EventsStatusJSON makes "basalt events status" print JSON.
	EventsStatusJSON bool
	// Migration is what "basalt migrate" does.
	Migration MigrateConfig
	// Events configures the event log and its relay.
	Events EventsConfig
	// Kafka, with brokers, carries change events through Kafka instead
	// of the in-process bus.
	Kafka KafkaConfig
	// Search configures the vector index snapshots and the embedders.
	Search SearchConfig
	// RateLimits are the API-wide rate limits (apilimit.DefaultConfig by
	// default).
	RateLimits apilimit.Config
	// Redis, with a URL, is shared by the processes (login throttles).
	Redis RedisConfig
	// Cache configures the cache of document reads.
	Cache CacheConfig
	// Split places this process's components (--target) and reaches the
	// others.
	Split SplitConfig

	// Executable is the Basalt binary, which serve starts again as its
	// password-hashing worker (password.InWorker); empty hashes in-process,
	// on threads of the lowest priority.
	Executable string

	// Logs receives the JSON log lines (os.Stderr when nil).
	Logs io.Writer
	// Ready, when set, is called with the listening address once Basalt
	// accepts requests. Tests use it with Addr "127.0.0.1:0".
	Ready func(addr string)

	// MetricsAddr is the separate listener of /metrics (with /healthz and
	// /readyz); empty serves /metrics on Addr, and only with MetricsToken.
	MetricsAddr string
	// MetricsToken is the bearer token /metrics is served to; empty serves
	// it to nobody on Addr, and to anyone on MetricsAddr.
	MetricsToken string
	// MetricsReady, when set, is called with the address of the metrics
	// listener once it accepts requests.
	MetricsReady func(addr string)
}

// AuthConfig configures accounts, sessions and tokens.
type AuthConfig struct {
	Issuer, Audience       string
	AccessTTL              time.Duration
	SessionIdle            time.Duration
	SessionLifetime        time.Duration
	RefreshGrace           time.Duration
	RequireVerified        bool
	Signup                 string        // open, closed or invite (accounts.SignupMode)
	InviteTTL              time.Duration // lifetime of invitations
	PasswordMemoryKiB      uint32
	PasswordIterations     uint32
	PasswordParallelism    uint8
	PasswordMaxConcurrent  int
	PasswordMaxRate        float64 // hashes started per second
	PasswordIPShare        float64 // the share of PasswordMaxRate one client IP may use
	LoginIPBurst           int
	LoginIPInterval        time.Duration
	LoginEmailBurst        int
	LoginEmailInterval     time.Duration
	TrustedProxies         []netip.Prefix
	SMTPAddr, SMTPFrom     string
	SMTPUsername, SMTPPass string
	SMTPStartTLS           bool
}

// AdminAccount is an account made from the command line.
type AdminAccount struct {
	Email, Password string
}

// DefaultAuthConfig returns the defaults of AuthConfig.
func DefaultAuthConfig() AuthConfig {
	return AuthConfig{
		Issuer: "basalt", Audience: "basalt",
		AccessTTL: 10 * time.Minute, SessionIdle: 30 * 24 * time.Hour, SessionLifetime: 90 * 24 * time.Hour,
		RefreshGrace: 10 * time.Second,
		Signup:       "open", InviteTTL: 7 * 24 * time.Hour,
		PasswordMemoryKiB: 19456, PasswordIterations: 2, PasswordParallelism: 1,
		PasswordMaxConcurrent: max(1, runtime.GOMAXPROCS(0)/2),
		PasswordMaxRate:       float64(3 * runtime.GOMAXPROCS(0)),
		PasswordIPShare:       0.5,
		LoginIPBurst:          20, LoginIPInterval: time.Second,
		LoginEmailBurst: 10, LoginEmailInterval: 6 * time.Second,
	}
}

// DefaultConfig returns the configuration of a plain `basalt serve`.
func DefaultConfig() Config {
	return Config{
		Addr:               "127.0.0.1:8080",
		DataDir:            "./basalt_data",
		LogLevel:           "info",
		SQLiteSynchronous:  "full",
		DBMaxConns:         16,
		DBAcquireTimeout:   2 * time.Second,
		DBStatementTimeout: 5 * time.Second,
		DBConnLifetime:     30 * time.Minute,
		MaxBodyBytes:       1 << 20,
		DrainTimeout:       15 * time.Second,
		CompressMinBytes:   gateway.DefaultCompressMinBytes,
		ListTotalCap:       docstore.DefaultListTotalCap,
		GraphQL:            DefaultGraphQLConfig(),
		AdminUI:            true,
		Realtime:           DefaultRealtimeConfig(),
		Events:             DefaultEventsConfig(),
		Webhooks:           DefaultWebhookConfig(),
		Auth:               DefaultAuthConfig(),
		Kafka:              KafkaConfig{TopicPrefix: kafka.DefaultTopicPrefix},
		Search:             DefaultSearchConfig(),
		Cache:              DefaultCacheConfig(),
		RateLimits:         apilimit.DefaultConfig(),
		TLS:                DefaultTLSConfig(),
	}
}

// cli is the command line of the basalt binary. Every flag can also be set
// by the environment variable BASALT_<FLAG> (upper case, "-" as "_") or by
// the member <flag> of the JSON file named by --config; the order of
// precedence is flag > environment > file > default.
type cli struct {
	Config   string `help:"JSON configuration file whose members are flag names, e.g. {\"addr\": \"127.0.0.1:9000\"} ($$BASALT_CONFIG)." placeholder:"FILE"`
	LogLevel string `help:"Log level: debug, info, warn or error ($$BASALT_LOG_LEVEL)." default:"info" enum:"debug,info,warn,error"`

	Serve   serveCmd   `cmd:"" help:"Run the Basalt server (the default: SQLite in --data-dir, listening on --addr)."`
	Migrate migrateCmd `cmd:"" help:"Apply database migrations and exit."`
	Admin   struct {
		Create adminCreateCmd `cmd:"" help:"Create an account with the admin role (the address must not have an account yet). Without a prompt: the password comes from --password or, better, the environment variable BASALT_PASSWORD, and must be ${password_rules}."`
	} `cmd:"" help:"Manage admin accounts."`
	Keys struct {
		Rotate keysRotateCmd `cmd:"" help:"Add a new signing key for access tokens; the old keys verify until their last token expires, then retire."`
	} `cmd:"" help:"Manage the signing keys of access tokens."`
	Events struct {
		Status eventsStatusCmd `cmd:"" help:"Print the change-event consumers on the database (position, lag, dead letters; the relay first) and the event log's size and bounds."`
	} `cmd:"" help:"Inspect the change events."`
	Status statusCmd `cmd:"" help:"Inspect a running Basalt process through its /readyz and /metrics: readiness, dependencies, database pool and migrations, revocation feed, outbox and consumers, password hashing, data directory, certificates, requests by class. Exits 1 when the process is not ready or cannot be reached."`
	Alerts struct {
		Rules      alertsRulesCmd    `cmd:"" help:"Print Basalt's Prometheus rules: the service-level indicators and burn-rate alerts of the objectives, and the alerts on causes (dependencies down, saturation, backlogs, certificates), each with its runbook's URL."`
		Objectives struct{}          `cmd:"" help:"Print the default service-level objectives (YAML), to edit and pass to alerts rules --objectives."`
		Analysis   alertsAnalysisCmd `cmd:"" help:"Print the Argo Rollouts AnalysisTemplate that fails a canary or blue-green preview whose pods burn their error or latency budget as fast as would page (see docs/deployment.md)."`
	} `cmd:"" help:"Prometheus alert rules and service-level objectives (docs/observability.md)."`
	Targets     struct{}    `cmd:"" help:"List the components serve --target can run in a process, what each serves and what it needs."`
	Version     versionCmd  `cmd:"" help:"Print the version, the commit and its date, the Go version and the platform, and exit."`
	VersionFlag versionFlag `name:"version" help:"Print the version, the commit and its date, the Go version and the platform, and exit (as the version command)."`
	Dev         struct {
		Kafka devKafkaCmd `cmd:"" help:"Run a Kafka-protocol development cluster in this process (franz-go's kfake) for trying --kafka by hand; not for production."`
	} `cmd:"" help:"Tools for development."`
}

type versionCmd struct {
	JSON bool `name:"json" help:"Print JSON: version, commit, modified, date, go, platform."`
}

// versionFlag is --version, which ParseCommandLine answers as the version
// command whatever else the command line holds.
type versionFlag bool

// errVersionFlag stops parsing at --version, before kong asks for a
// command.
var errVersionFlag = errors.New("--version")

// BeforeReset is the kong hook that runs when --version is given.
func (versionFlag) BeforeReset() error { return errVersionFlag }

type adminCreateCmd struct {
	storageFlags
	Email    string `help:"Email address of the new admin ($$BASALT_EMAIL)." required:"" placeholder:"ADDRESS"`
	Password string `help:"Password of the new admin: ${password_rules}. Prefer the environment variable BASALT_PASSWORD to the flag, which other users can see in the process list ($$BASALT_PASSWORD)." required:"" placeholder:"PASSWORD"`
}

type eventsStatusCmd struct {
	storageFlags
	kafkaFlags
	JSON bool `name:"json" help:"Print JSON (the answer of GET /v1/admin/consumers) instead of a table."`
}

type keysRotateCmd struct {
	storageFlags
	AccessTTL time.Duration `name:"auth-access-ttl" help:"Lifetime of access tokens, which decides when the old keys retire; use the servers' value ($$BASALT_AUTH_ACCESS_TTL)." default:"10m"`
}

// authFlags configure accounts, sessions and tokens.
type authFlags struct {
	AuthIssuer          string        `name:"auth-issuer" help:"The iss claim of access tokens ($$BASALT_AUTH_ISSUER)." default:"basalt"`
	AuthAudience        string        `name:"auth-audience" help:"The aud claim of access tokens ($$BASALT_AUTH_AUDIENCE)." default:"basalt"`
	AuthAccessTTL       time.Duration `name:"auth-access-ttl" help:"Lifetime of access tokens ($$BASALT_AUTH_ACCESS_TTL)." default:"10m"`
	AuthSessionIdle     time.Duration `name:"auth-session-idle" help:"A session not refreshed for this long ends ($$BASALT_AUTH_SESSION_IDLE)." default:"720h"`
	AuthSessionLifetime time.Duration `name:"auth-session-lifetime" help:"Every session ends this long after login ($$BASALT_AUTH_SESSION_LIFETIME)." default:"2160h"`
	AuthRefreshGrace    time.Duration `name:"auth-refresh-grace" help:"How long a retried refresh with a just-used token gets the same new token instead of revoking the session ($$BASALT_AUTH_REFRESH_GRACE)." default:"10s"`
	AuthRequireVerified bool          `name:"auth-require-verified" help:"Refuse logins until the email address is verified ($$BASALT_AUTH_REQUIRE_VERIFIED)."`
	AuthSignup          string        `name:"auth-signup" help:"Who may sign up with POST /v1/auth/signup: open (anyone), closed (nobody: admins create accounts) or invite (only addresses an admin invited) ($$BASALT_AUTH_SIGNUP)." default:"open" enum:"open,closed,invite"`
	AuthInviteTTL       time.Duration `name:"auth-invite-ttl" help:"How long an invitation to sign up stays valid ($$BASALT_AUTH_INVITE_TTL)." default:"168h"`
	PasswordMemoryKiB   uint32        `name:"password-memory-kib" help:"argon2id memory per hash, KiB ($$BASALT_PASSWORD_MEMORY_KIB)." default:"19456"`
	PasswordIterations  uint32        `name:"password-iterations" help:"argon2id passes ($$BASALT_PASSWORD_ITERATIONS)." default:"2"`
	PasswordParallelism uint8         `name:"password-parallelism" help:"argon2id lanes ($$BASALT_PASSWORD_PARALLELISM)." default:"1"`
	PasswordConcurrency int           `name:"password-max-concurrent" help:"Most password hashes computed at once; 0 means half the CPUs ($$BASALT_PASSWORD_MAX_CONCURRENT)." default:"0"`
	PasswordMaxRate     float64       `name:"password-max-rate" help:"Most password hashes started per second by this process (logins, sign-ups, password changes), beyond which they are answered 429; 0 means 3 per CPU ($$BASALT_PASSWORD_MAX_RATE)." default:"0"`
	PasswordIPShare     float64       `name:"password-ip-share" help:"Largest share of --password-max-rate the hashes for one client IP (its logins, sign-ups, password resets) may use, beyond which they are answered 429; 1 lets one IP use it all ($$BASALT_PASSWORD_IP_SHARE)." default:"0.5"`
	LoginIPBurst        int           `name:"login-ip-burst" help:"Login, sign-up and reset-confirmation attempts one IP may make in a burst ($$BASALT_LOGIN_IP_BURST)." default:"20"`
	LoginIPInterval     time.Duration `name:"login-ip-interval" help:"After the burst, one attempt per IP per this interval ($$BASALT_LOGIN_IP_INTERVAL)." default:"1s"`
	LoginEmailBurst     int           `name:"login-email-burst" help:"Login attempts and current-password checks on one account in a burst; also sign-ups, reset and verification requests per address ($$BASALT_LOGIN_EMAIL_BURST)." default:"10"`
	LoginEmailInterval  time.Duration `name:"login-email-interval" help:"After the burst, one attempt per account per this interval ($$BASALT_LOGIN_EMAIL_INTERVAL)." default:"6s"`
	TrustedProxies      []string      `name:"trusted-proxies" help:"Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed; by default the client IP is the socket's peer ($$BASALT_TRUSTED_PROXIES)." placeholder:"CIDR,…"`
	SMTPAddr            string        `name:"smtp-addr" help:"SMTP server (host:port) for verification and reset mail; empty logs mail instead, for development ($$BASALT_SMTP_ADDR)." placeholder:"HOST:PORT"`
	SMTPFrom            string        `name:"smtp-from" help:"From address of mail ($$BASALT_SMTP_FROM)." placeholder:"ADDRESS"`
	SMTPUsername        string        `name:"smtp-username" help:"SMTP user ($$BASALT_SMTP_USERNAME)."`
	SMTPPassword        string        `name:"smtp-password" help:"SMTP password ($$BASALT_SMTP_PASSWORD)."`
	SMTPStartTLS        bool          `name:"smtp-starttls" help:"Use STARTTLS (required with a username unless the server is on localhost) ($$BASALT_SMTP_STARTTLS)."`
}

func (f authFlags) apply(cfg *Config) error {
	a := &cfg.Auth
	a.Issuer, a.Audience, a.AccessTTL = f.AuthIssuer, f.AuthAudience, f.AuthAccessTTL
	a.SessionIdle, a.SessionLifetime, a.RefreshGrace = f.AuthSessionIdle, f.AuthSessionLifetime, f.AuthRefreshGrace
	a.RequireVerified = f.AuthRequireVerified
	a.Signup, a.InviteTTL = f.AuthSignup, f.AuthInviteTTL
	a.PasswordMemoryKiB, a.PasswordIterations, a.PasswordParallelism = f.PasswordMemoryKiB, f.PasswordIterations, f.PasswordParallelism
	if f.PasswordConcurrency > 0 {
		a.PasswordMaxConcurrent = f.PasswordConcurrency
	}
	if f.PasswordMaxRate < 0 {
		return errors.New("--password-max-rate must not be negative")
	}
	if f.PasswordMaxRate > 0 {
		a.PasswordMaxRate = f.PasswordMaxRate
	}
	a.PasswordIPShare = f.PasswordIPShare
	a.LoginIPBurst, a.LoginIPInterval = f.LoginIPBurst, f.LoginIPInterval
	a.LoginEmailBurst, a.LoginEmailInterval = f.LoginEmailBurst, f.LoginEmailInterval
	a.SMTPAddr, a.SMTPFrom, a.SMTPUsername, a.SMTPPass, a.SMTPStartTLS = f.SMTPAddr, f.SMTPFrom, f.SMTPUsername, f.SMTPPassword, f.SMTPStartTLS
	a.TrustedProxies = nil
	for _, s := range f.TrustedProxies {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if addr, aerr := netip.ParseAddr(s); aerr == nil {
				p = netip.PrefixFrom(addr, addr.BitLen())
			} else {
				return fmt.Errorf("--trusted-proxies: %q is not a CIDR or an IP address", s)
			}
		}
		a.TrustedProxies = append(a.TrustedProxies, p.Masked())
	}
	return nil
}

type storageFlags struct {
	DataDir            string        `help:"Directory of the embedded database and local state ($$BASALT_DATA_DIR)." default:"./basalt_data" placeholder:"DIR"`
	DB                 string        `help:"Database URL: postgres://user:password@host:5432/db selects PostgreSQL; empty selects the embedded SQLite database in --data-dir ($$BASALT_DB)." placeholder:"URL"`
	DBMaxConns         int32         `name:"db-max-conns" help:"PostgreSQL: most pooled connections per process ($$BASALT_DB_MAX_CONNS)." default:"16"`
	DBAcquireTimeout   time.Duration `name:"db-acquire-timeout" help:"PostgreSQL: how long a request waits for a pooled connection before failing with 503 ($$BASALT_DB_ACQUIRE_TIMEOUT)." default:"2s"`
	DBStatementTimeout time.Duration `name:"db-statement-timeout" help:"PostgreSQL: statement_timeout of every connection ($$BASALT_DB_STATEMENT_TIMEOUT)." default:"5s"`
	DBConnLifetime     time.Duration `name:"db-conn-lifetime" help:"PostgreSQL: connections are replaced after this long ($$BASALT_DB_CONN_LIFETIME)." default:"30m"`
	SQLiteSynchronous  string        `name:"sqlite-synchronous" help:"SQLite durability: full (acknowledged writes survive power loss) or normal (they survive a crash of the process; the last ones may be lost on power loss) ($$BASALT_SQLITE_SYNCHRONOUS)." default:"full" enum:"full,normal"`
}

func (f storageFlags) apply(cfg *Config) {
	cfg.DataDir, cfg.DB, cfg.SQLiteSynchronous = f.DataDir, f.DB, f.SQLiteSynchronous
	cfg.DBMaxConns, cfg.DBAcquireTimeout = f.DBMaxConns, f.DBAcquireTimeout
	cfg.DBStatementTimeout, cfg.DBConnLifetime = f.DBStatementTimeout, f.DBConnLifetime
}

type serveCmd struct {
	Addr string `help:"TCP listen address ($$BASALT_ADDR)." default:"127.0.0.1:8080" placeholder:"HOST:PORT"`
	storageFlags
	MaxBodyBytes int64         `help:"Largest request body accepted, in bytes ($$BASALT_MAX_BODY_BYTES)." default:"1048576"`
	DrainTimeout time.Duration `help:"How long shutdown waits for in-flight requests ($$BASALT_DRAIN_TIMEOUT)." default:"15s"`
	MetricsAddr  string        `name:"metrics-addr" help:"Separate listen address of /metrics, /healthz and /readyz (plain HTTP, for a private network); /metrics then leaves --addr ($$BASALT_METRICS_ADDR)." placeholder:"HOST:PORT"`
	MetricsToken string        `name:"metrics-token" help:"Bearer token that /metrics is served to (16 or more visible characters); without it and without --metrics-addr, /metrics is not served. Prefer the environment variable to the flag ($$BASALT_METRICS_TOKEN)." placeholder:"TOKEN"`
	CORSOrigins  []string      `name:"cors-origins" help:"Comma-separated origins (scheme://host[:port]) of browser apps allowed to call the API, or * for any; none by default ($$BASALT_CORS_ORIGINS)." placeholder:"ORIGIN,…"`
	CompressMin  int           `name:"compress-min-bytes" help:"Smallest JSON answer (and gRPC/Connect message) compressed (zstd or gzip, as the client accepts); 0 turns compression off ($$BASALT_COMPRESS_MIN_BYTES)." default:"1024"`
	AdminUI      bool          `name:"admin-ui" help:"Serve the admin console at /_/ (static pages that sign an admin in and call the public API; nothing else is exposed by it) ($$BASALT_ADMIN_UI)." default:"true" negatable:""`
	ListTotalCap int           `name:"list-total-cap" help:"Most documents a list with total=true counts (1 to 1000000); when more match, the answer has total = the cap and totalCapped = true ($$BASALT_LIST_TOTAL_CAP)." default:"10000"`
	tlsFlags
	splitFlags
	authFlags
	eventsFlags
	realtimeFlags
	kafkaFlags
	webhookFlags
	searchFlags
	redisFlags
	cacheFlags
	rateLimitFlags
	graphqlFlags
	tracingFlags
}

type migrateCmd struct {
	storageFlags
	Phase string `help:"expand applies the pending migrations that only add (safe while the previous release still runs; basalt serve applies them too); contract applies every pending migration, including those that remove what the previous release used: run it only once every process of that release has stopped ($$BASALT_MIGRATE_PHASE)." enum:"expand,contract" default:"expand"`
	List  bool   `help:"List the migrations, their phase and whether the database has them, and the processes serving from it; apply nothing."`
	JSON  bool   `name:"json" help:"Print the migrations and the processes as JSON."`
	Force bool   `help:"With --phase contract: apply the contract migrations even while processes that predate them still serve from the database (by default it refuses)."`
}

func (c migrateCmd) apply(cfg *Config) {
	c.storageFlags.apply(cfg)
	cfg.Migration = MigrateConfig{Phase: migration.Phase(c.Phase), List: c.List, JSON: c.JSON, Force: c.Force}
}

// Command is a parsed command line.
type Command struct {
	Name   string // serve, migrate, "admin create", "keys rotate", "dev kafka", "events status", targets or version
	Config Config
}

// ParseCommandLine parses the arguments (without the program name) with
// getenv as the environment. Help output goes to stdout; exit is called
// after --help.
func ParseCommandLine(args []string, getenv func(string) string, stdout, stderr io.Writer, exit func(int)) (Command, error) {
	var c cli
	if len(args) == 0 {
		args = []string{"--help"} // a bare `basalt` explains itself
	}
	file, err := loadConfigFile(args, getenv)
	if err != nil {
		return Command{}, err
	}
	parser, err := kong.New(&c,
		kong.Name("basalt"),
		kong.Description("Basalt: a self-hostable backend for application developers. JSON document collections with schemas, filters and cursor pagination, accounts, revocable tokens, API keys and access rules over REST, in one binary."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(exit),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Resolvers(&envFileResolver{getenv: getenv, file: file}),
		kong.Vars{"password_rules": accounts.PasswordRules(), "rate_limit_defaults": rateLimitDefaults(), "acme_directory": tlscert.LetsEncrypt, "runbook_base": slo.DefaultRunbookBase},
	)
	if err != nil {
		return Command{}, err
	}
	kctx, err := parser.Parse(args)
	if errors.Is(err, errVersionFlag) {
		return Command{Name: "version", Config: DefaultConfig()}, nil
	}
	if err != nil {
		return Command{}, err
	}
	cfg := DefaultConfig()
	cfg.LogLevel = c.LogLevel
	words := strings.Fields(kctx.Command())
	cmd := words[0]
	if (cmd == "admin" || cmd == "keys" || cmd == "dev" || cmd == "events" || cmd == "alerts") && len(words) > 1 {
		cmd += " " + words[1]
	}
	switch cmd {
	case "serve":
		cfg.Addr = c.Serve.Addr
		c.Serve.storageFlags.apply(&cfg)
		cfg.MaxBodyBytes, cfg.DrainTimeout = c.Serve.MaxBodyBytes, c.Serve.DrainTimeout
		cfg.MetricsAddr, cfg.MetricsToken = c.Serve.MetricsAddr, c.Serve.MetricsToken
		c.Serve.tlsFlags.apply(&cfg)
		c.Serve.splitFlags.apply(&cfg)
		cfg.CORSOrigins, cfg.CompressMinBytes = c.Serve.CORSOrigins, c.Serve.CompressMin
		cfg.ListTotalCap, cfg.AdminUI = c.Serve.ListTotalCap, c.Serve.AdminUI
		c.Serve.eventsFlags.apply(&cfg)
		c.Serve.realtimeFlags.apply(&cfg)
		c.Serve.kafkaFlags.apply(&cfg)
		c.Serve.redisFlags.apply(&cfg)
		c.Serve.cacheFlags.apply(&cfg)
		if err := c.Serve.webhookFlags.apply(&cfg); err != nil {
			return Command{}, err
		}
		if err := c.Serve.searchFlags.apply(&cfg); err != nil {
			return Command{}, err
		}
		if err := c.Serve.authFlags.apply(&cfg); err != nil {
			return Command{}, err
		}
		if err := c.Serve.rateLimitFlags.apply(&cfg); err != nil {
			return Command{}, err
		}
		c.Serve.graphqlFlags.apply(&cfg)
		c.Serve.tracingFlags.apply(&cfg)
	case "migrate":
		c.Migrate.apply(&cfg)
	case "admin create":
		c.Admin.Create.apply(&cfg)
		cfg.Admin = AdminAccount{Email: c.Admin.Create.Email, Password: c.Admin.Create.Password}
	case "keys rotate":
		c.Keys.Rotate.apply(&cfg)
		cfg.Auth.AccessTTL = c.Keys.Rotate.AccessTTL
	case "version":
		cfg.VersionJSON = c.Version.JSON
	case "dev kafka":
		c.Dev.Kafka.apply(&cfg)
	case "status":
		c.Status.apply(&cfg)
	case "alerts rules":
		c.Alerts.Rules.apply(&cfg)
	case "alerts analysis":
		c.Alerts.Analysis.apply(&cfg)
	case "events status":
		c.Events.Status.storageFlags.apply(&cfg)
		c.Events.Status.kafkaFlags.apply(&cfg)
		cfg.EventsStatusJSON = c.Events.Status.JSON
	}
	return Command{Name: cmd, Config: cfg}, cfg.validate()
}

func (c Config) validate() error {
	if c.MaxBodyBytes < 1024 {
		return errors.New("--max-body-bytes must be at least 1024")
	}
	if c.DBMaxConns < 1 {
		return errors.New("--db-max-conns must be at least 1")
	}
	if c.DBAcquireTimeout <= 0 || c.DBStatementTimeout <= 0 {
		return errors.New("--db-acquire-timeout and --db-statement-timeout must be positive")
	}
	if c.DrainTimeout < 0 {
		return errors.New("--drain-timeout must not be negative")
	}
	if err := validateMetricsToken(c.MetricsToken); err != nil {
		return err
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if err := c.validateSplit(); err != nil {
		return err
	}
	if _, err := gateway.ParseCORSOrigins(c.CORSOrigins); err != nil {
		return err
	}
	if c.CompressMinBytes < 0 {
		return errors.New("--compress-min-bytes must not be negative")
	}
	if c.ListTotalCap < 1 || c.ListTotalCap > docstore.MaxListTotalCap {
		return fmt.Errorf("--list-total-cap must be between 1 and %d", docstore.MaxListTotalCap)
	}
	if err := c.Events.validate(); err != nil {
		return err
	}
	if err := c.Realtime.validate(); err != nil {
		return err
	}
	if err := c.Kafka.validate(); err != nil {
		return err
	}
	if err := c.GraphQL.validate(); err != nil {
		return err
	}
	if err := c.Cache.validate(); err != nil {
		return err
	}
	if err := c.Redis.validate(); err != nil {
		return err
	}
	if err := c.Webhooks.validate(); err != nil {
		return err
	}
	if err := c.Search.validate(); err != nil {
		return err
	}
	a := c.Auth
	if a.AccessTTL < time.Minute || a.AccessTTL > 24*time.Hour {
		return errors.New("--auth-access-ttl must be between 1m and 24h")
	}
	if a.SessionIdle < time.Minute || a.SessionLifetime < a.SessionIdle {
		return errors.New("--auth-session-idle must be at least 1m and --auth-session-lifetime at least as long")
	}
	if a.RefreshGrace < 0 || a.RefreshGrace > time.Minute {
		return errors.New("--auth-refresh-grace must be between 0s and 1m")
	}
	if a.InviteTTL < time.Minute {
		return errors.New("--auth-invite-ttl must be at least 1m")
	}
	if !(a.PasswordIPShare > 0 && a.PasswordIPShare <= 1) {
		return errors.New("--password-ip-share must be more than 0 and at most 1")
	}
	if a.LoginIPBurst < 1 || a.LoginEmailBurst < 1 || a.LoginIPInterval <= 0 || a.LoginEmailInterval <= 0 {
		return errors.New("--login-*-burst must be at least 1 and --login-*-interval positive")
	}
	if a.SMTPAddr != "" && a.SMTPFrom == "" {
		return errors.New("--smtp-from is required with --smtp-addr")
	}
	return nil
}

// loadConfigFile finds --config (or BASALT_CONFIG) before parsing, so the
// file can act as a source of defaults for every other flag.
func loadConfigFile(args []string, getenv func(string) string) (map[string]any, error) {
	path := getenv("BASALT_CONFIG")
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == "--config" && i+1 < len(args) {
			path = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--config="); ok {
			path = v
		}
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return m, nil
}

// envFileResolver gives flags not set on the command line their value from
// the environment, else from the config file.
type envFileResolver struct {
	getenv func(string) string
	file   map[string]any
}

func envName(flag string) string {
	return "BASALT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func (r *envFileResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	_ = kong.Visit(app, func(node kong.Visitable, next kong.Next) error {
		if f, ok := node.(*kong.Flag); ok {
			known[f.Name] = true
		}
		return next(nil)
	})
	for k := range r.file {
		if !known[k] {
			return fmt.Errorf("config file: unknown setting %q", k)
		}
	}
	return nil
}

func (r *envFileResolver) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	if flag.Name == "help" || flag.Name == "config" || flag.Tag.Has("noresolve") {
		return nil, nil
	}
	if v := r.getenv(envName(flag.Name)); v != "" {
		return v, nil
	}
	if v, ok := r.file[flag.Name]; ok {
		switch t := v.(type) {
		case string:
			return t, nil
		case float64:
			return strconv.FormatFloat(t, 'f', -1, 64), nil
		case bool:
			return strconv.FormatBool(t), nil
		default:
			return nil, fmt.Errorf("config file: %q must be a string, number or boolean", flag.Name)
		}
	}
	return nil, nil
}
