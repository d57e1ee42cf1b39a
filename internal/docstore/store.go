package docstore

import (
	"context"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/query"
)

// Store is what the document service needs from a storage engine. Engines
// keep no business rules: the service decides versions, validation and
// events; the store persists them atomically.
//
// Errors: a missing collection or document is fault.NotFound; an insert
// whose key exists is fault.Conflict; a conditional write whose expected
// version does not match is fault.PreconditionFailed; an unreachable
// database is fault.Unavailable. Anything else is fault.Internal.
type Store interface {
	// GetCollection returns the named collection.
	GetCollection(ctx context.Context, name string) (Collection, error)
	// ListCollections returns every collection, ordered by name.
	ListCollections(ctx context.Context) ([]Collection, error)
	// GetDocument returns one document.
	GetDocument(ctx context.Context, collection, id string) (Document, error)
	// GetDocumentWhere returns one document if it matches filter (a
	// checked filter, compiled as ListDocuments compiles one). A document
	// that exists but does not match is NotFound, exactly like a missing
	// one.
	GetDocumentWhere(ctx context.Context, collection, id string, filter query.Expr) (Document, error)
	// ListDocuments returns at most p.Limit documents matching p.Filter in
	// p.Sort order, starting after p.After.
	ListDocuments(ctx context.Context, p ListParams) ([]Document, error)
	// CountDocuments counts the documents matching p.Filter, but no more
	// than p.Limit of them when p.Limit is positive, so that its work is
	// bounded by p.Limit rather than by the size of the collection. It
	// reads the collection's indexes (p.Indexes) as ListDocuments does.
	CountDocuments(ctx context.Context, p CountParams) (int64, error)
	// Write runs fn in one read-write transaction. It commits, durably,
	// only when fn returns nil; otherwise nothing fn did remains. fn may be
	// called more than once if the engine retries a serialization failure.
	Write(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// Tx is one read-write transaction of a Store.
type Tx interface {
	GetCollection(ctx context.Context, name string) (Collection, error)
	// CreateCollection stores a new collection and creates its storage
	// and indexes.
	CreateCollection(ctx context.Context, c Collection) error
	// UpdateCollection replaces the definition of c.Name if its stored
	// version is prevVersion, and creates or drops indexes to match.
	UpdateCollection(ctx context.Context, c Collection, prevVersion int64) error
	// DeleteCollection drops a collection and all its documents.
	DeleteCollection(ctx context.Context, name string, prevVersion int64) error
	// EachDocument calls fn for every document of the collection, in id
	// order, stopping at the first error.
	EachDocument(ctx context.Context, collection string, fn func(Document) error) error

	// GetDocument returns a document as this transaction sees it, and
	// holds it until the transaction ends: other transactions that read it
	// to write it wait their turn, so that writing it back from the
	// version read never fails for another's write (a write the client
	// made unconditional must not answer 412).
	GetDocument(ctx context.Context, collection, id string) (Document, error)
	// MatchDocument reports whether the document exists and matches
	// filter (nil: any document), as this transaction sees it, its own
	// writes included. A missing collection is NotFound.
	MatchDocument(ctx context.Context, collection, id string, filter query.Expr) (bool, error)
	// InsertDocument stores a new document (Conflict if the id exists).
	InsertDocument(ctx context.Context, d Document) error
	// UpdateDocument overwrites a document whose stored version is
	// prevVersion (PreconditionFailed otherwise, NotFound if missing).
	UpdateDocument(ctx context.Context, d Document, prevVersion int64) error
	// DeleteDocument deletes a document whose stored version is
	// prevVersion (PreconditionFailed otherwise, NotFound if missing).
	DeleteDocument(ctx context.Context, collection, id string, prevVersion int64) error

	// AppendOutbox records a change event in the outbox, in the same
	// transaction as the write it describes (Conflict if e.ID exists).
	// The store ignores e.Position: the relay numbers events once they
	// have committed (see eventbus.Log).
	AppendOutbox(ctx context.Context, e eventbus.Event) error

	// GetIdempotency returns the record for key; found is false if none.
	GetIdempotency(ctx context.Context, key string) (rec IdempotencyRecord, found bool, err error)
	// PutIdempotency stores a record (Conflict if the key exists).
	PutIdempotency(ctx context.Context, rec IdempotencyRecord) error
}

// IdempotencyPurger is implemented by stores that can forget idempotency
// records older than a cut-off; the service calls it periodically.
type IdempotencyPurger interface {
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)
}

// Instance is a Basalt process serving from a database.
type Instance struct {
	ID      string `json:"id"`      // random, new at each start
	Version string `json:"version"` // the build's version
	// Migration is the highest database migration the process's binary
	// knows: a pending contract migration above it may remove what the
	// process uses.
	Migration int64     `json:"knownMigration"`
	Host      string    `json:"host"`    // the host name
	Targets   string    `json:"targets"` // the components it runs (serve --target)
	StartedAt time.Time `json:"startedAt"`
	SeenAt    time.Time `json:"seenAt"` // its last heartbeat
}

// InstanceRegistry is implemented by stores that record the processes
// serving from them, so that "basalt migrate --phase contract" can tell
// whether a process of an earlier release still runs.
type InstanceRegistry interface {
	// Heartbeat records in, seen now, and forgets the instances not seen
	// for a day (processes that did not leave: killed, crashed).
	Heartbeat(ctx context.Context, in Instance) error
	// Leave forgets the instance id.
	Leave(ctx context.Context, id string) error
	// Instances lists the instances seen at or after since, the earliest
	// started first.
	Instances(ctx context.Context, since time.Time) ([]Instance, error)
}

// SecretKeeper is implemented by stores that keep server secrets, such as
// the key that signs list cursors, in the database, so that every Basalt
// process on one database shares them.
type SecretKeeper interface {
	// Secret returns the secret called name. If it has none yet, candidate
	// becomes its value; when several processes race, the first one to
	// store its candidate wins and all get that value.
	Secret(ctx context.Context, name string, candidate []byte) ([]byte, error)
}
