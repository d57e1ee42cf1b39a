package vector_test

import (
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectortest"
)

func TestFlat(t *testing.T) {
	vectortest.Run(t, vectortest.Harness{
		Name:  "flat",
		New:   func(cfg vector.Config) (vector.Index, error) { return vector.NewFlat(cfg) },
		Exact: true,
	})
}
