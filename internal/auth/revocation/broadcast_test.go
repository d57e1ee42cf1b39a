package revocation

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// hub is an in-memory pub/sub channel; like Redis, it delivers a message
// to every subscriber, the publisher's own included.
type hub struct {
	mu        sync.Mutex
	subs      map[int]func(Entry)
	next      int
	published []Entry
	err       error // Publish fails with it when set
}

func (h *hub) Publish(_ context.Context, e Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	h.published = append(h.published, e)
	for _, deliver := range h.subs {
		deliver(e)
	}
	return nil
}

func (h *hub) Subscribe(ctx context.Context, deliver func(Entry)) error {
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[int]func(Entry){}
	}
	id := h.next
	h.next++
	h.subs[id] = deliver
	h.mu.Unlock()
	<-ctx.Done()
	h.mu.Lock()
	delete(h.subs, id)
	h.mu.Unlock()
	return nil
}

func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *hub) publishedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.published)
}

func (h *hub) fail(err error) {
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
}

func runSet(t *testing.T, s *Set) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// TestBroadcastArrivesBeforeThePoll: with polls an hour apart, a
// revocation added on one set is reported by another through the
// broadcaster, while a set without one still misses it; when the
// broadcaster fails, the next poll delivers.
func TestBroadcastArrivesBeforeThePoll(t *testing.T) {
	c := newClock()
	feed := &fakeFeed{}
	h := &hub{}
	slow := Options{Interval: time.Hour, MaxStaleness: time.Hour}
	withHub := slow
	withHub.Broadcaster = h
	a, b := newSet(t, feed, c, withHub), newSet(t, feed, c, withHub)
	alone := newSet(t, feed, c, slow)
	for _, s := range []*Set{a, b, alone} {
		runSet(t, s)
	}
	eventually(t, "the first polls and the subscriptions", func() bool {
		return a.Synced() && b.Synced() && alone.Synced() && h.subscribers() == 2
	})

	// A revokes s1 (its transaction committed).
	feed.put("s1", c.Now(), true)
	a.Add("s1", c.Now())
	wantRevoked(t, a, "s1", true)
	eventually(t, "B to learn s1 from the broadcast", func() bool {
		b.mu.RLock()
		defer b.mu.RUnlock()
		_, ok := b.entries["s1"]
		return ok
	})
	wantRevoked(t, b, "s1", true)
	// Without a broadcaster, a fresh set answers from memory until its
	// next poll: it does not know yet.
	wantRevoked(t, alone, "s1", false)
	// What a set receives it does not publish again.
	if n := h.publishedCount(); n != 1 {
		t.Fatalf("%d publishes, want 1 (received revocations are not re-published)", n)
	}

	// The broadcaster goes down: Add still works locally, and the other
	// sets learn the revocation by polling.
	h.fail(errors.New("connection refused"))
	feed.put("s2", c.Now(), true)
	a.Add("s2", c.Now())
	wantRevoked(t, a, "s2", true)
	wantRevoked(t, b, "s2", false)
	mustPoll(t, b)
	wantRevoked(t, b, "s2", true)
}

// TestReceivedEntriesAreBounded: an entry stamped by a clock ahead of this
// one is recorded at now, so it is pruned after Retention like any other.
func TestReceivedEntriesAreBounded(t *testing.T) {
	c := newClock()
	s := newSet(t, &fakeFeed{}, c, Options{})
	s.received(Entry{ID: "future", At: c.Now().Add(24 * time.Hour)})
	s.received(Entry{ID: ""})
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
	c.Advance(retention + time.Second)
	s.Add("later", time.Time{})
	if s.Len() != 1 {
		t.Fatalf("Len = %d after Retention, want the future-stamped entry pruned", s.Len())
	}
}
