// Package embed turns text into vectors for semantic search. Embedder is
// the contract; Builtin is an offline embedder that needs no download
// (hashed word and character n-grams: lexical, not semantic), OpenAI a
// client of any server that speaks the OpenAI-compatible /v1/embeddings
// API (OpenAI, Ollama, vLLM, llama.cpp), with batching, retries, timeouts
// and a rate limit. Set resolves the embedder a collection's vector field
// names ("builtin", "openai") at the dimensions the field declares.
//
// A blank text (empty or only white space) has no vector: callers skip it
// (Blank), and Embed refuses it with ErrEmpty.
package embed

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// Errors of the package (compare with errors.Is).
var (
	// ErrTemporary marks failures worth retrying later.
	ErrTemporary = errors.New("embed: temporary failure")
	// ErrEmpty: a text is blank (empty or only white space). A blank text
	// has no vector: callers skip it (see Blank) rather than embed it.
	ErrEmpty = errors.New("embed: blank text")
	// ErrUnknown: no embedder of that name is configured.
	ErrUnknown = errors.New("embed: unknown embedder")
	// ErrDimensions: an embedder cannot make vectors of the dimensions
	// asked for, or a server returned vectors of other dimensions.
	ErrDimensions = errors.New("embed: wrong number of dimensions")
)

// Blank reports whether text is empty or only white space: such a text
// has no vector, and Embed fails with ErrEmpty if given one.
func Blank(text string) bool { return strings.TrimSpace(text) == "" }

// checkBlank returns an error wrapping ErrEmpty naming the first blank
// text, if any.
func checkBlank(texts []string) error {
	for i, t := range texts {
		if Blank(t) {
			return fmt.Errorf("%w: text %d", ErrEmpty, i)
		}
	}
	return nil
}
