// Package search runs full-text, vector and hybrid searches over a
// collection's documents with the caller's access rules and hidden fields
// applied to every hit, and keeps what search needs current: the text
// index builds after a configuration change, the in-process vector indexes
// (rebuilt at start or loaded from a snapshot, then fed by the event log),
// and the embeddings of documents whose vectors an embedder computes.
//
// Transports call Service; the vector indexes are reached through
// VectorSource, which Indexes implements in process.
package search

import (
	"github.com/basaltdev/basalt/internal/search/vector"
)

// VectorState describes one vector index as a search finds it.
type VectorState struct {
	// Pending counts the documents whose current vector is not yet in
	// the index: their embedding is still being computed, or the index
	// has not yet taken in their last write.
	Pending int
	// PendingIDs lists some of them (at most 100), for the API to say
	// which documents a search may miss.
	PendingIDs []string
	// Building is true while the index is rebuilt after a change of the
	// vector field's configuration; searches then use what is built.
	Building bool
}

// VectorSource gives the search service the vector index of a collection's
// vector field, as this process holds it.
type VectorSource interface {
	// Vectors returns the index of field in collection and its state. It
	// fails with fault.NotFound when the collection has no such vector
	// field (as this process last read its definition), and with
	// fault.Unavailable while no index of the field's current
	// configuration exists yet (first build after start or after a change
	// of dimensions or metric).
	Vectors(collection, field string) (vector.Index, VectorState, error)
}
