package docstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/fault"
)

// maxIdempotencyKey bounds client-supplied Idempotency-Key values.
const maxIdempotencyKey = 255

// errIdempotencyRace says another request stored an answer for the same
// key while this one ran; the transaction is rolled back and run again.
var errIdempotencyRace = errors.New("idempotency key stored concurrently")

// CreateDocument creates a document.
func (s *Service) CreateDocument(ctx context.Context, r CreateRequest) (Document, error) {
	const op = "docstore.CreateDocument"
	w, err := s.prepareCreate(ctx, op, "/data", r.Collection, r.ID, r.Data)
	if err != nil {
		return Document{}, err
	}
	return idempotent(ctx, s, op, r.IdempotencyKey, request{"create", r.Collection, r.ID, w.canon, 0},
		func(tx Tx) (Document, error) { return s.applyCreate(ctx, op, tx, w) })
}

// preparedWrite is a write checked outside the transaction: name, id and
// data are valid and data matches the schema of collection version
// coll.Version.
type preparedWrite struct {
	coll   Collection
	id     string
	data   Data
	canon  []byte
	prefix string // JSON pointer prefix for errors about data
}

func (s *Service) prepareCreate(ctx context.Context, op, prefix, collection, id string, data Data) (preparedWrite, error) {
	if id != "" {
		if err := checkDocumentID(op, id); err != nil {
			return preparedWrite{}, err
		}
	}
	return s.prepareData(ctx, op, prefix, collection, id, data)
}

func (s *Service) prepareData(ctx context.Context, op, prefix, collection, id string, data Data) (preparedWrite, error) {
	canon, err := checkData(op, prefix, data, s.limits)
	if err != nil {
		return preparedWrite{}, err
	}
	c, cs, fresh, err := s.cachedCollection(ctx, op, collection)
	if err != nil {
		return preparedWrite{}, s.collectionErr(op, collection, err)
	}
	if err := cs.validate(op, prefix, map[string]any(data), s.limits.MaxSchemaErrors); err != nil {
		if fresh {
			return preparedWrite{}, err
		}
		// The cached definition may be stale: refuse only on the current one.
		if c, cs, err = s.collection(ctx, op, collection); err != nil {
			return preparedWrite{}, s.collectionErr(op, collection, err)
		}
		if err := cs.validate(op, prefix, map[string]any(data), s.limits.MaxSchemaErrors); err != nil {
			return preparedWrite{}, err
		}
	}
	return preparedWrite{coll: c, id: id, data: data, canon: canon, prefix: prefix}, nil
}

// recheck makes sure the collection did not change between validation and
// the transaction; if it did, the data is validated again.
func (s *Service) recheck(ctx context.Context, op string, tx Tx, w preparedWrite) error {
	c, err := tx.GetCollection(ctx, w.coll.Name)
	if err != nil {
		return s.collectionErr(op, w.coll.Name, err)
	}
	if c.Version == w.coll.Version && bytes.Equal(c.Schema, w.coll.Schema) {
		return nil
	}
	cs, err := s.schemaOf(op, c)
	if err != nil {
		return err
	}
	return cs.validate(op, w.prefix, map[string]any(w.data), s.limits.MaxSchemaErrors)
}

func (s *Service) applyCreate(ctx context.Context, op string, tx Tx, w preparedWrite) (Document, error) {
	if err := s.recheck(ctx, op, tx, w); err != nil {
		return Document{}, err
	}
	id := w.id
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return Document{}, fault.Internalf(op, err)
		}
		id = u.String()
	}
	now := s.timestamp()
	d := Document{Collection: w.coll.Name, ID: id, Version: 1, CreatedAt: now, UpdatedAt: now, Data: w.canon}
	if err := tx.InsertDocument(ctx, d); err != nil {
		if fault.Is(err, fault.Conflict) {
			return Document{}, fault.Newf(fault.Conflict, op, "document %q already exists in %q", id, w.coll.Name)
		}
		return Document{}, err
	}
	return d, s.appendEvent(ctx, tx, OpCreate, d)
}

// GetDocument returns a document.
func (s *Service) GetDocument(ctx context.Context, collection, id string) (Document, error) {
	const op = "docstore.GetDocument"
	if err := checkCollectionName(op, collection); err != nil {
		return Document{}, err
	}
	if err := checkDocumentID(op, id); err != nil {
		return Document{}, err
	}
	d, err := s.store.GetDocument(ctx, collection, id)
	if err != nil {
		return Document{}, s.documentErr(op, collection, id, err)
	}
	return d, nil
}

func (s *Service) documentErr(op, collection, id string, err error) error {
	if fault.Is(err, fault.NotFound) {
		return fault.Newf(fault.NotFound, op, "document %q does not exist in collection %q", id, collection)
	}
	return s.storeErr(op, err)
}

