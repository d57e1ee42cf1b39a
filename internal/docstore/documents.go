package docstore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// maxIdempotencyKey bounds client-supplied Idempotency-Key values.
const maxIdempotencyKey = 255

// errIdempotencyRace says another request stored an answer for the same
// key while this one ran; the transaction is rolled back and run again.
var errIdempotencyRace = errors.New("idempotency key stored concurrently")

// CreateDocument creates a document. Callers who are not admins need the
// create rule to hold for the new document; the answer leaves out hidden
// fields for them.
func (s *Service) CreateDocument(ctx context.Context, r CreateRequest) (Document, error) {
	const op = "docstore.CreateDocument"
	c := callerOf(ctx)
	w, err := s.prepareCreate(ctx, op, "/data", c, r.Collection, r.ID, r.Data)
	if err != nil {
		return Document{}, err
	}
	d, err := idempotent(ctx, s, op, r.IdempotencyKey, newRequest("create", r.Collection, r.ID, w.canon, nil),
		func(tx Tx) (Document, error) { return s.applyCreate(ctx, op, tx, c, w) })
	if err != nil {
		return Document{}, err
	}
	return s.shownAfterWrite(ctx, op, c, r.Collection, d)
}

// preparedWrite is a write checked outside the transaction: name, id and
// data are valid, data matches the schema of collection version
// coll.Version and its rules do not refuse the caller outright.
type preparedWrite struct {
	coll   Collection
	cs     *compiledSchema // of coll
	id     string
	data   Data
	canon  []byte
	prefix string // JSON pointer prefix for errors about data
}

func (s *Service) prepareCreate(ctx context.Context, op, prefix string, c caller, collection, id string, data Data) (preparedWrite, error) {
	if err := checkCollectionName(op, collection); err != nil {
		return preparedWrite{}, err
	}
	if err := c.scope(op, collection, actCreate); err != nil {
		return preparedWrite{}, err
	}
	if id != "" {
		if err := checkDocumentID(op, id); err != nil {
			return preparedWrite{}, err
		}
	}
	return s.prepareData(ctx, op, prefix, c, actCreate, collection, id, data)
}

// prepareData checks a create (act actCreate) or replace (actUpdate)
// before its transaction: the rules must not refuse the caller whatever
// the document (so refused callers learn nothing of the schema), and data
// must match the schema.
func (s *Service) prepareData(ctx context.Context, op, prefix string, c caller, act int, collection, id string, data Data) (preparedWrite, error) {
	canon, err := checkData(op, prefix, data, s.limits)
	if err != nil {
		return preparedWrite{}, err
	}
	coll, cs, fresh, err := s.cachedCollection(ctx, op, collection)
	if err != nil {
		return preparedWrite{}, s.collectionErr(op, collection, err)
	}
	refused := func(cs *compiledSchema) error {
		if act == actUpdate {
			// Whether the caller may see the document comes first.
			_, _, err := cs.access.decideExisting(op, collection, c, act)
			return err
		}
		v, err := cs.access.decide(op, collection, c, act)
		if err == nil && v.none {
			err = ruleRefused(op, collection, act)
		}
		return err
	}
	// The cached definition may be stale: refuse only on the current one.
	if err := refused(cs); err != nil {
		if fresh {
			return preparedWrite{}, err
		}
		if coll, cs, err = s.collection(ctx, op, collection); err != nil {
			return preparedWrite{}, s.collectionErr(op, collection, err)
		}
		fresh = true
		if err := refused(cs); err != nil {
			return preparedWrite{}, err
		}
	}
	if err := cs.validate(op, prefix, map[string]any(data), s.limits.MaxSchemaErrors); err != nil {
		if fresh {
			return preparedWrite{}, err
		}
		if coll, cs, err = s.collection(ctx, op, collection); err != nil {
			return preparedWrite{}, s.collectionErr(op, collection, err)
		}
		if err := refused(cs); err != nil {
			return preparedWrite{}, err
		}
		if err := cs.validate(op, prefix, map[string]any(data), s.limits.MaxSchemaErrors); err != nil {
			return preparedWrite{}, err
		}
	}
	return preparedWrite{coll: coll, cs: cs, id: id, data: data, canon: canon, prefix: prefix}, nil
}

