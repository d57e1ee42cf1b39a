package search

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/vector"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// recordingDB is an engine's search store that records the text queries
// the service sends it.
type recordingDB struct {
	searchdb.Store

	mu    sync.Mutex
	calls []searchdb.TextQuery
}

func (r *recordingDB) SearchText(ctx context.Context, q searchdb.TextQuery) ([]searchdb.TextHit, error) {
	r.mu.Lock()
	r.calls = append(r.calls, q)
	r.mu.Unlock()
	return r.Store.SearchText(ctx, q)
}

func (r *recordingDB) last() searchdb.TextQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[len(r.calls)-1]
}

// fakeVectors is a VectorSource over indexes the test fills.
type fakeVectors struct {
	mu      sync.Mutex
	indexes map[string]vector.Index
	states  map[string]VectorState
	err     error
}

func (f *fakeVectors) Vectors(collection, field string) (vector.Index, VectorState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, VectorState{}, f.err
	}
	idx, ok := f.indexes[collection+"/"+field]
	if !ok {
		return nil, VectorState{}, fault.New(fault.NotFound, "fakeVectors", fmt.Sprintf("no index of %s/%s", collection, field))
	}
	return idx, f.states[collection+"/"+field], nil
}
