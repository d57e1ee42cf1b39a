package app

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/search"
	"github.com/basaltdev/basalt/internal/search/embed"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/vector"
)

// SearchConfig configures search: where the vector indexes keep their
// snapshots, and the embedding server, if any.
type SearchConfig struct {
	// SnapshotDir is the directory of the vector index snapshots; ""
	// means <data-dir>/search.
	SnapshotDir string
	// SnapshotInterval is how often changed vector indexes are saved.
	SnapshotInterval time.Duration
	// Embedder configures the OpenAI-compatible embedder "openai"; nil
	// offers the builtin embedder only.
	Embedder *embed.OpenAIOptions
	// Timeout bounds one search, its wait for a turn included.
	Timeout time.Duration
	// Concurrency is how many searches run at once in the process.
	Concurrency int
}

// DefaultSearchConfig returns the defaults of SearchConfig.
func DefaultSearchConfig() SearchConfig {
	l := search.DefaultLimits()
	return SearchConfig{SnapshotInterval: search.DefaultSnapshotInterval, Timeout: l.Timeout, Concurrency: l.Concurrency}
}

func (c SearchConfig) validate() error {
	if c.SnapshotInterval < 10*time.Second || c.SnapshotInterval > 24*time.Hour {
		return errors.New("--search-snapshot-interval must be between 10s and 24h")
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute {
		return errors.New("--search-timeout must be between 100ms and 10m")
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		return errors.New("--search-concurrency must be between 1 and 1024")
	}
	if c.Embedder != nil {
		if _, err := embed.NewOpenAI(*c.Embedder); err != nil {
			return fmt.Errorf("--embedder-*: %w", err)
		}
	}
	return nil
}

// snapshotDir returns the directory of the snapshots.
func (c Config) snapshotDir() string {
	if c.Search.SnapshotDir != "" {
		return c.Search.SnapshotDir
	}
	return filepath.Join(c.DataDir, "search")
}

// searchFlags are serve's flags of search.
type searchFlags struct {
	SearchSnapshotDir      string        `name:"search-snapshot-dir" help:"Directory of the vector index snapshots, which let a restart load the indexes instead of rebuilding them from the database (default: <data-dir>/search) ($$BASALT_SEARCH_SNAPSHOT_DIR)." placeholder:"DIR"`
	SearchTimeout          time.Duration `name:"search-timeout" help:"Time limit of one search, its wait for a turn included, 100ms to 10m: past it the search answers 503 ($$BASALT_SEARCH_TIMEOUT)." default:"3s"`
	SearchConcurrency      int           `name:"search-concurrency" help:"Most searches running at once in this process, 1 to 1024; the others wait for a turn within --search-timeout ($$BASALT_SEARCH_CONCURRENCY)." default:"4"`
	SearchSnapshotInterval time.Duration `name:"search-snapshot-interval" help:"How often changed vector indexes are saved to their snapshots, 10s to 24h; they are also saved at shutdown ($$BASALT_SEARCH_SNAPSHOT_INTERVAL)." default:"10m"`
	EmbedderURL            string        `name:"embedder-url" help:"Base URL of a server speaking the OpenAI embeddings API (OpenAI, Ollama, vLLM, llama.cpp), offered to vector fields as the embedder \"openai\"; without it only the builtin embedder exists ($$BASALT_EMBEDDER_URL)." placeholder:"URL"`
	EmbedderModel          string        `name:"embedder-model" help:"Embedding model the server runs, e.g. text-embedding-3-small or nomic-embed-text ($$BASALT_EMBEDDER_MODEL)." placeholder:"NAME"`
	EmbedderKey            string        `name:"embedder-key" help:"API key sent to the embedding server as a bearer token; prefer the environment variable to the flag ($$BASALT_EMBEDDER_KEY)." placeholder:"KEY"`
	EmbedderDimensions     int           `name:"embedder-dimensions" help:"Length of the model's vectors (required with --embedder-url); vector fields using \"openai\" must declare it ($$BASALT_EMBEDDER_DIMENSIONS)." placeholder:"N"`
	EmbedderSendDimensions bool          `name:"embedder-send-dimensions" help:"Ask the server for vectors of --embedder-dimensions (only for models that can shorten their vectors, such as text-embedding-3-*) ($$BASALT_EMBEDDER_SEND_DIMENSIONS)."`
	EmbedderBatch          int           `name:"embedder-batch" help:"Most texts one request to the embedding server carries ($$BASALT_EMBEDDER_BATCH)." default:"64"`
	EmbedderMaxText        int           `name:"embedder-max-text" help:"Cut each text to this many bytes before sending it, so that a document longer than the model's context is embedded by its beginning; 0 sends texts whole ($$BASALT_EMBEDDER_MAX_TEXT)." default:"0"`
	EmbedderRate           float64       `name:"embedder-rate" help:"Most requests per second to the embedding server, retries included; 0 is unlimited ($$BASALT_EMBEDDER_RATE)." default:"0"`
	EmbedderTimeout        time.Duration `name:"embedder-timeout" help:"Time limit of one request to the embedding server ($$BASALT_EMBEDDER_TIMEOUT)." default:"60s"`
}

func (f searchFlags) apply(cfg *Config) error {
	cfg.Search = SearchConfig{SnapshotDir: f.SearchSnapshotDir, SnapshotInterval: f.SearchSnapshotInterval,
		Timeout: f.SearchTimeout, Concurrency: f.SearchConcurrency}
	if f.EmbedderURL == "" {
		if f.EmbedderModel != "" || f.EmbedderKey != "" || f.EmbedderDimensions != 0 {
			return errors.New("--embedder-model, --embedder-key and --embedder-dimensions need --embedder-url")
		}
		return nil
	}
	if f.EmbedderBatch < 1 || f.EmbedderMaxText < 0 || f.EmbedderRate < 0 || f.EmbedderTimeout <= 0 {
		return errors.New("--embedder-batch must be at least 1, --embedder-timeout positive, --embedder-max-text and --embedder-rate not negative")
	}
	cfg.Search.Embedder = &embed.OpenAIOptions{BaseURL: f.EmbedderURL, Model: f.EmbedderModel, APIKey: f.EmbedderKey,
		Dimensions: f.EmbedderDimensions, SendDimensions: f.EmbedderSendDimensions, BatchSize: f.EmbedderBatch,
		MaxTextBytes: f.EmbedderMaxText, RequestsPerSecond: f.EmbedderRate, Timeout: f.EmbedderTimeout}
	return nil
}

// embedders returns the embedders this process offers: builtin, and the
// OpenAI-compatible server when configured.
func embedders(cfg Config) (*embed.Set, error) {
	set, err := embed.NewSet(cfg.Search.Embedder)
	if err != nil {
		return nil, fmt.Errorf("--embedder-*: %w", err)
	}
	return set, nil
}

// searching is the search of one process: the service the routes call,
// the vector indexes it reads, the consumer that embeds documents and the
// builder of text indexes.
type searching struct {
	svc      *search.Service
	indexes  *search.Indexes
	builder  *search.Builder
	embedder *search.Embedder // nil without a bus
}

// newSearch builds the search of this process over db. committed wakes
// the relay after the embedder stored vectors (their events).
func newSearch(cfg Config, db database, bus eventbus.Bus, docs *docstore.Service, set *embed.Set, snapshotID string,
	committed func(), news *eventbus.Signal, log *slog.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*searching, error) {
	sdb, ok := db.Store.(searchdb.Store)
	if !ok {
		return nil, fmt.Errorf("the %s engine has no search", db.engine)
	}
	s := &searching{}
	var err error
	s.builder, err = search.NewBuilder(search.BuilderConfig{Collections: db.Store, Text: sdb, Cursors: db.cursors, Logger: log})
	if err != nil {
		return nil, err
	}
	s.indexes, err = search.NewIndexes(search.IndexesConfig{Log: db.log, Catalog: db.Store, Stored: sdb, News: news,
		SnapshotDir: cfg.snapshotDir(), SnapshotID: snapshotID, SnapshotInterval: cfg.Search.SnapshotInterval,
		NewIndex:  func(c vector.Config) (vector.Index, error) { return vector.NewAuto(c, vector.AutoOptions{}) },
		LoadIndex: vector.Load, Embedders: set.Embedder, OnCollection: s.builder.Kick, Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	s.svc, err = search.New(search.Options{Docs: docs, DB: sdb, Vectors: s.indexes, Embedders: set.Embedder,
		Limits: search.Limits{Timeout: cfg.Search.Timeout, Concurrency: cfg.Search.Concurrency}})
	if err != nil {
		return nil, err
	}
	if bus != nil && db.deadLetters != nil {
		s.embedder, err = search.NewEmbedder(search.EmbedderConfig{Bus: bus, DeadLetters: db.deadLetters, Collections: db.Store,
			Vectors: sdb, Embedders: set.Embedder, Committed: committed, Logger: log, Registerer: reg, Tracer: tracerOf(tp, "search")})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// components are the search parts that run until the process stops, in
// stop order: the embedder (it writes), the builder, then the indexes
// (which save their snapshots).
func (s *searching) components() []component {
	var out []component
	if s.embedder != nil {
		out = append(out, component{name: "search embedder", run: s.embedder.Run})
	}
	return append(out, component{name: "search text builder", run: s.builder.Run},
		component{name: "search indexes", run: s.indexes.Run})
}
