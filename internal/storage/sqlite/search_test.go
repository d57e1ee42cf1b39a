package sqlite_test

import (
	"testing"

	"github.com/basaltdev/basalt/internal/search/searchdb/searchdbtest"
)

func TestSearchConformance(t *testing.T) {
	searchdbtest.Run(t, "sqlite", func(t *testing.T) searchdbtest.Engine { return openStore(t) })
}
