package docstore

// This file is the one place that authorizes a read of many documents: the
// API key's list scope, the collection's list rule, and the filter, sort
// and field selection a caller may name (hidden fields are unknown to
// callers who are not admins). ListDocuments reads through it, and so does
// search, which also signs its cursors with the list cursors' key.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// ReadRequest is a read of many documents in the language of the public
// API: Filter, Sort and Fields are the strings a client sent (empty means
// every document, no order named, all of data).
type ReadRequest struct {
	Collection string
	Filter     string
	Sort       string
	Fields     string
}

// ReadPlan is an authorized read of many documents: what the caller may
// read of one collection, under one definition of it, and how to show it.
// A ReadPlan is immutable and safe for concurrent use.
type ReadPlan struct {
	op     string
	coll   Collection
	access *access
	who    caller
	none   bool
	filter query.Expr      // the rule's AND the caller's; nil: every document
	sort   []query.SortKey // nil when the request named none
	order  []query.SortKey // sort, or id when none was named (lists)
	fields [][]string      // nil: all of data
	req    ReadRequest
}

// PlanRead checks that the caller may list the documents of r.Collection
// (the API key's list scope, the collection's list rule: a rule the caller
// can never satisfy is Forbidden, or Unauthenticated for anonymous
// callers, exactly as for a list), parses r's filter, sort and fields
// against what the caller may name, and returns the plan of the read.
func (s *Service) PlanRead(ctx context.Context, r ReadRequest) (*ReadPlan, error) {
	return s.planRead(ctx, "docstore.PlanRead", r)
}

// planRead is PlanRead with the operation its errors carry.
func (s *Service) planRead(ctx context.Context, op string, r ReadRequest) (*ReadPlan, error) {
	if err := checkCollectionName(op, r.Collection); err != nil {
		return nil, err
	}
	who := callerOf(ctx)
	if err := who.scope(op, r.Collection, actList); err != nil {
		return nil, err
	}
	c, cs, err := s.collection(ctx, op, r.Collection)
	if err != nil {
		return nil, s.collectionErr(op, r.Collection, err)
	}
	v, err := cs.access.decide(op, c.Name, who, actList)
	if err != nil {
		return nil, err
	}
	fieldsOf := cs.fields
	if !who.admin {
		fieldsOf = cs.access.public
	}
	filter, err := query.ParseFilter(r.Filter, fieldsOf, s.limits.Query)
	if err != nil {
		return nil, err
	}
	order, err := query.ParseSort(r.Sort, fieldsOf, s.limits.Query)
	if err != nil {
		return nil, err
	}
	fields, err := query.ParseFields(r.Fields, fieldsOf, s.limits.Query)
	if err != nil {
		return nil, err
	}
	p := &ReadPlan{op: op, coll: c, access: cs.access, who: who, none: v.none,
		filter: andFilter(v.filter, filter), order: order, fields: fields, req: r}
	if !blank(r.Sort) {
		p.sort = order
	}
	return p, nil
}

// blank reports whether a sort names nothing, as query.ParseSort reads it.
func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// Collection returns the definition the plan was made under. It shares
// its slices and maps with the plan: callers must not modify it.
func (p *ReadPlan) Collection() Collection { return p.coll }

// Filter returns the documents the caller may read and asked for: the list
// rule's filter AND the caller's; nil for every document. It means nothing
// when None reports true.
func (p *ReadPlan) Filter() query.Expr { return p.filter }

// None reports whether the list rule admits no document for this caller:
// the answer is empty (after checking the request's cursor, if any).
func (p *ReadPlan) None() bool { return p.none }

// Sort returns the order the request named, ending with the id key, or
// nil when it named none (search then ranks by relevance).
func (p *ReadPlan) Sort() []query.SortKey { return slices.Clone(p.sort) }

// Admin reports whether the caller is an admin (who sees hidden fields).
func (p *ReadPlan) Admin() bool { return p.who.admin }

// Match reports whether the plan admits d: false when None, else whether
// Filter holds for d, decided in memory as the engines decide it in SQL.
func (p *ReadPlan) Match(d Document) (bool, error) {
	if p.none {
		return false, nil
	}
	ok, err := query.Match(p.filter, query.Document{ID: d.ID, Version: d.Version,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Data: d.Data})
	if err != nil {
		// The filter is checked and stored data is JSON: a failure here is
		// the server's.
		return false, fault.Internalf(p.op, err)
	}
	return ok, nil
}

// Show returns d as the caller may see it: the requested fields only (all
// of data when none were named), without hidden fields unless the caller
// is an admin. Every document a plan's read returns must go through it.
func (p *ReadPlan) Show(d Document) (Document, error) {
	if p.fields != nil { // nil: all of data; empty: system fields only
		data, err := project(d.Data, p.fields)
		if err != nil {
			return Document{}, fault.Internalf(p.op, err)
		}
		d.Data = data
	}
	if p.access.shows(p.who) {
		return d, nil
	}
	out, err := p.access.strip(d)
	if err != nil {
		return Document{}, fault.Internalf(p.op, err)
	}
	return out, nil
}

// Fingerprint binds a cursor to the read it continues: the collection,
// the filter and sort as the client wrote them, the caller, and extra (a
// search's query text, mode, …). Without extra it is a list's.
func (p *ReadPlan) Fingerprint(extra ...string) []byte {
	return fingerprint(append([]string{p.coll.Name, p.req.Filter, p.req.Sort, p.who.identity()}, extra...)...)
}

