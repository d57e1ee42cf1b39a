// Package eventbus defines Basalt's change events: the envelope every
// consumer receives, the event log the database keeps (the outbox table read
// in commit order), and the bus contract that carries events to named
// consumers. Implementations: memory/ (in-process, durable through the
// database's log) and kafka/ (franz-go). eventbustest/ is the conformance
// suite every implementation passes.
//
// Guarantees every implementation keeps:
//
//   - At least once: an event whose write committed reaches every named
//     consumer at least once, across restarts of the consumer, the relay
//     and the bus; a write that did not commit produces no event.
//   - Per-document order: the events of one document (and of one collection
//     definition) reach a consumer in position order, which is the order
//     their writes committed. Events of different documents may interleave
//     differently on different buses.
//   - Resumable: a named consumer continues after the last batch its handler
//     acknowledged; the handler may see the unacknowledged batch again.
package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Type names what happened.
type Type string

// The event types.
const (
	DocumentCreated    Type = "document.created"
	DocumentReplaced   Type = "document.replaced"
	DocumentPatched    Type = "document.patched"
	DocumentDeleted    Type = "document.deleted"
	CollectionCreated  Type = "collection.created"
	CollectionReplaced Type = "collection.replaced" // a replace or a patch of the definition
	CollectionDeleted  Type = "collection.deleted"  // one event, not one per document
)

// SearchVectors is an internal event: an embedder stored the vectors of one
// document (its payload: {"field": name, "vector": [numbers]}), so that
// every process's vector index takes them in. Internal events travel
// through the log like the others, in commit order, but never leave
// Basalt: consumers, realtime streams and webhooks skip them, and they are
// not among Types.
const SearchVectors Type = "search.vectors"

// Internal reports whether t is an internal event type, which callers
// never see.
func (t Type) Internal() bool { return t == SearchVectors }

// Types lists every public event type, in the order above.
func Types() []Type {
	return []Type{DocumentCreated, DocumentReplaced, DocumentPatched, DocumentDeleted,
		CollectionCreated, CollectionReplaced, CollectionDeleted}
}

// Valid reports whether t is one of the event types.
func (t Type) Valid() bool {
	for _, k := range Types() {
		if t == k {
			return true
		}
	}
	return false
}

// IsCollection reports whether t is about a collection's definition rather
// than one document.
func (t Type) IsCollection() bool {
	return t == CollectionCreated || t == CollectionReplaced || t == CollectionDeleted
}

// Event is one change event: the record of one committed write.
type Event struct {
	// ID is unique per event (a UUIDv7), the same on every redelivery.
	ID   string `json:"id"`
	Type Type   `json:"type"`
	// Collection is the collection written to (or defined).
	Collection string `json:"collection"`
	// DocumentID is the document written; empty for collection events.
	DocumentID string `json:"documentId,omitempty"`
	// Version is the version the write produced: the document's new
	// version; for a document delete the deleted version + 1; for
	// collection events the definition's version (for a delete, the
	// deleted version + 1). A document deleted and created again starts
	// again at version 1: order is given by Position, not by Version.
	Version int64 `json:"version"`
	// Time is when the write happened (the document's updatedAt).
	Time time.Time `json:"time"`
	// Payload is the document after the write as the API shows it to an
	// administrator (hidden fields included: consumers that hand events to
	// callers remove them), the collection definition for collection
	// events, and {"id","collection","version"} for deletes.
	Payload json.RawMessage `json:"payload"`
	// BatchID is set on the events of a POST /v1/batch: the same for every
	// operation of one batch.
	BatchID string `json:"batchId,omitempty"`
	// Position is the event's place in the database's log: positions grow
	// in commit order and are never reused. Zero until the relay numbers
	// the event.
	Position int64 `json:"position"`
	// TraceParent is the W3C traceparent of the write that made the event
	// when it was traced (empty otherwise), so that its consumers continue
	// the write's trace. It is not part of the event's JSON: Kafka carries
	// it in a record header, webhooks in the traceparent header.
	TraceParent string `json:"-"`
}

// Key is the partition key that keeps one document's events in order:
// "collection/documentId", or the collection name for collection events.
func (e Event) Key() string {
	if e.DocumentID == "" {
		return e.Collection
	}
	return e.Collection + "/" + e.DocumentID
}

// Handler processes a batch of events. Returning nil acknowledges the whole
// batch; an error means none of it is acknowledged and the batch (or a
// batch that starts with the same events) is delivered again. Within a
// batch, one document's events are in position order.
type Handler func(ctx context.Context, events []Event) error

