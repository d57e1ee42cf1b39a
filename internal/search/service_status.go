package search

import (
	"context"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// Status is the state of a collection's search indexes, for the
// collection's status.
type Status struct {
	// Text is the build of the text index; nil without a text
	// configuration.
	Text *TextStatus
	// Vectors maps each vector field to the state of its index.
	Vectors map[string]VectorStatus
}

// TextStatus is the build of a text index.
type TextStatus struct {
	Building       bool
	Indexed, Total int64
}

// SearchStatus returns the state of the search indexes of c, or nil when c
// has no search configuration. It reads no access rules: callers show it
// to those who may read c's definition.
func (s *Service) SearchStatus(ctx context.Context, c docstore.Collection) (*Status, error) {
	if !c.Search.Enabled() {
		return nil, nil
	}
	var st Status
	if c.Search.Text != nil {
		b, err := s.db.TextStatus(ctx, c.Name)
		if err != nil {
			return nil, err
		}
		st.Text = &TextStatus{Building: b.Building, Indexed: b.Indexed, Total: b.Total}
	}
	if len(c.Search.Vectors) > 0 {
		st.Vectors = make(map[string]VectorStatus, len(c.Search.Vectors))
	}
	for name := range c.Search.Vectors {
		if s.vectors == nil {
			st.Vectors[name] = VectorStatus{Building: true}
			continue
		}
		idx, vs, err := s.vectors.Vectors(c.Name, name)
		switch {
		case fault.Is(err, fault.Unavailable) || fault.Is(err, fault.NotFound):
			st.Vectors[name] = VectorStatus{Building: true}
		case err != nil:
			return nil, err
		default:
			st.Vectors[name] = VectorStatus{Building: vs.Building, Indexed: idx.Len(), Pending: vs.Pending}
		}
	}
	return &st, nil
}
