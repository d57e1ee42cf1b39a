// Package vector defines the vector index contract semantic search uses,
// and implements it in process: Flat (exact search) for small sets, HNSW
// (approximate, Malkov & Yashunin) for large ones, and Auto, which starts
// flat and switches to HNSW above a threshold. vectortest/ is the
// conformance suite every implementation passes, so that an external
// engine (Weaviate, pgvector, …) can implement Index later without any
// change to its callers.
//
// An index holds the vectors of one vector field of one collection. It is
// never the truth: the database is, and an index can always be rebuilt from
// it.
//
// # Choosing an index
//
// NewAuto is what a server uses: exact answers while a field holds few
// vectors, HNSW's speed once it holds many, and the switch made in the
// background. NewFlat and NewHNSW are its two halves. Every index writes a
// snapshot (Snapshotter) that Load restores as the kind it was; an HNSW
// snapshot keeps the graph, so a restart does not rebuild it.
//
// # HNSW parameters
//
// M (default DefaultM = 32) is the number of links of a node on the upper
// layers, 2·M on layer 0. It sets what recall a search can reach at all:
// on 20,000 uniform random vectors of 128 dimensions, recall@10 at ef 160
// was 0.82 with M = 16, 0.94 with M = 32 and 0.98 with M = 48; raising
// efConstruction instead (16 / 400) gained nothing. Memory grows by 8·M
// bytes per vector (the layer-0 links), build time about linearly in M.
// Under l2 and cosine each node also holds an 8-bit code of its vector,
// one byte a dimension, which searches walk the graph by before ranking
// what they found by the exact distances (quant.go).
//
// EfConstruction (default DefaultEfConstruction = 200, as hnswlib's) is
// the beam width while linking a node. On uniform 100,000 × 128 vectors,
// 200 against 100 gives recall@10 0.968 instead of 0.949 at ef 512 (so
// 0.95 needs ef 512, not 768) for about 1.8 times the build time; on
// clustered vectors the recall at a given ef barely changes.
//
// EfSearch (default DefaultEfSearch) is the beam width of a search, the
// knob between recall and speed; SearchOptions.Ef sets it per search.
// What recall a width gives depends on the data: real embeddings, which
// cluster, need far less than uniform random vectors, where every point
// is nearly as far as its nearest neighbour. The vectors scenario of
// basalt-bench (bench/README.md) measures recall@10 and queries per second
// at growing widths on 100,000 × 128 vectors of both kinds.
//
// Building links a batch on every core: a node's links are guarded by a
// lock of its own while the batch is linked, and searches wait for the
// batch (they never see half a write).
//
// # Measured
//
// With the defaults, on 100,000 × 128 vectors (the vectors scenario's
// measurement, vectorbench.Run, `go run ./bench/cmd/basalt-bench
// -scenarios vectors`; 2-core EPYC shared with other work, so rates are
// per CPU-second of the searching thread): on 100 Gaussian clusters,
// recall@10 0.928 at ef 32 and 0.966 at ef 48, about 50,000 queries/s
// against exact search's 526 (95×); the build took 15.4 s of CPU (8 s
// wall); HNSW holds 1,099 bytes per vector, Flat 673 (512 of them the
// vector). Uniform random vectors are the worst case of every graph index
// — a point's nearest neighbours are barely nearer than the rest — and
// need wide beams: recall@10 0.892 at ef 256, 0.944 at ef 384 and 0.968
// at ef 512, where HNSW answers 1,738 queries/s against exact search's
// 588 (3.0×); the build took 2 min 6 s of CPU (1 min 4 s wall). Real
// embeddings lie much nearer the clustered case. Below 10,000 vectors exact search
// costs at most about 0.6 ms, which is why Auto stays flat there (see
// DefaultAutoThreshold).
package vector

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Metric says how vectors are compared.
type Metric string