// signedCursor is the body of a cursor SignCursor issues, before signing.
type signedCursor struct {
	Q []byte `json:"q"` // fingerprint
	S []byte `json:"s"` // the caller's state
}

// SignCursor returns an opaque cursor that carries state for the read fp
// fingerprints, signed with the key of list cursors. The cursor grows
// with state (about 1.8 bytes per byte): keep it well under
// Limits.MaxCursorBytes, which OpenCursor enforces.
func (s *Service) SignCursor(fp []byte, state json.RawMessage) string {
	// A struct of byte slices always marshals.
	body, _ := json.Marshal(signedCursor{Q: fp, S: state})
	return s.sign(body)
}

// OpenCursor verifies a cursor SignCursor issued for the read fp
// fingerprints and returns its state. A cursor that is too long, was not
// issued by this server (or by one sharing its key), was tampered with,
// belongs to another read or caller, or is a list cursor, is fault.Invalid
// with the messages of list cursors; op names the operation in the error.
func (s *Service) OpenCursor(op, cursor string, fp []byte) (json.RawMessage, error) {
	body, err := s.open(op, cursor)
	if err != nil {
		return nil, err
	}
	var sc signedCursor
	if err := json.Unmarshal(body, &sc); err != nil || sc.S == nil {
		return nil, badCursor(op, "malformed")
	}
	if err := checkFingerprint(op, sc.Q, fp); err != nil {
		return nil, err
	}
	return json.RawMessage(sc.S), nil
}

// EncodeAfter returns the keyset position of d under keys: the JSON
// values of its sort keys, as list cursors carry them.
func EncodeAfter(keys []query.SortKey, d Document) ([]json.RawMessage, error) {
	var data map[string]any
	after := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		var v any
		switch k.Field.System {
		case query.SystemID:
			v = d.ID
		case query.SystemVersion:
			v = d.Version
		case query.SystemCreatedAt:
			v = d.CreatedAt.UnixMicro()
		case query.SystemUpdatedAt:
			v = d.UpdatedAt.UnixMicro()
		default:
			if data == nil {
				var err error
				if data, err = decodeData(d.Data); err != nil {
					return nil, err
				}
			}
			v = lookupPath(data, k.Field.Path)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		after[i] = b
	}
	return after, nil
}

// DecodeAfter reads a keyset position EncodeAfter wrote for keys into the
// value types ListParams.After documents. A position of another shape is
// fault.Invalid ("invalid cursor: malformed").
func DecodeAfter(keys []query.SortKey, raw []json.RawMessage) ([]any, error) {
	const op = "docstore.DecodeAfter"
	if len(raw) != len(keys) {
		return nil, badCursor(op, "malformed")
	}
	after := make([]any, len(keys))
	for i, k := range keys {
		v, err := cursorValue(raw[i], k.Field)
		if err != nil {
			return nil, badCursor(op, "malformed")
		}
		after[i] = v
	}
	return after, nil
}

// maxIDsPerRead is the most ids one store read of GetDocuments asks for.
const maxIDsPerRead = 200

// GetDocuments returns the documents among ids that exist and that p
// admits (its Filter holds), in the order of ids, once each, as stored:
// pass each through p.Show before returning it. Ids that are not document
// ids are skipped. It reads up to 200 ids per query of the store.
func (s *Service) GetDocuments(ctx context.Context, p *ReadPlan, ids []string) ([]Document, error) {
	if p.none || len(ids) == 0 {
		return []Document{}, nil
	}
	return s.readIDs(ctx, "docstore.GetDocuments", p.coll.Name, p.filter, ids)
}

// readIDs returns the documents of collection among ids that exist and
// that filter admits (nil: all), in the order of ids, once each, as
// stored. Ids that are not document ids are skipped. It reads up to 200
// ids per query of the store.
func (s *Service) readIDs(ctx context.Context, op, collection string, filter query.Expr, ids []string) ([]Document, error) {
	idField, _ := (*query.Schema)(nil).Lookup(string(query.SystemID))
	seen := make(map[string]bool, len(ids))
	want := make([]string, 0, len(ids))
	for _, id := range ids {
		if validDocumentID(id) && !seen[id] {
			seen[id] = true
			want = append(want, id)
		}
	}
	found := make(map[string]Document, len(want))
	for chunk := range slices.Chunk(want, maxIDsPerRead) {
		values := make([]query.Value, len(chunk))
		for i, id := range chunk {
			values[i] = query.Value{Kind: query.ValueString, Str: id}
		}
		in := &query.Compare{Field: idField, Op: query.OpIn, Values: values}
		docs, err := s.store.ListDocuments(ctx, ListParams{Collection: collection, Filter: andFilter(filter, in),
			Sort: []query.SortKey{{Field: idField}}, Limit: len(chunk)})
		if err != nil {
			return nil, s.storeErr(op, err)
		}
		for _, d := range docs {
			found[d.ID] = d
		}
	}
	out := make([]Document, 0, len(found))
	for _, id := range want {
		if d, ok := found[id]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// sign returns the opaque cursor of body: body and its MAC, base64url.
func (s *Service) sign(body []byte) string {
	mac := hmacOf(s.key, body)
	return base64.RawURLEncoding.EncodeToString(append(body, mac...))
}
