package docstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// ListDocuments runs a list query: filter, sort, keyset pagination with
// opaque signed cursors, field selection and an optional total, exact up
// to Limits.ListTotalCap (Page.TotalCapped beyond). The total counts every
// document the filter and the caller's list rule select, wherever the
// cursor stands.
//
// For callers who are not admins the list rule narrows the query (a rule
// that never holds gives an empty page), hidden fields cannot be named in
// filter, sort or fields (they are unknown fields) and are left out of the
// items. Cursors are bound to the caller.
func (s *Service) ListDocuments(ctx context.Context, r ListRequest) (Page, error) {
	const op = "docstore.ListDocuments"
	if err := checkCollectionName(op, r.Collection); err != nil {
		return Page{}, err
	}
	who := callerOf(ctx)
	if err := who.scope(op, r.Collection, actList); err != nil {
		return Page{}, err
	}
	c, cs, err := s.collection(ctx, op, r.Collection)
	if err != nil {
		return Page{}, s.collectionErr(op, r.Collection, err)
	}
	v, err := cs.access.decide(op, c.Name, who, actList)
	if err != nil {
		return Page{}, err
	}
	fieldsOf := cs.fields
	if !who.admin {
		fieldsOf = cs.access.public
	}
	filter, err := query.ParseFilter(r.Filter, fieldsOf, s.limits.Query)
	if err != nil {
		return Page{}, err
	}
	sortKeys, err := query.ParseSort(r.Sort, fieldsOf, s.limits.Query)
	if err != nil {
		return Page{}, err
	}
	fields, err := query.ParseFields(r.Fields, fieldsOf, s.limits.Query)
	if err != nil {
		return Page{}, err
	}
	limit := r.Limit
	switch {
	case limit < 0:
		return Page{}, fault.New(fault.Invalid, op, "limit must not be negative")
	case limit == 0:
		limit = s.limits.DefaultPageSize
	case limit > s.limits.MaxPageSize:
		limit = s.limits.MaxPageSize
	}
	fp := fingerprint(c.Name, r.Filter, r.Sort, who.identity())
	var after []any
	if r.Cursor != "" {
		after, err = s.decodeCursor(op, r.Cursor, fp, sortKeys)
		if err != nil {
			return Page{}, err
		}
	}
	if v.none {
		page := Page{Items: []Document{}}
		if r.Total {
			page.Total = new(int64)
		}
		return page, nil
	}
	filter = andFilter(v.filter, filter)
	docs, err := s.store.ListDocuments(ctx, ListParams{Collection: c.Name, Filter: filter, Sort: sortKeys, After: after, Limit: limit + 1})
	if err != nil {
		return Page{}, s.storeErr(op, err)
	}
	var page Page
	if len(docs) > limit {
		docs = docs[:limit]
		last := docs[len(docs)-1]
		page.NextCursor, err = s.encodeCursor(fp, sortKeys, last)
		if err != nil {
			return Page{}, fault.Internalf(op, err)
		}
	}
	for i := range docs {
		if fields != nil { // nil: all of data; empty: system fields only
			if docs[i].Data, err = project(docs[i].Data, fields); err != nil {
				return Page{}, fault.Internalf(op, err)
			}
		}
		if docs[i], err = s.shown(op, who, cs.access, docs[i]); err != nil {
			return Page{}, err
		}
	}
	page.Items = docs
	if page.Items == nil {
		page.Items = []Document{}
	}
	if r.Total {
		if page.Total, page.TotalCapped, err = s.total(ctx, c, filter, after == nil && page.NextCursor == "", len(page.Items)); err != nil {
			return Page{}, s.storeErr(op, err)
		}
	}
	return page, nil
}

// total counts the documents filter selects in c, up to the cap (and
// reports whether more match). When the page just listed is the first and
// the last (whole), its n items are every match and nothing is counted.
func (s *Service) total(ctx context.Context, c Collection, filter query.Expr, whole bool, n int) (*int64, bool, error) {
	cp := int64(s.limits.ListTotalCap)
	total := int64(n)
	if !whole {
		// One more than the cap tells "exactly the cap" from "more".
		var err error
		total, err = s.store.CountDocuments(ctx, CountParams{Collection: c.Name, Filter: filter, Limit: cp + 1, Indexes: c.Indexes})
		if err != nil {
			return nil, false, err
		}
	}
	if total > cp {
		return &cp, true, nil
	}
	return &total, false, nil
}

