// Package embed turns text into vectors for semantic search. Embedder is
// the contract; Builtin is an offline embedder that needs no download
// (hashed word and character n-grams: lexical, not semantic), OpenAI a
// client of any server that speaks the OpenAI-compatible /v1/embeddings
// API (OpenAI, Ollama, vLLM, llama.cpp), with batching, retries, timeouts
// and a rate limit.
package embed

import (
	"context"
	"errors"
)

// Embedder computes the vectors of texts.
type Embedder interface {
	// Name identifies the embedder and its model (for example
	// "builtin-v1" or "openai:text-embedding-3-small"): vectors made under
	// different names are not comparable.
	Name() string
	// Dimensions is the length of every vector Embed returns.
	Dimensions() int
	// Embed returns one vector per text, in order. It fails as a whole:
	// either every vector or an error. Errors wrap ErrTemporary when a
	// retry later may succeed (the server was unreachable, overloaded or
	// rate limited the call).
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// ErrTemporary marks failures worth retrying later.
var ErrTemporary = errors.New("embed: temporary failure")
