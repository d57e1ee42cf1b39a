package restapi

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/search"
)

// SearchStatuser reports the state of a collection's search indexes
// (search.Service).
type SearchStatuser interface {
	// SearchStatus returns nil when c has no search configuration.
	SearchStatus(ctx context.Context, c docstore.Collection) (*search.Status, error)
}

// collectionStatus is the status member of GET /v1/collections/{name}.
type collectionStatus struct {
	Search searchStatus `json:"search"`
}

type searchStatus struct {
	Text    *textStatus             `json:"text,omitempty"`
	Vectors map[string]vectorStatus `json:"vectors,omitempty"`
}

type textStatus struct {
	Building bool  `json:"building"`
	Indexed  int64 `json:"indexed"`
	Total    int64 `json:"total"`
}

type vectorStatus struct {
	Building bool `json:"building"`
	Indexed  int  `json:"indexed"`
	Pending  int  `json:"pending"`
}

// collectionWithStatus returns the JSON of c with the status of its search
// indexes as the member status, or nil when there is none to show.
func (a *API) collectionWithStatus(ctx context.Context, c docstore.Collection) (json.RawMessage, error) {
	if a.opts.SearchStatus == nil || !c.Search.Enabled() {
		return nil, nil
	}
	st, err := a.opts.SearchStatus.SearchStatus(ctx, c)
	if err != nil || st == nil {
		return nil, err
	}
	var out collectionStatus
	if st.Text != nil {
		out.Search.Text = &textStatus{Building: st.Text.Building, Indexed: st.Text.Indexed, Total: st.Text.Total}
	}
	for name, v := range st.Vectors {
		if out.Search.Vectors == nil {
			out.Search.Vectors = map[string]vectorStatus{}
		}
		out.Search.Vectors[name] = vectorStatus{Building: v.Building, Indexed: v.Indexed, Pending: v.Pending}
	}
	body, err := c.MarshalJSON()
	if err != nil {
		return nil, err
	}
	status, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimRight(body, " \n")
	body = append(body[:len(body)-1], `,"status":`...)
	body = append(body, status...)
	return append(body, '}'), nil
}