// ReplaceDocument replaces a document's data.
func (s *Service) ReplaceDocument(ctx context.Context, r ReplaceRequest) (Document, error) {
	const op = "docstore.ReplaceDocument"
	if err := checkDocumentID(op, r.ID); err != nil {
		return Document{}, err
	}
	w, err := s.prepareData(ctx, op, "/data", r.Collection, r.ID, r.Data)
	if err != nil {
		return Document{}, err
	}
	return idempotent(ctx, s, op, r.IdempotencyKey, request{"replace", r.Collection, r.ID, w.canon, r.IfMatch},
		func(tx Tx) (Document, error) { return s.applyReplace(ctx, op, tx, w, r.IfMatch) })
}

func (s *Service) current(ctx context.Context, op string, tx Tx, collection, id string, ifMatch int64) (Document, error) {
	cur, err := tx.GetDocument(ctx, collection, id)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			if _, cerr := tx.GetCollection(ctx, collection); cerr != nil {
				return Document{}, s.collectionErr(op, collection, cerr)
			}
		}
		return Document{}, s.documentErr(op, collection, id, err)
	}
	if ifMatch != 0 && cur.Version != ifMatch {
		return Document{}, fault.Newf(fault.PreconditionFailed, op, "document %q is at version %d, not %d", id, cur.Version, ifMatch)
	}
	return cur, nil
}

func (s *Service) applyReplace(ctx context.Context, op string, tx Tx, w preparedWrite, ifMatch int64) (Document, error) {
	if err := s.recheck(ctx, op, tx, w); err != nil {
		return Document{}, err
	}
	cur, err := s.current(ctx, op, tx, w.coll.Name, w.id, ifMatch)
	if err != nil {
		return Document{}, err
	}
	d := Document{Collection: cur.Collection, ID: cur.ID, Version: cur.Version + 1,
		CreatedAt: cur.CreatedAt, UpdatedAt: s.later(cur.UpdatedAt), Data: w.canon}
	if err := tx.UpdateDocument(ctx, d, cur.Version); err != nil {
		return Document{}, err
	}
	return d, s.appendEvent(ctx, tx, OpReplace, d)
}

// later returns the current time, but never earlier than prev, so
// updatedAt does not go backwards when clocks of several nodes disagree.
func (s *Service) later(prev time.Time) time.Time {
	now := s.timestamp()
	if now.Before(prev) {
		return prev
	}
	return now
}

// PatchDocument merge-patches a document's data (RFC 7386).
func (s *Service) PatchDocument(ctx context.Context, r PatchRequest) (Document, error) {
	const op = "docstore.PatchDocument"
	if err := checkCollectionName(op, r.Collection); err != nil {
		return Document{}, err
	}
	if err := checkDocumentID(op, r.ID); err != nil {
		return Document{}, err
	}
	if r.Patch == nil {
		return Document{}, fault.New(fault.Invalid, op, "a merge patch must be a JSON object")
	}
	canonPatch, err := canonicalJSON(r.Patch)
	if err != nil {
		return Document{}, fault.Wrap(fault.Invalid, op, err, "invalid patch")
	}
	return idempotent(ctx, s, op, r.IdempotencyKey, request{"patch", r.Collection, r.ID, canonPatch, r.IfMatch},
		func(tx Tx) (Document, error) {
			return s.applyPatch(ctx, op, "/data", tx, r.Collection, r.ID, r.Patch, r.IfMatch)
		})
}

func (s *Service) applyPatch(ctx context.Context, op, prefix string, tx Tx, collection, id string, patch Data, ifMatch int64) (Document, error) {
	for _, f := range systemFields {
		if _, ok := patch[f]; ok {
			return Document{}, &fault.Error{Kind: fault.Invalid, Op: op,
				Msg:    fmt.Sprintf("%q is a system field and cannot be written", f),
				Fields: []fault.FieldError{{Pointer: prefix + "/" + f, Message: "is a system field"}}}
		}
	}
	c, err := tx.GetCollection(ctx, collection)
	if err != nil {
		return Document{}, s.collectionErr(op, collection, err)
	}
	cs, err := s.schemaOf(op, c)
	if err != nil {
		return Document{}, err
	}
	cur, err := s.current(ctx, op, tx, collection, id, ifMatch)
	if err != nil {
		return Document{}, err
	}
	data, err := decodeData(cur.Data)
	if err != nil {
		return Document{}, fault.Internalf(op, err)
	}
	data = mergePatch(data, deepCopy(patch).(map[string]any))
	canon, err := checkData(op, prefix, data, s.limits)
	if err != nil {
		return Document{}, err
	}
	if err := cs.validate(op, prefix, data, s.limits.MaxSchemaErrors); err != nil {
		return Document{}, err
	}
	d := Document{Collection: cur.Collection, ID: cur.ID, Version: cur.Version + 1,
		CreatedAt: cur.CreatedAt, UpdatedAt: s.later(cur.UpdatedAt), Data: canon}
	if err := tx.UpdateDocument(ctx, d, cur.Version); err != nil {
		return Document{}, err
	}
	return d, s.appendEvent(ctx, tx, OpPatch, d)
}