// The metrics. Every Hit carries a Distance, lower is nearer:
// cosine: 1 − cos(a, b), in [0, 2]; dot: −(a·b); l2: the Euclidean distance.
const (
	Cosine Metric = "cosine"
	Dot    Metric = "dot"
	L2     Metric = "l2"
)

// Valid reports whether m is one of the metrics.
func (m Metric) Valid() bool { return m == Cosine || m == Dot || m == L2 }

// Item is one vector of an index, named by its document's id.
type Item struct {
	ID     string
	Vector []float32
}

// Hit is one result of a search.
type Hit struct {
	ID       string
	Distance float32
}

// SearchOptions narrow or tune one search.
type SearchOptions struct {
	// Only, when non-nil, restricts the search to these ids (an allow
	// list, such as the documents a filter and the caller's rules admit);
	// ids the index does not hold are ignored. An empty non-nil slice
	// finds nothing.
	Only []string
	// Ef is the size of the candidate list of an approximate search (at
	// least k is used); 0 uses the index's default. Exact indexes ignore
	// it.
	Ef int
}

// Errors of the contract (compare with errors.Is).
var (
	// ErrDimensions: a vector's length is not the index's dimensions.
	ErrDimensions = errors.New("vector: wrong number of dimensions")
	// ErrInvalid: a vector holds NaN or ±Inf, or (cosine) has length 0,
	// or an item's id is empty.
	ErrInvalid = errors.New("vector: invalid vector")
	// ErrConfig: a Config or the options of an index are out of range.
	ErrConfig = errors.New("vector: invalid index configuration")
	// ErrSnapshot: a snapshot is truncated, corrupted or of an unknown
	// version.
	ErrSnapshot = errors.New("vector: invalid snapshot")
	// ErrClosed: the index was closed.
	ErrClosed = errors.New("vector: index closed")
)

// Config is what an index is built for.
type Config struct {
	Dimensions int
	Metric     Metric
}

// MaxDimensions is the most dimensions an index accepts.
const MaxDimensions = 65536

// Validate checks that c names a metric and 1 to MaxDimensions dimensions;
// its error wraps ErrConfig.
func (c Config) Validate() error {
	if c.Dimensions < 1 || c.Dimensions > MaxDimensions {
		return fmt.Errorf("%w: dimensions %d (want 1 to %d)", ErrConfig, c.Dimensions, MaxDimensions)
	}
	if !c.Metric.Valid() {
		return fmt.Errorf("%w: metric %q (want %s, %s or %s)", ErrConfig, c.Metric, Cosine, Dot, L2)
	}
	return nil
}

// Index is a set of vectors searchable by nearness. Implementations are
// safe for concurrent use: searches run while items are added and
// removed, and see each Upsert or Delete entirely or not at all.
type Index interface {
	// Config returns the dimensions and metric the index was made for.
	Config() Config
	// Upsert adds items, replacing the vector of an id already held. It
	// checks every item first: on ErrDimensions or ErrInvalid nothing
	// changes.
	Upsert(ctx context.Context, items []Item) error
	// Delete removes ids; ids not held are ignored.
	Delete(ctx context.Context, ids []string) error
	// Search returns the k items nearest to q, nearest first (ties in id
	// order), fewer only when the index (or opts.Only) holds fewer; k < 1
	// finds nothing. q is checked like an item's vector.
	Search(ctx context.Context, q []float32, k int, opts SearchOptions) ([]Hit, error)
	// Vector returns a copy of the vector held for id, and whether one
	// is. Under the cosine metric, indexes may hold (and return) the
	// vector scaled to unit length: the distances are the same.
	Vector(id string) ([]float32, bool)
	// Len returns how many items the index holds.
	Len() int
	// Close releases the index; later calls fail with ErrClosed.
	Close() error
}

// Snapshotter is implemented by in-process indexes that can write their
// state, so that a restart loads it instead of rebuilding. Load is the
// matching constructor: it restores whichever in-process index wrote the
// snapshot.
type Snapshotter interface {
	// Snapshot writes the index's state to w.
	Snapshot(w io.Writer) error
}
