package embed

import (
	"fmt"
	"sort"
	"sync"
)

// The names collections use for the embedders (VectorField.Embedder).
const (
	// BuiltinName is the builtin lexical embedder, always configured; it
	// serves any dimensions from MinBuiltinDimensions to
	// MaxBuiltinDimensions. An empty name means it.
	BuiltinName = "builtin"
	// OpenAIName is the OpenAI-compatible server configured by the
	// operator, if any; it serves its configured dimensions only.
	OpenAIName = "openai"
)

// Set holds the embedders a Basalt process offers, by the names a
// collection's vector fields use. It is safe for concurrent use.
type Set struct {
	openai *OpenAI

	mu      sync.Mutex
	builtin map[int]*Builtin // by dimensions
}

// NewSet returns the builtin embedder and, if openai is not nil, the
// OpenAI-compatible one it configures (see NewOpenAI).
func NewSet(openai *OpenAIOptions) (*Set, error) {
	s := &Set{builtin: make(map[int]*Builtin)}
	if openai != nil {
		o, err := NewOpenAI(*openai)
		if err != nil {
			return nil, err
		}
		s.openai = o
	}
	return s, nil
}

// Embedder returns the embedder called name ("" is BuiltinName) making
// vectors of dims dimensions. It fails with an error wrapping ErrUnknown
// if no embedder has that name, and ErrDimensions if it cannot make
// vectors of dims dimensions.
func (s *Set) Embedder(name string, dims int) (Embedder, error) {
	switch name {
	case "", BuiltinName:
		s.mu.Lock()
		defer s.mu.Unlock()
		if b := s.builtin[dims]; b != nil {
			return b, nil
		}
		b, err := NewBuiltin(dims)
		if err != nil {
			return nil, err
		}
		s.builtin[dims] = b
		return b, nil
	case OpenAIName:
		if s.openai == nil {
			return nil, fmt.Errorf("%w: %q (no embedding server is configured)", ErrUnknown, name)
		}
		if d := s.openai.Dimensions(); d != dims {
			return nil, fmt.Errorf("%w: the embedder %q makes %d dimensions, not %d", ErrDimensions, name, d, dims)
		}
		return s.openai, nil
	}
	return nil, fmt.Errorf("%w: %q (known: %v)", ErrUnknown, name, s.Names())
}

// Check reports whether Embedder(name, dims) would succeed, for the
// validation of a collection's vector fields.
func (s *Set) Check(name string, dims int) error {
	_, err := s.Embedder(name, dims)
	return err
}

// Names returns the names of the embedders configured, sorted.
func (s *Set) Names() []string {
	names := []string{BuiltinName}
	if s.openai != nil {
		names = append(names, OpenAIName)
	}
	sort.Strings(names)
	return names
}