// deepCopy copies a decoded JSON value so a merge never aliases the
// caller's patch (the transaction may run more than once).
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = deepCopy(e)
		}
		return a
	default:
		return v
	}
}

// DeleteDocument deletes a document.
func (s *Service) DeleteDocument(ctx context.Context, r DeleteRequest) error {
	const op = "docstore.DeleteDocument"
	if err := checkCollectionName(op, r.Collection); err != nil {
		return err
	}
	if err := checkDocumentID(op, r.ID); err != nil {
		return err
	}
	_, err := idempotent(ctx, s, op, r.IdempotencyKey, request{"delete", r.Collection, r.ID, nil, r.IfMatch},
		func(tx Tx) (struct{}, error) {
			return struct{}{}, s.applyDelete(ctx, op, tx, r.Collection, r.ID, r.IfMatch)
		})
	return err
}

func (s *Service) applyDelete(ctx context.Context, op string, tx Tx, collection, id string, ifMatch int64) error {
	cur, err := s.current(ctx, op, tx, collection, id, ifMatch)
	if err != nil {
		return err
	}
	if err := tx.DeleteDocument(ctx, collection, id, cur.Version); err != nil {
		return err
	}
	gone := Document{Collection: collection, ID: id, Version: cur.Version + 1, CreatedAt: cur.CreatedAt, UpdatedAt: s.later(cur.UpdatedAt)}
	return s.appendEvent(ctx, tx, OpDelete, gone)
}

// appendEvent records a committed write in the outbox.
func (s *Service) appendEvent(ctx context.Context, tx Tx, op Operation, d Document) error {
	u, err := uuid.NewV7()
	if err != nil {
		return fault.Internalf("docstore.appendEvent", err)
	}
	var payload []byte
	if op == OpDelete {
		payload, err = json.Marshal(map[string]any{"id": d.ID, "collection": d.Collection, "version": d.Version})
	} else {
		payload, err = json.Marshal(d)
	}
	if err != nil {
		return fault.Internalf("docstore.appendEvent", err)
	}
	return tx.AppendOutbox(ctx, Event{ID: u.String(), Collection: d.Collection, DocumentID: d.ID,
		Operation: op, Version: d.Version, Payload: payload, Time: d.UpdatedAt})
}

// request is the part of a write that identifies it for idempotency.
type request struct {
	Op         string `json:"op"`
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Body       []byte `json:"body"`
	IfMatch    int64  `json:"ifMatch"`
}

func (r request) hash() []byte {
	b, _ := json.Marshal(r) // a struct of strings, bytes and ints always encodes
	h := sha256.Sum256(b)
	return h[:]
}

// idempotent runs write in one transaction. With a key, the first answer is
// stored in the same transaction and a retry with the same key and request
// gets it back without writing again; the same key with a different request
// is refused.
func idempotent[T any](ctx context.Context, s *Service, op, key string, req request, write func(Tx) (T, error)) (T, error) {
	var out T
	var hash []byte
	if key != "" {
		if len(key) > maxIdempotencyKey {
			return out, fault.Newf(fault.Invalid, op, "Idempotency-Key is longer than %d bytes", maxIdempotencyKey)
		}
		hash = req.hash()
	}
	write1 := func(tx Tx) error {
		var zero T
		out = zero
		if key != "" {
			rec, found, err := tx.GetIdempotency(ctx, key)
			if err != nil {
				return err
			}
			if found {
				if string(rec.RequestHash) != string(hash) {
					return fault.New(fault.IdempotencyMismatch, op, "this Idempotency-Key was used with a different request")
				}
				if err := json.Unmarshal(rec.Response, &out); err != nil {
					return fault.Internalf(op, fmt.Errorf("stored idempotent answer: %w", err))
				}
				return nil
			}
		}
		res, err := write(tx)
		if err != nil {
			return err
		}
		if key != "" {
			b, err := json.Marshal(res)
			if err != nil {
				return fault.Internalf(op, err)
			}
			if err := tx.PutIdempotency(ctx, IdempotencyRecord{Key: key, RequestHash: hash, Response: b, CreatedAt: s.timestamp()}); err != nil {
				if fault.Is(err, fault.Conflict) {
					return errIdempotencyRace
				}
				return err
			}
		}
		out = res
		return nil
	}
	// Concurrent requests with one key can all miss the record and run the
	// write (on engines with concurrent writers); the ones that lose the
	// race to store the answer roll back and run again, and then find it.
	var err error
	for range 4 {
		if err = s.store.Write(ctx, write1); !errors.Is(err, errIdempotencyRace) {
			break
		}
	}
	if errors.Is(err, errIdempotencyRace) {
		err = fault.New(fault.Unavailable, op, "concurrent requests with this Idempotency-Key; retry")
	}
	if err != nil {
		var zero T
		return zero, s.storeErr(op, err)
	}
	return out, nil
}
