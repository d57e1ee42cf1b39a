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
	p, err := s.planRead(ctx, op, ReadRequest{Collection: r.Collection, Filter: r.Filter, Sort: r.Sort, Fields: r.Fields})
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
	fp := p.Fingerprint()
	var after []any
	if r.Cursor != "" {
		after, err = s.decodeCursor(op, r.Cursor, fp, p.order)
		if err != nil {
			return Page{}, err
		}
	}
	if p.none {
		page := Page{Items: []Document{}}
		if r.Total {
			page.Total = new(int64)
		}
		return page, nil
	}
	docs, err := s.store.ListDocuments(ctx, ListParams{Collection: p.coll.Name, Filter: p.filter, Sort: p.order, After: after, Limit: limit + 1})
	if err != nil {
		return Page{}, s.storeErr(op, err)
	}
	var page Page
	if len(docs) > limit {
		docs = docs[:limit]
		last := docs[len(docs)-1]
		page.NextCursor, err = s.encodeCursor(fp, p.order, last)
		if err != nil {
			return Page{}, fault.Internalf(op, err)
		}
	}
	if r.Cursors {
		page.Cursors = make([]string, len(docs))
	}
	for i := range docs {
		if r.Cursors {
			if page.Cursors[i], err = s.encodeCursor(fp, p.order, docs[i]); err != nil {
				return Page{}, fault.Internalf(op, err)
			}
		}
		if docs[i], err = p.Show(docs[i]); err != nil {
			return Page{}, err
		}
	}
	page.Items = docs
	if page.Items == nil {
		page.Items = []Document{}
	}
	if r.Total {
		if page.Total, page.TotalCapped, err = s.total(ctx, p.coll, p.filter, after == nil && page.NextCursor == "", len(page.Items)); err != nil {
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
// it was issued to: parts are the collection, filter, sort and caller, and
// whatever else the read depends on.
func fingerprint(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return h.Sum(nil)[:12]
}

// cursorBody is what a list cursor carries, before signing.
type cursorBody struct {
	Q     []byte            `json:"q"` // query fingerprint
	After []json.RawMessage `json:"a"` // sort key values of the last row
}

const macSize = 16

// hmacOf returns the MAC of a cursor body under key.
func hmacOf(key, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return mac.Sum(nil)[:macSize]
}

// encodeCursor returns the opaque cursor after document d.
func (s *Service) encodeCursor(fp []byte, keys []query.SortKey, d Document) (string, error) {
	after, err := EncodeAfter(keys, d)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(cursorBody{Q: fp, After: after})
	if err != nil {
		return "", err
	}
	return s.sign(body), nil
}

// badCursor is the answer to a cursor that cannot be used.
func badCursor(op, why string) error {
	return &fault.Error{Kind: fault.Invalid, Op: op, Msg: "invalid cursor: " + why}
}

// open verifies the length and signature of a cursor and returns its body.
func (s *Service) open(op, cursor string) ([]byte, error) {
	if len(cursor) > s.limits.MaxCursorBytes {
		return nil, badCursor(op, "too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) <= macSize {
		return nil, badCursor(op, "not a cursor issued by this server")
	}
	body, sum := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	if !hmac.Equal(sum, hmacOf(s.key, body)) {
		return nil, badCursor(op, "not a cursor issued by this server")
	}
	return body, nil
}

// checkFingerprint refuses a cursor issued for another read (got) than
// the one it is used with (want).
func checkFingerprint(op string, got, want []byte) error {
	if !bytes.Equal(got, want) {
		return badCursor(op, "it belongs to a different query (collection, filter and sort must not change between pages, and only the caller it was issued to may use it)")
	}
	return nil
}

// decodeCursor verifies a cursor and returns its keyset position in the
// value types ListParams.After documents.
func (s *Service) decodeCursor(op, cursor string, fp []byte, keys []query.SortKey) ([]any, error) {
	body, err := s.open(op, cursor)
	if err != nil {
		return nil, err
	}
	var cb cursorBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, badCursor(op, "malformed")
	}
	if err := checkFingerprint(op, cb.Q, fp); err != nil {
		return nil, err
	}
	after, err := DecodeAfter(keys, cb.After)
	if err != nil {
		return nil, badCursor(op, "malformed")
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
