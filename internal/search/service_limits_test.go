package search

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// stallingDB is an engine's search store whose text queries (only the
// typo-tolerant ones, with fuzzyOnly) run until their context ends, as an
// expensive query on a large collection would; entered receives a value
// when one starts.
type stallingDB struct {
	searchdb.Store
	fuzzyOnly bool
	entered   chan struct{}
}

func (d *stallingDB) SearchText(ctx context.Context, q searchdb.TextQuery) ([]searchdb.TextHit, error) {
	if d.fuzzyOnly && !q.Fuzzy {
		return d.Store.SearchText(ctx, q)
	}
	select {
	case d.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, fault.Wrap(fault.Unavailable, "stallingDB", ctx.Err(), "the request ended before the database answered")
}

// limitsHarness is a harness whose service runs over a stallingDB with
// limits.
func limitsHarness(t *testing.T, limits Limits, fuzzyOnly bool) (*harness, *stallingDB) {
	t.Helper()
	h := newHarness(t, "sqlite", Limits{})
	h.notes()
	h.put("notes", map[string]string{"a": `{"owner":"u1","title":"raft consensus"}`, "b": `{"owner":"u1","title":"paxos"}`})
	db := &stallingDB{Store: h.text.Store, fuzzyOnly: fuzzyOnly, entered: make(chan struct{}, 1)}
	svc, err := New(Options{Docs: h.docs, DB: db, Vectors: h.vecs, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	return h, db
}

func TestSearchEndsAtItsTimeout(t *testing.T) {
	h, _ := limitsHarness(t, Limits{Timeout: 50 * time.Millisecond}, false)
	_, err := h.svc.Search(userCtx(t, "u1"), Request{Collection: "notes", Query: "raft"})
	if fault.KindOf(err) != fault.Unavailable || !strings.Contains(fault.Message(err), "did not finish within 50ms") {
		t.Fatalf("err = %v, want unavailable: did not finish within 50ms", err)
	}
	if fault.RetryAfterOf(err) <= 0 {
		t.Errorf("no Retry-After: %v", err)
	}
	// A caller that went away gets the engine's error, not the timeout's.
	ctx, cancel := context.WithCancel(userCtx(t, "u1"))
	cancel()
	_, err = h.svc.Search(ctx, Request{Collection: "notes", Query: "raft"})
	if err == nil || strings.Contains(fault.Message(err), "did not finish") {
		t.Fatalf("cancelled caller: %v", err)
	}
}

func TestSearchesWaitForATurn(t *testing.T) {
	h, db := limitsHarness(t, Limits{Timeout: 5 * time.Second, Concurrency: 1}, false)
	first := make(chan error, 1)
	ctx, cancel := context.WithCancel(userCtx(t, "u1"))
	defer cancel()
	go func() {
		_, err := h.svc.Search(ctx, Request{Collection: "notes", Query: "raft"})
		first <- err
	}()
	<-db.entered // the first search holds the only turn
	short, err := New(Options{Docs: h.docs, DB: db, Vectors: h.vecs, Limits: Limits{Timeout: 50 * time.Millisecond, Concurrency: 1}})
	if err != nil {
		t.Fatal(err)
	}
	short.turns = h.svc.turns // the same process's turns, a shorter timeout
	_, err = short.Search(userCtx(t, "u1"), Request{Collection: "notes", Query: "paxos"})
	if fault.KindOf(err) != fault.Unavailable || !strings.Contains(fault.Message(err), "too many searches are running") {
		t.Fatalf("err = %v, want unavailable: too many searches are running", err)
	}
	// A request refused before it needs a turn is answered at once.
	_, err = short.Search(userCtx(t, "u1"), Request{Collection: "notes", Query: "paxos", Limit: -1})
	if fault.KindOf(err) != fault.Invalid {
		t.Fatalf("bad limit while the turns are taken: %v", err)
	}
	cancel()
	if err := <-first; err == nil {
		t.Fatal("the stalled search answered")
	}
	// The turn is free again.
	h.svc, err = New(Options{Docs: h.docs, DB: h.text.Store, Vectors: h.vecs, Limits: Limits{Concurrency: 1}})
	if err != nil {
		t.Fatal(err)
	}
	h.svc.turns = short.turns
	if got := ids(h.search(userCtx(t, "u1"), Request{Collection: "notes", Query: "paxos"})); len(got) != 1 {
		t.Fatalf("after the turn was freed: %v", got)
	}
}

func TestSlowTypoFallbackGivesWayToExactHits(t *testing.T) {
	h, _ := limitsHarness(t, Limits{Timeout: 100 * time.Millisecond}, true)
	// One exact hit is fewer than min(limit, 3): the fallback runs, stalls
	// past half the timeout, and the exact hit answers.
	res := h.search(userCtx(t, "u1"), Request{Collection: "notes", Query: "raft"})
	if got := ids(res); len(got) != 1 || got[0] != "a" || res.Fuzzy {
		t.Fatalf("hits %v fuzzy %v, want [a] exact", got, res.Fuzzy)
	}
}
