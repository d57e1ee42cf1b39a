package vector_test

import (
	"testing"

	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/search/vector/vectortest"
)

func TestHNSW(t *testing.T) {
	vectortest.Run(t, vectortest.Harness{
		Name:      "hnsw",
		New:       func(cfg vector.Config) (vector.Index, error) { return vector.NewHNSW(cfg, testOptions) },
		MinRecall: 0.95,
	})
	vectortest.Run(t, vectortest.Harness{
		Name:      "hnsw-filtered",
		New:       func(cfg vector.Config) (vector.Index, error) { return vector.NewHNSWFiltered(cfg, testOptions) },
		MinRecall: 0.95,
		Cases:     []string{"Only", "OnlyFarFromQuery", "Concurrent", "Cancelled"},
	})
}

// testOptions build graphs quickly enough for the race detector; the
// defaults are measured by the recall tests and benchmarks.
var testOptions = vector.HNSWOptions{M: 12, EfConstruction: 48}
