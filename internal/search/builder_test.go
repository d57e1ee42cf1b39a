package search

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
)

// fakeBuilds is a text index build: each collection has some batches left;
// it records the calls and whether two ran at once.
type fakeBuilds struct {
	mu       sync.Mutex
	left     map[string]int
	calls    map[string]int
	inFlight int
	overlap  bool
	cols     []docstore.Collection
	// The first call waits until both builders listed the collections,
	// then a while for another call to overlap it.
	lists   int
	listed  chan struct{} // closed at the second list
	entered chan struct{} // receives each call after the first
	first   bool
}

func (f *fakeBuilds) ListCollections(context.Context) ([]docstore.Collection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lists++; f.lists == 2 {
		close(f.listed)
	}
	return append([]docstore.Collection(nil), f.cols...), nil
}

func (f *fakeBuilds) BuildText(ctx context.Context, collection string, limit int) (bool, error) {
	f.mu.Lock()
	f.inFlight++
	if f.inFlight > 1 {
		f.overlap = true
	}
	first := !f.first
	f.first = true
	f.mu.Unlock()
	if first {
		<-f.listed
		select {
		case <-f.entered:
		case <-time.After(200 * time.Millisecond): // the other builder waits for the lock
		}
	} else {
		select {
		case f.entered <- struct{}{}:
		default:
		}
	}
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	if limit != 7 {
		return false, fault.New(fault.Invalid, "BuildText", "unexpected limit")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.left[collection]; !ok {
		return false, fault.New(fault.NotFound, "BuildText", "no such collection")
	}
	f.calls[collection]++
	if f.left[collection] > 0 {
		f.left[collection]--
	}
	return f.left[collection] == 0, nil
}

func (f *fakeBuilds) remaining() (left int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.left {
		left += n
	}
	return left
}

// Builders of two processes of one database build every collection with
// a text configuration to the end, one at a time, at start and again when
// kicked after a change.
func TestBuilder(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	text := &docstore.TextSearch{Fields: map[string]int{"title": 1}}
	f := &fakeBuilds{listed: make(chan struct{}), entered: make(chan struct{}, 1), left: map[string]int{"a": 5, "b": 3, "gone": 0}, calls: map[string]int{},
		cols: []docstore.Collection{{Name: "a", Search: docstore.Search{Text: text}}, {Name: "b", Search: docstore.Search{Text: text}},
			{Name: "plain"}, {Name: "deleted", Search: docstore.Search{Text: text}}}}
	var builders []*Builder
	for range 2 {
		b, err := NewBuilder(BuilderConfig{Collections: f, Text: f, Cursors: st, Batch: 7})
		if err != nil {
			t.Fatal(err)
		}
		builders = append(builders, b)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	waitUntil(t, "the builds finish", func() bool { return f.remaining() == 0 })
	f.mu.Lock()
	if f.calls["a"] < 5 || f.calls["b"] < 3 || f.calls["plain"] != 0 {
		t.Errorf("calls = %v", f.calls)
	}
	f.left["b"] = 4 // its configuration changed
	f.mu.Unlock()
	builders[1].Kick("b")
	waitUntil(t, "the new build finishes", func() bool { return f.remaining() == 0 })
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.overlap {
		t.Error("two builds ran at once")
	}
}
