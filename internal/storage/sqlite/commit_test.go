package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

func doc(id string) docstore.Document {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return docstore.Document{Collection: "c", ID: id, Version: 1, CreatedAt: now, UpdatedAt: now, Data: []byte(`{}`)}
}

// TestGroupMembersCommitOrRollBackAlone holds the committer inside one
// write while others queue up, so they run as one group, and checks that
// each member's outcome is its own: failures and panics undo only their own
// writes, and successes commit.
func TestGroupMembersCommitOrRollBackAlone(t *testing.T) {
	s := open(t, Options{})
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, newCollection("c")) })
	ctx := context.Background()

	hold := make(chan struct{})
	holding := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = s.Write(ctx, func(tx docstore.Tx) error {
			close(holding)
			<-hold
			return tx.InsertDocument(ctx, doc("first"))
		})
	})
	<-holding

	type outcome struct {
		err      error
		panicked any
	}
	members := []struct {
		id string
		fn func(tx docstore.Tx) error
	}{
		{"ok-1", func(tx docstore.Tx) error { return tx.InsertDocument(ctx, doc("ok-1")) }},
		{"fails", func(tx docstore.Tx) error {
			if err := tx.InsertDocument(ctx, doc("fails")); err != nil {
				return err
			}
			return fault.New(fault.Conflict, "test", "refused after writing")
		}},
		{"panics", func(tx docstore.Tx) error {
			if err := tx.InsertDocument(ctx, doc("panics")); err != nil {
				return err
			}
			panic("boom")
		}},
		{"duplicate", func(tx docstore.Tx) error { return tx.InsertDocument(ctx, doc("first")) }},
		{"ok-2", func(tx docstore.Tx) error { return tx.InsertDocument(ctx, doc("ok-2")) }},
	}
	outcomes := make([]outcome, len(members))
	var queued sync.WaitGroup
	for i, m := range members {
		queued.Add(1)
		wg.Go(func() {
			defer func() { outcomes[i].panicked = recover() }()
			queued.Done()
			outcomes[i].err = s.Write(ctx, m.fn)
		})
	}
	queued.Wait()
	// Every member must be queued behind the held write before the
	// committer frees up, so that they form one group.
	deadline := time.Now().Add(10 * time.Second)
	for len(s.writes) < len(members) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes queued", len(s.writes), len(members))
		}
		runtime.Gosched()
	}
	close(hold)
	wg.Wait()

	if outcomes[0].err != nil || outcomes[4].err != nil {
		t.Fatalf("successful members failed: %+v", outcomes)
	}
	if !fault.Is(outcomes[1].err, fault.Conflict) {
		t.Errorf("failing member: %v", outcomes[1].err)
	}
	if outcomes[2].panicked != "boom" {
		t.Errorf("panicking member: panic %v, err %v", outcomes[2].panicked, outcomes[2].err)
	}
	if !fault.Is(outcomes[3].err, fault.Conflict) {
		t.Errorf("duplicate member: %v", outcomes[3].err)
	}
	for id, want := range map[string]bool{"first": true, "ok-1": true, "ok-2": true, "fails": false, "panics": false} {
		_, err := s.GetDocument(ctx, "c", id)
		if got := err == nil; got != want {
			t.Errorf("document %s exists = %v, want %v (%v)", id, got, want, err)
		}
	}
}

func TestWriteAfterCloseIsUnavailable(t *testing.T) {
	s := open(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err := s.Write(context.Background(), func(docstore.Tx) error { return nil })
	if !fault.Is(err, fault.Unavailable) {
		t.Fatalf("write after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCancelledWriteDoesNothing(t *testing.T) {
	s := open(t, Options{})
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, newCollection("c")) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := s.Write(ctx, func(tx docstore.Tx) error { ran = true; return tx.InsertDocument(ctx, doc("x")) })
	if err == nil || ran {
		t.Fatalf("cancelled write: err %v, ran %v", err, ran)
	}
}

// TestConcurrentWritersAllLand runs many writers at once (so groups form)
// and checks every acknowledged write is there and no failed one is.
func TestConcurrentWritersAllLand(t *testing.T) {
	s := open(t, Options{})
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, newCollection("c")) })
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Write(ctx, func(tx docstore.Tx) error {
				if err := tx.InsertDocument(ctx, doc(fmt.Sprintf("d%03d", i))); err != nil {
					return err
				}
				if i%7 == 0 {
					return errors.New("every seventh writer changes its mind")
				}
				return tx.AppendOutbox(ctx, eventbus.Event{ID: fmt.Sprintf("e%03d", i), Collection: "c", DocumentID: fmt.Sprintf("d%03d", i), Type: eventbus.DocumentCreated, Version: 1, Payload: []byte(`{}`), Time: time.Now()})
			})
		})
	}
	wg.Wait()
	evs, err := s.ReadEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, err := range errs {
		_, gerr := s.GetDocument(ctx, "c", fmt.Sprintf("d%03d", i))
		if (err == nil) != (gerr == nil) || (err == nil) != (i%7 != 0) {
			t.Errorf("writer %d: write %v, read %v", i, err, gerr)
		}
		if err == nil {
			want++
		}
	}
	if len(evs) != want {
		t.Fatalf("%d outbox rows, want %d", len(evs), want)
	}
}
