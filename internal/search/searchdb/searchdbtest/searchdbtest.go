// Package searchdbtest is the conformance suite of searchdb.Store: both
// storage engines run it, so that full-text search, its typo-tolerant
// fallback, snippets, index builds and stored vectors answer alike on
// SQLite and PostgreSQL.
//
// An engine's test calls Run with a function that opens a fresh, empty
// store for one test (and closes it in t.Cleanup). Subtests are named
// engine=<engine>/contract=searchdb/<Case>.
package searchdbtest

import (
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// Engine is a storage engine as the suite uses it: documents are written
// through docstore.Store, searched through searchdb.Store.
type Engine interface {
	docstore.Store
	searchdb.Store
}

type testCase struct {
	name string
	fn   func(t *testing.T, e Engine)
}

// Run runs the searchdb contract against the engines open returns.
func Run(t *testing.T, engine string, open func(t *testing.T) Engine) {
	var cases []testCase
	cases = append(cases, textCases()...)
	cases = append(cases, vectorCases()...)
	t.Run("engine="+engine, func(t *testing.T) {
		t.Run("contract=searchdb", func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, open(t))
				})
			}
		})
	})
}