// fingerprint binds a cursor to the query it continues and to the caller
// it was issued to.
func fingerprint(collection, filter, sort, caller string) []byte {
	h := sha256.New()
	for _, p := range []string{collection, filter, sort, caller} {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return h.Sum(nil)[:12]
}

// cursorBody is what a cursor carries, before signing.
type cursorBody struct {
	Q     []byte            `json:"q"` // query fingerprint
	After []json.RawMessage `json:"a"` // sort key values of the last row
}

const macSize = 16

// encodeCursor returns the opaque cursor after document d.
func (s *Service) encodeCursor(fp []byte, keys []query.SortKey, d Document) (string, error) {
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
					return "", err
				}
			}
			v = lookupPath(data, k.Field.Path)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		after[i] = b
	}
	body, err := json.Marshal(cursorBody{Q: fp, After: after})
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write(body)
	sum := mac.Sum(nil)[:macSize]
	return base64.RawURLEncoding.EncodeToString(append(body, sum...)), nil
}

// decodeCursor verifies a cursor and returns its keyset position in the
// value types ListParams.After documents.
func (s *Service) decodeCursor(op, cursor string, fp []byte, keys []query.SortKey) ([]any, error) {
	bad := func(why string) error {
		return &fault.Error{Kind: fault.Invalid, Op: op, Msg: "invalid cursor: " + why}
	}
	if len(cursor) > s.limits.MaxCursorBytes {
		return nil, bad("too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) <= macSize {
		return nil, bad("not a cursor issued by this server")
	}
	body, sum := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	mac := hmac.New(sha256.New, s.key)
	mac.Write(body)
	if !hmac.Equal(sum, mac.Sum(nil)[:macSize]) {
		return nil, bad("not a cursor issued by this server")
	}
	var cb cursorBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, bad("malformed")
	}
	if !bytes.Equal(cb.Q, fp) {
		return nil, bad("it belongs to a different query (collection, filter and sort must not change between pages, and only the caller it was issued to may use it)")
	}
	if len(cb.After) != len(keys) {
		return nil, bad("malformed")
	}
	after := make([]any, len(keys))
	for i, k := range keys {
		v, err := cursorValue(cb.After[i], k.Field)
		if err != nil {
			return nil, bad("malformed")
		}
		after[i] = v
	}
	return after, nil
}

// cursorValue decodes one keyset value for field f.
func cursorValue(raw json.RawMessage, f query.Field) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	switch {
	case f.System == query.SystemVersion:
		var n int64
		err := json.Unmarshal(raw, &n)
		return n, err
	case f.Type == query.TypeTime:
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		return time.UnixMicro(n).UTC(), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch v.(type) {
	case string, json.Number, bool:
		return v, nil
	default:
		return nil, fmt.Errorf("unexpected cursor value %T", v)
	}
}

// lookupPath returns the value at path in data, or nil.
func lookupPath(data map[string]any, path []string) any {
	var cur any = data
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	switch cur.(type) {
	case map[string]any, []any:
		return nil
	}
	return cur
}

// project keeps only the selected paths of a document's data.
func project(raw json.RawMessage, fields [][]string) (json.RawMessage, error) {
	data, err := decodeData(raw)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, path := range fields {
		var src any = data
		ok := true
		for _, p := range path {
			m, isMap := src.(map[string]any)
			if !isMap {
				ok = false
				break
			}
			if src, ok = m[p]; !ok {
				break
			}
		}
		if !ok {
			continue
		}
		dst := out
		for _, p := range path[:len(path)-1] {
			next, isMap := dst[p].(map[string]any)
			if !isMap {
				next = map[string]any{}
				dst[p] = next
			}
			dst = next
		}
		dst[path[len(path)-1]] = src
	}
	return canonicalJSON(out)
}
