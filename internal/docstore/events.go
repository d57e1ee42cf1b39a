package docstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// write runs fn in one transaction of the store and, once a transaction
// that recorded change events has committed, calls the Committed hook.
func (s *Service) write(ctx context.Context, fn func(Tx) error) error {
	var recorded bool
	err := s.store.Write(ctx, func(tx Tx) error {
		rt := &recordingTx{Tx: tx}
		err := fn(rt)
		recorded = rt.events > 0 // of this attempt: the engine may run fn again
		return err
	})
	if err == nil && recorded && s.committed != nil {
		s.committed()
	}
	return err
}

// recordingTx counts the events a transaction records.
type recordingTx struct {
	Tx
	events int
}

func (t *recordingTx) AppendOutbox(ctx context.Context, e eventbus.Event) error {
	if err := t.Tx.AppendOutbox(ctx, e); err != nil {
		return err
	}
	t.events++
	return nil
}

// batchTx gives every event a transaction records the id of its batch.
type batchTx struct {
	Tx
	batchID string
}

func (t batchTx) AppendOutbox(ctx context.Context, e eventbus.Event) error {
	e.BatchID = t.batchID
	return t.Tx.AppendOutbox(ctx, e)
}

// newEventID returns a new event (or batch) id: a UUIDv7.
func newEventID(op string) (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fault.Internalf(op, err)
	}
	return u.String(), nil
}

// appendEvent records a document write in the outbox.
func (s *Service) appendEvent(ctx context.Context, tx Tx, op Operation, d Document) error {
	const fop = "docstore.appendEvent"
	id, err := newEventID(fop)
	if err != nil {
		return err
	}
	var payload []byte
	if op == OpDelete {
		payload, err = json.Marshal(map[string]any{"id": d.ID, "collection": d.Collection, "version": d.Version})
	} else {
		payload, err = json.Marshal(d)
	}
	if err != nil {
		return fault.Internalf(fop, err)
	}
	return tx.AppendOutbox(ctx, eventbus.Event{ID: id, Type: documentEventType(op), Collection: d.Collection,
		DocumentID: d.ID, Version: d.Version, Payload: payload, Time: d.UpdatedAt})
}

// documentEventType is the event type of a document write.
func documentEventType(op Operation) eventbus.Type {
	switch op {
	case OpCreate:
		return eventbus.DocumentCreated
	case OpReplace:
		return eventbus.DocumentReplaced
	case OpPatch:
		return eventbus.DocumentPatched
	default:
		return eventbus.DocumentDeleted
	}
}

// appendCollectionEvent records a change of a collection's definition:
// created or replaced with c as the admin API shows it. One event, however
// many documents the collection holds.
func (s *Service) appendCollectionEvent(ctx context.Context, tx Tx, typ eventbus.Type, c Collection) error {
	const fop = "docstore.appendCollectionEvent"
	payload, err := json.Marshal(c)
	if err != nil {
		return fault.Internalf(fop, err)
	}
	return s.appendCollectionPayload(ctx, tx, typ, c.Name, c.Version, c.UpdatedAt, payload)
}

// appendCollectionDeleted records the delete of collection cur: the
// event's version is cur.Version + 1, its payload {"name","version"}.
func (s *Service) appendCollectionDeleted(ctx context.Context, tx Tx, cur Collection) error {
	const fop = "docstore.appendCollectionDeleted"
	version := cur.Version + 1
	payload, err := json.Marshal(map[string]any{"name": cur.Name, "version": version})
	if err != nil {
		return fault.Internalf(fop, err)
	}
	return s.appendCollectionPayload(ctx, tx, eventbus.CollectionDeleted, cur.Name, version, s.later(cur.UpdatedAt), payload)
}

func (s *Service) appendCollectionPayload(ctx context.Context, tx Tx, typ eventbus.Type, name string, version int64, at time.Time, payload []byte) error {
	id, err := newEventID("docstore.appendCollectionEvent")
	if err != nil {
		return err
	}
	return tx.AppendOutbox(ctx, eventbus.Event{ID: id, Type: typ, Collection: name, Version: version, Payload: payload, Time: at})
}
