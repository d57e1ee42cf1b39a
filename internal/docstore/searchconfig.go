package docstore

// This file declares a collection's search configuration: which fields
// full-text search reads (with weights) and in which language, and which
// vector fields semantic search compares, where their vectors come from.
// It is part of the collection definition, beside indexes and rules, and is
// checked with them (checkSearch).

// Search is a collection's search configuration. The zero value (no text,
// no vectors) means the collection is not searchable.
type Search struct {
	// Text configures full-text search; nil: none.
	Text *TextSearch `json:"text,omitempty"`
	// Vectors names the vector fields semantic search compares; the key
	// is the field's name (for client vectors, a top-level data property
	// holding an array of numbers).
	Vectors map[string]VectorField `json:"vectors,omitempty"`
}

// Enabled reports whether anything of the collection is searchable.
func (s Search) Enabled() bool { return s.Text != nil || len(s.Vectors) > 0 }

// TextSearch configures full-text search.
type TextSearch struct {
	// Fields maps a data path of a string (or array of strings) property
	// to its weight, 1 (least) to 4 (most): PostgreSQL's D to A, and the
	// column weight of SQLite's bm25.
	Fields map[string]int `json:"fields"`
	// Language selects stemming and stop words: a PostgreSQL text search
	// configuration name ("english", "simple", "french", …). SQLite stems
	// English only (FTS5's porter tokenizer); any other language is
	// tokenized without stemming there. Default "english".
	Language string `json:"language,omitempty"`
}

// Vector metrics.
const (
	MetricCosine = "cosine"
	MetricDot    = "dot"
	MetricL2     = "l2"
)

// Vector sources.
const (
	// SourceClient: the client supplies the vector in the document, as
	// the array of numbers at the data property named like the field.
	SourceClient = "client"
	// SourceEmbedder: Basalt computes the vector from the text of the
	// From fields with the named embedder, asynchronously.
	SourceEmbedder = "embedder"
)

// VectorField configures one vector field.
type VectorField struct {
	Dimensions int    `json:"dimensions"`
	Metric     string `json:"metric"` // cosine (default), dot or l2
	Source     string `json:"source"` // client (default) or embedder
	// From lists the data paths whose text the embedder reads, joined by
	// blank lines in this order (source embedder only).
	From []string `json:"from,omitempty"`
	// Embedder names a configured embedder (source embedder only);
	// default "builtin".
	Embedder string `json:"embedder,omitempty"`
}