// recheck makes sure the collection did not change between validation and
// the transaction; if it did, the data is validated again. It returns the
// compiled definition current in the transaction, whose rules apply.
func (s *Service) recheck(ctx context.Context, op string, tx Tx, w preparedWrite) (*compiledSchema, error) {
	c, err := tx.GetCollection(ctx, w.coll.Name)
	if err != nil {
		return nil, s.collectionErr(op, w.coll.Name, err)
	}
	if sameDefinition(c, w.coll) {
		return w.cs, nil
	}
	cs, err := s.schemaOf(op, c)
	if err != nil {
		return nil, err
	}
	return cs, cs.validate(op, w.prefix, map[string]any(w.data), s.limits.MaxSchemaErrors)
}

func (s *Service) applyCreate(ctx context.Context, op string, tx Tx, c caller, w preparedWrite) (Document, error) {
	cs, err := s.recheck(ctx, op, tx, w)
	if err != nil {
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
	if err := s.checkWritten(ctx, op, tx, c, cs.access, d.Collection, id, actCreate); err != nil {
		return Document{}, err
	}
	return d, s.appendEvent(ctx, tx, OpCreate, d)
}

// GetDocument returns a document. For callers who are not admins, a
// document the get rule does not let them see is NotFound, like a missing
// one, and hidden fields are left out.
func (s *Service) GetDocument(ctx context.Context, collection, id string) (Document, error) {
	const op = "docstore.GetDocument"
	if err := checkCollectionName(op, collection); err != nil {
		return Document{}, err
	}
	if err := checkDocumentID(op, id); err != nil {
		return Document{}, err
	}
	c := callerOf(ctx)
	if c.admin {
		if err := c.scope(op, collection, actGet); err != nil {
			return Document{}, err
		}
		d, err := s.store.GetDocument(ctx, collection, id)
		if err != nil {
			return Document{}, s.documentErr(op, collection, id, err)
		}
		return d, nil
	}
	_, cs, err := s.readCollection(ctx, op, collection)
	if err != nil {
		return Document{}, s.collectionErr(op, collection, err)
	}
	v, err := cs.access.decide(op, collection, c, actGet)
	if err != nil {
		return Document{}, err
	}
	var d Document
	switch {
	case v.none:
		err = fault.New(fault.NotFound, op, "no such document")
	case v.filter == nil:
		d, err = s.store.GetDocument(ctx, collection, id)
	default:
		// The rule is applied here rather than in the query, so that a read
		// by id costs the database no more than without a rule. A document
		// the rule hides is NotFound, exactly like a missing one.
		if d, err = s.store.GetDocument(ctx, collection, id); err != nil {
			break
		}
		ok, merr := query.Match(v.filter, query.Document{ID: d.ID, Version: d.Version,
			CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Data: d.Data})
		if merr != nil {
			// A bound rule always applies, and stored data is JSON.
			return Document{}, fault.Wrap(fault.Internal, op, merr, "cannot apply the get rule")
		}
		if !ok {
			err = fault.New(fault.NotFound, op, "no such document")
		}
	}
	if err != nil {
		return Document{}, s.documentErr(op, collection, id, err)
	}
	return s.shown(op, c, cs.access, d)
}

// MaxBatchGetIDs is the most ids one BatchGetDocuments asks for.
const MaxBatchGetIDs = 1000

// BatchGetDocuments returns the documents of collection among ids that
// exist and that the caller may get, as GetDocument decides for each (the
// API key's scope, the get rule; hidden fields left out for callers who
// are not admins), in the order of ids, once each. Ids that are not
// document ids are skipped. It reads up to 200 ids per query of the
// store, so a page's references cost one query, not one per document.
func (s *Service) BatchGetDocuments(ctx context.Context, collection string, ids []string) ([]Document, error) {
	const op = "docstore.BatchGetDocuments"
	if err := checkCollectionName(op, collection); err != nil {
		return nil, err
	}
	if len(ids) > MaxBatchGetIDs {
		return nil, fault.Newf(fault.Invalid, op, "at most %d ids per batch get", MaxBatchGetIDs)
	}
	c := callerOf(ctx)
	var (
		filter query.Expr
		acc    *access
	)
	if c.admin {
		if err := c.scope(op, collection, actGet); err != nil {
			return nil, err
		}
	} else {
		_, cs, err := s.readCollection(ctx, op, collection)
		if err != nil {
			return nil, s.collectionErr(op, collection, err)
		}
		v, err := cs.access.decide(op, collection, c, actGet)
		if err != nil {
			return nil, err
		}
		if v.none {
			return []Document{}, nil
		}
		filter, acc = v.filter, cs.access
	}
	docs, err := s.readIDs(ctx, op, collection, filter, ids)
	if err != nil {
		return nil, err
	}
	if acc == nil {
		return docs, nil
	}
	for i, d := range docs {
		if docs[i], err = s.shown(op, c, acc, d); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func (s *Service) documentErr(op, collection, id string, err error) error {
	if fault.Is(err, fault.NotFound) {
		return fault.Newf(fault.NotFound, op, "document %q does not exist in collection %q", id, collection)
	}
	return s.storeErr(op, err)
}

// ReplaceDocument replaces a document's data. Callers who are not admins
// need the get and update rules to hold for the stored document, and the
// update rule for the new content.
func (s *Service) ReplaceDocument(ctx context.Context, r ReplaceRequest) (Document, error) {
	const op = "docstore.ReplaceDocument"
	if err := checkCollectionName(op, r.Collection); err != nil {
		return Document{}, err
	}
	if err := checkDocumentID(op, r.ID); err != nil {
		return Document{}, err
	}
	c := callerOf(ctx)
	if err := c.scope(op, r.Collection, actUpdate); err != nil {
		return Document{}, err
	}
	w, err := s.prepareData(ctx, op, "/data", c, actUpdate, r.Collection, r.ID, r.Data)
	if err != nil {
		return Document{}, err
	}
	d, err := idempotent(ctx, s, op, r.IdempotencyKey, newRequest("replace", r.Collection, r.ID, w.canon, r.IfMatch),
		func(tx Tx) (Document, error) { return s.applyReplace(ctx, op, tx, c, w, r.IfMatch) })
	if err != nil {
		return Document{}, err
	}
	return s.shownAfterWrite(ctx, op, c, r.Collection, d)
}

// current reads the document a write changes, inside its transaction.
func (s *Service) current(ctx context.Context, op string, tx Tx, collection, id string) (Document, error) {
	cur, err := tx.GetDocument(ctx, collection, id)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			if _, cerr := tx.GetCollection(ctx, collection); cerr != nil {
				return Document{}, s.collectionErr(op, collection, cerr)
			}
		}
		return Document{}, s.documentErr(op, collection, id, err)
	}
	return cur, nil
}

// checkVersion applies If-Match: ifMatch, when not empty, lists the versions
// the document must have.
func checkVersion(op string, cur Document, ifMatch Versions) error {
	if !ifMatch.accepts(cur.Version) {
		return fault.Newf(fault.PreconditionFailed, op, "document %q is at version %d, not %s", cur.ID, cur.Version, ifMatch)
	}
	return nil
}

func (s *Service) applyReplace(ctx context.Context, op string, tx Tx, c caller, w preparedWrite, ifMatch Versions) (Document, error) {
	cs, err := s.recheck(ctx, op, tx, w)
	if err != nil {
		return Document{}, err
	}
	get, write, err := cs.access.decideExisting(op, w.coll.Name, c, actUpdate)
	if err != nil {
		return Document{}, err
	}
	cur, err := s.current(ctx, op, tx, w.coll.Name, w.id)
	if err != nil {
		return Document{}, err
	}
	if err := s.checkExisting(ctx, op, tx, get, write, cur.Collection, cur.ID, actUpdate); err != nil {
		return Document{}, err
	}
	if err := checkVersion(op, cur, ifMatch); err != nil {
		return Document{}, err
	}
	d := Document{Collection: cur.Collection, ID: cur.ID, Version: cur.Version + 1,
		CreatedAt: cur.CreatedAt, UpdatedAt: s.later(cur.UpdatedAt), Data: w.canon}
	if err := tx.UpdateDocument(ctx, d, cur.Version); err != nil {
		return Document{}, err
	}
	if err := s.checkWritten(ctx, op, tx, c, cs.access, d.Collection, d.ID, actUpdate); err != nil {
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

// PatchDocument merge-patches a document's data (RFC 7386), under the
// same rules as ReplaceDocument.
func (s *Service) PatchDocument(ctx context.Context, r PatchRequest) (Document, error) {
	const op = "docstore.PatchDocument"
	if err := checkCollectionName(op, r.Collection); err != nil {
		return Document{}, err
	}
	if err := checkDocumentID(op, r.ID); err != nil {
		return Document{}, err
	}
	c := callerOf(ctx)
	if err := c.scope(op, r.Collection, actUpdate); err != nil {
		return Document{}, err
	}
	if r.Patch == nil {
		return Document{}, fault.New(fault.Invalid, op, "a merge patch must be a JSON object")
	}
	canonPatch, err := canonicalJSON(r.Patch)
	if err != nil {
		return Document{}, fault.Wrap(fault.Invalid, op, err, "invalid patch")
	}
	d, err := idempotent(ctx, s, op, r.IdempotencyKey, newRequest("patch", r.Collection, r.ID, canonPatch, r.IfMatch),
		func(tx Tx) (Document, error) {
			return s.applyPatch(ctx, op, "/data", tx, c, r.Collection, r.ID, r.Patch, r.IfMatch)
		})
	if err != nil {
		return Document{}, err
	}
	return s.shownAfterWrite(ctx, op, c, r.Collection, d)
}

func (s *Service) applyPatch(ctx context.Context, op, prefix string, tx Tx, c caller, collection, id string, patch Data, ifMatch Versions) (Document, error) {
	for _, f := range systemFields {
		if _, ok := patch[f]; ok {
			return Document{}, &fault.Error{Kind: fault.Invalid, Op: op,
				Msg:    fmt.Sprintf("%q is a system field and cannot be written", f),
				Fields: []fault.FieldError{{Pointer: prefix + "/" + f, Message: "is a system field"}}}
		}
	}
	coll, err := tx.GetCollection(ctx, collection)
	if err != nil {
		return Document{}, s.collectionErr(op, collection, err)
	}
	cs, err := s.schemaOf(op, coll)
	if err != nil {
		return Document{}, err
	}
	get, write, err := cs.access.decideExisting(op, collection, c, actUpdate)
	if err != nil {
		return Document{}, err
	}
	cur, err := s.current(ctx, op, tx, collection, id)
	if err != nil {
		return Document{}, err
	}
	if err := s.checkExisting(ctx, op, tx, get, write, collection, id, actUpdate); err != nil {
		return Document{}, err
	}
	if err := checkVersion(op, cur, ifMatch); err != nil {
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
	if err := s.checkWritten(ctx, op, tx, c, cs.access, d.Collection, d.ID, actUpdate); err != nil {
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

// DeleteDocument deletes a document. Callers who are not admins need the
// get rule (else NotFound) and the delete rule (else Forbidden) to hold for
// it.
func (s *Service) DeleteDocument(ctx context.Context, r DeleteRequest) error {
	const op = "docstore.DeleteDocument"
	if err := checkCollectionName(op, r.Collection); err != nil {
		return err
	}
	if err := checkDocumentID(op, r.ID); err != nil {
		return err
	}
	c := callerOf(ctx)
	if err := c.scope(op, r.Collection, actDelete); err != nil {
		return err
	}
	_, err := idempotent(ctx, s, op, r.IdempotencyKey, newRequest("delete", r.Collection, r.ID, nil, r.IfMatch),
		func(tx Tx) (struct{}, error) {
			return struct{}{}, s.applyDelete(ctx, op, tx, c, r.Collection, r.ID, r.IfMatch)
		})
	return err
}

func (s *Service) applyDelete(ctx context.Context, op string, tx Tx, c caller, collection, id string, ifMatch Versions) error {
	var get, write verdict
	if c.admin {
		if err := c.scope(op, collection, actDelete); err != nil {
			return err
		}
	} else {
		coll, err := tx.GetCollection(ctx, collection)
		if err != nil {
			return s.collectionErr(op, collection, err)
		}
		cs, err := s.schemaOf(op, coll)
		if err != nil {
			return err
		}
		if get, write, err = cs.access.decideExisting(op, collection, c, actDelete); err != nil {
			return err
		}
	}
	cur, err := s.current(ctx, op, tx, collection, id)
	if err != nil {
		return err
	}
	if err := s.checkExisting(ctx, op, tx, get, write, collection, id, actDelete); err != nil {
		return err
	}
	if err := checkVersion(op, cur, ifMatch); err != nil {
		return err
	}
	if err := tx.DeleteDocument(ctx, collection, id, cur.Version); err != nil {
		return err
	}
	gone := Document{Collection: collection, ID: id, Version: cur.Version + 1, CreatedAt: cur.CreatedAt, UpdatedAt: s.later(cur.UpdatedAt)}
	return s.appendEvent(ctx, tx, OpDelete, gone)
}

// request is the part of a write that identifies it for idempotency.
type request struct {
	Op         string `json:"op"`
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Body       []byte `json:"body"`
	IfMatch    int64  `json:"ifMatch"`
	// IfMatchAny holds a condition of several versions (IfMatch is then
	// 0), so that the hash of a request with one version or none stays
	// what it always was.
	IfMatchAny []int64 `json:"ifMatchAny,omitempty"`
}

// newRequest identifies a write for idempotency.
func newRequest(op, collection, id string, body []byte, ifMatch Versions) request {
	r := request{Op: op, Collection: collection, ID: id, Body: body}
	switch {
	case len(ifMatch) == 0:
	case len(ifMatch) == 1 && ifMatch[0] != 0:
		r.IfMatch = ifMatch[0]
	default:
		r.IfMatchAny = ifMatch
	}
	return r
}

func (r request) hash() []byte {
	b, _ := json.Marshal(r) // a struct of strings, bytes and ints always encodes
	h := sha256.Sum256(b)
	return h[:]
}

// idempotent runs write in one transaction. With a key, the first answer is
// stored in the same transaction and a retry with the same key and request
// gets it back without writing again; the same key with a different request
// is refused. Keys are scoped to the caller (principal kind and ID), so two
// callers sending the same key never see each other's answers; anonymous
// callers share one scope. The stored answer is the admin's view of it.
func idempotent[T any](ctx context.Context, s *Service, op, key string, req request, write func(Tx) (T, error)) (T, error) {
	var out T
	var hash []byte
	if key != "" {
		if len(key) > maxIdempotencyKey {
			return out, fault.Newf(fault.Invalid, op, "the idempotency key is longer than %d bytes", maxIdempotencyKey)
		}
		hash = req.hash()
		key = callerOf(ctx).identity() + ":" + key
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
					return fault.New(fault.IdempotencyMismatch, op, "this idempotency key was used with a different request")
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
		if err = s.write(ctx, write1); !errors.Is(err, errIdempotencyRace) {
			break
		}
	}
	if errors.Is(err, errIdempotencyRace) {
		err = fault.New(fault.Unavailable, op, "concurrent requests with this idempotency key; retry")
	}
	if err != nil {
		var zero T
		return zero, s.storeErr(op, err)
	}
	return out, nil
}