// Bus carries events from the relay to named consumers.
type Bus interface {
	// Publish hands events, in position order, to the bus. It returns nil
	// only once the bus holds all of them durably; on an error the relay
	// publishes them again (consumers may then see duplicates).
	Publish(ctx context.Context, events []Event) error
	// Consume delivers events to h as the durable consumer called name,
	// starting where that name last acknowledged (a new name starts at
	// the oldest event the bus retains), until ctx ends; it then returns
	// nil after the handler call in progress finishes. Several processes
	// may consume one name: each event is then handled by one of them at
	// a time (at least once overall). Consume returns an error only when
	// it cannot go on (the bus is closed, the name is invalid).
	Consume(ctx context.Context, name string, h Handler) error
	// Lag reports how many events the consumer called name has not yet
	// acknowledged (an estimate on buses that cannot count exactly).
	Lag(ctx context.Context, name string) (int64, error)
	// Close releases the bus's connections. Consume calls in progress end.
	Close() error
}

// Log is the database's event log: the outbox table, numbered in commit
// order. Storage engines implement it; the relay, the in-process bus and
// realtime subscriptions read it.
type Log interface {
	// Sequence numbers committed events that have no position yet, at
	// most limit of them, in commit order, and returns how many it
	// numbered. Several processes may call it at once: positions never
	// repeat, never go back, and an event that commits after events with
	// higher positions were read still gets a position (a higher one). An
	// engine whose insertion order is its commit order (SQLite: one
	// writer) numbers events when they are written and returns 0.
	Sequence(ctx context.Context, limit int) (int, error)
	// ReadEvents returns up to limit numbered events with a position above
	// after, in position order.
	ReadEvents(ctx context.Context, after int64, limit int) ([]Event, error)
	// LogBounds returns the position below which events have been trimmed
	// (every position ≤ trimmed is gone) and the highest position given.
	LogBounds(ctx context.Context) (trimmed, newest int64, err error)
	// TrimEvents deletes numbered events with a position ≤ upTo whose time
	// is before cutoff, and returns how many it deleted. It deletes a prefix
	// of the log only: an event within the window keeps every later one
	// (times need not follow positions), so no hole is left above trimmed.
	TrimEvents(ctx context.Context, before time.Time, upTo int64) (int64, error)
	// LogSize returns how many events the log holds and their payloads'
	// total size in bytes.
	LogSize(ctx context.Context) (events, bytes int64, err error)
}

// Cursors stores named consumers' positions in the log.
type Cursors interface {
	// Cursor returns the position consumer name acknowledged; found is
	// false for a name never stored.
	Cursor(ctx context.Context, name string) (pos int64, found bool, err error)
	// SetCursor stores name's position.
	SetCursor(ctx context.Context, name string, pos int64) error
	// ListCursors returns every stored cursor, ordered by name.
	ListCursors(ctx context.Context) ([]Cursor, error)
	// LockCursor takes an exclusive lock on name, across every process on
	// the database, waiting while another holder has it, and holds it
	// until Unlock is called, ctx ends or the lock is lost (on PostgreSQL,
	// its session ended: a dropped connection, a server restart, an idle
	// kill; another process may then take it). The holder does its work
	// under the lock's Held context, which ends in all of these cases, and
	// stores its position with the lock's SetCursor, which writes only
	// while the lock is held: a holder that lost its lock never moves the
	// cursor back behind the one that took it over.
	LockCursor(ctx context.Context, name string) (CursorLock, error)
}

// ErrLockLost is returned (wrapped) by CursorLock.SetCursor once the lock is
// no longer held.
var ErrLockLost = errors.New("eventbus: the cursor lock is no longer held")

// CursorLock is a held cursor lock (Cursors.LockCursor). Its methods are
// safe for concurrent use.
type CursorLock interface {
	// Held is a context that ends as soon as the lock may be lost: when
	// its connection fails or a periodic check of it (every second) does,
	// when Unlock is called, and when LockCursor's ctx ends.
	Held() context.Context
	// SetCursor stores the locked name's position, only while the lock is
	// held: on PostgreSQL through the lock's own session, so that it fails
	// (ErrLockLost, or the connection's error, after which Held ends) if
	// the session, and with it the lock, is gone.
	SetCursor(ctx context.Context, pos int64) error
	// Unlock releases the lock; Held ends. Later calls do nothing.
	Unlock()
}

// Cursor is one named consumer's stored position.
type Cursor struct {
	Name      string    `json:"name"`
	Position  int64     `json:"position"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Waker is implemented by engines that can tell this process when another
// process numbered new events (PostgreSQL LISTEN/NOTIFY). Listen calls fn
// after each such notice until ctx ends; it returns when ctx ends or the
// notices cannot go on (the caller then polls).
type Waker interface {
	ListenEvents(ctx context.Context, fn func()) error
}
