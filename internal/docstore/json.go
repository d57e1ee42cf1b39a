package docstore

import (
	"bytes"
	"encoding/json"
	"time"
)

// TimeFormat is how timestamps appear in the API: RFC 3339, UTC, with
// microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

type documentJSON struct {
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	Version    int64           `json:"version"`
	CreatedAt  string          `json:"createdAt"`
	UpdatedAt  string          `json:"updatedAt"`
	Data       json.RawMessage `json:"data"`
}

// marshalUnescaped is json.Marshal without the escaping of &, < and >:
// documents and collections show them as themselves (an encoder that
// embeds this output re-escapes nothing unless it escapes HTML itself).
func marshalUnescaped(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// MarshalJSON renders a document in the public shape of API.md.
func (d Document) MarshalJSON() ([]byte, error) {
	data := d.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return marshalUnescaped(documentJSON{
		ID: d.ID, Collection: d.Collection, Version: d.Version,
		CreatedAt: d.CreatedAt.UTC().Format(TimeFormat),
		UpdatedAt: d.UpdatedAt.UTC().Format(TimeFormat),
		Data:      data,
	})
}

// UnmarshalJSON reads the shape MarshalJSON writes.
func (d *Document) UnmarshalJSON(b []byte) error {
	var j documentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	created, err := time.Parse(time.RFC3339Nano, j.CreatedAt)
	if err != nil {
		return err
	}
	updated, err := time.Parse(time.RFC3339Nano, j.UpdatedAt)
	if err != nil {
		return err
	}
	*d = Document{ID: j.ID, Collection: j.Collection, Version: j.Version,
		CreatedAt: created, UpdatedAt: updated, Data: j.Data}
	return nil
}

type collectionJSON struct {
	Name         string            `json:"name"`
	Schema       json.RawMessage   `json:"schema"`
	Indexes      []Index           `json:"indexes"`
	Rules        Rules             `json:"rules"`
	HiddenFields []string          `json:"hiddenFields"`
	Search       *Search           `json:"search,omitempty"`
	References   map[string]string `json:"references"`
	Version      int64             `json:"version"`
	CreatedAt    string            `json:"createdAt"`
	UpdatedAt    string            `json:"updatedAt"`
}

// MarshalJSON renders a collection in the public shape of API.md: rules
// always has its five members (null when unset), hiddenFields is an array
// ([] when none), references an object ({} when none) and search is left
// out when the collection configures none.
func (c Collection) MarshalJSON() ([]byte, error) {
	idx := c.Indexes
	if idx == nil {
		idx = []Index{}
	}
	hidden := c.HiddenFields
	if hidden == nil {
		hidden = []string{}
	}
	var search *Search
	if c.Search.Enabled() {
		search = &c.Search
	}
	refs := c.References
	if refs == nil {
		refs = map[string]string{}
	}
	return marshalUnescaped(collectionJSON{
		Name: c.Name, Schema: c.Schema, Indexes: idx, Rules: c.Rules, HiddenFields: hidden, Search: search, References: refs, Version: c.Version,
		CreatedAt: c.CreatedAt.UTC().Format(TimeFormat),
		UpdatedAt: c.UpdatedAt.UTC().Format(TimeFormat),
	})
}
