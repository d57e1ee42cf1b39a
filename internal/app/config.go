package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
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
	Version            string

	// Logs receives the JSON log lines (os.Stderr when nil).
	Logs io.Writer
	// Ready, when set, is called with the listening address once Basalt
	// accepts requests. Tests use it with Addr "127.0.0.1:0".
	Ready func(addr string)
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
	Version struct{}   `cmd:"" help:"Print the version and exit."`
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
}

type migrateCmd struct {
	storageFlags
}

// Command is a parsed command line.
type Command struct {
	Name   string // serve, migrate or version
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
		kong.Description("Basalt: a self-hostable backend for application developers. JSON document collections with schemas, filters and cursor pagination over REST, in one binary."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(exit),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Resolvers(&envFileResolver{getenv: getenv, file: file}),
	)
	if err != nil {
		return Command{}, err
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		return Command{}, err
	}
	cfg := DefaultConfig()
	cfg.LogLevel = c.LogLevel
	cmd := strings.Fields(kctx.Command())[0]
	switch cmd {
	case "serve":
		cfg.Addr = c.Serve.Addr
		c.Serve.apply(&cfg)
		cfg.MaxBodyBytes, cfg.DrainTimeout = c.Serve.MaxBodyBytes, c.Serve.DrainTimeout
	case "migrate":
		c.Migrate.apply(&cfg)
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
	if flag.Name == "help" || flag.Name == "config" {
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
