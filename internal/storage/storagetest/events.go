package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// eventsCases are the cases of the event log contract: eventbus.Log,
// eventbus.Cursors and consumer.DeadLetterStore, which every engine
// implements on the docstore.Store it returns.
//
// What the suite expects: Sequence numbers committed events (an engine that
// numbers at write time returns 0); ReadEvents returns numbered events in
// position order, positions strictly growing, in the order their writes
// committed, with every envelope field as written (times at microsecond
// precision, in UTC); positions are never given twice, even after the
// events holding the highest ones were trimmed; the trimmed bound of
// LogBounds only grows and every position at or below it is gone.
func eventsCases() []testCase {
	return []testCase{
		{"RoundTrip", testEventsRoundTrip},
		{"ConcurrentWriters", testEventsConcurrentWriters},
		{"Trim", testEventsTrim},
		{"Size", testEventsSize},
		{"Cursors", testCursors},
		{"LockCursor", testLockCursor},
		{"LockCursorEndsWithContext", testLockCursorEndsWithContext},
		{"LockSetCursor", testLockSetCursor},
		{"DeadLetters", testDeadLetters},
	}
}

func eventLog(t *testing.T, s docstore.Store) eventbus.Log {
	t.Helper()
	l, ok := s.(eventbus.Log)
	if !ok {
		t.Fatalf("%T does not implement eventbus.Log", s)
	}
	return l
}

// appendEvents commits events, one write per event.
func appendEvents(t *testing.T, s docstore.Store, evs ...eventbus.Event) {
	t.Helper()
	for _, e := range evs {
		mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.AppendOutbox(ctx, e) })
	}
}

// sameEvents checks got against want field by field, positions apart,
// and that positions grow.
func sameEvents(t *testing.T, got, want []eventbus.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %v, want %d: %v", len(got), eventIDs(got), len(want), eventIDs(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Type != w.Type || g.Collection != w.Collection || g.DocumentID != w.DocumentID ||
			g.Version != w.Version || g.BatchID != w.BatchID || string(g.Payload) != string(w.Payload) || g.TraceParent != w.TraceParent {
			t.Fatalf("event %d = %+v (payload %s), want %+v (payload %s)", i, g, g.Payload, w, w.Payload)
		}
		sameTime(t, "event "+w.ID+" time", g.Time, w.Time)
		if i > 0 && g.Position <= got[i-1].Position {
			t.Fatalf("event %d has position %d after %d; positions must grow", i, g.Position, got[i-1].Position)
		}
		if g.Position <= 0 {
			t.Fatalf("event %d has position %d; numbered events have positive positions", i, g.Position)
		}
	}
}

func eventIDs(evs []eventbus.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func testEventsRoundTrip(t *testing.T, s docstore.Store) {
	l := eventLog(t, s)
	ctx := context.Background()
	trimmed, newest, err := l.LogBounds(ctx)
	if err != nil || trimmed != 0 || newest != 0 {
		t.Fatalf("LogBounds of an empty log = %d, %d, %v; want 0, 0", trimmed, newest, err)
	}
	if evs, err := l.ReadEvents(ctx, 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("ReadEvents of an empty log = %v, %v", evs, err)
	}
	_, err = l.ReadEvents(ctx, 0, 0)
	wantKind(t, "ReadEvents with limit 0", err, fault.Invalid)

	coll := eventbus.Event{ID: "c1", Type: eventbus.CollectionCreated, Collection: "posts", Version: 1,
		Payload: json.RawMessage(`{"name":"posts","schema":{"type":"object"}}`), Time: at(1).In(fixedZone())}
	created := event("e1", "p1", 1)
	created.Payload = json.RawMessage(`{"id":"p1", "title":"caf\u00e9 é 😀","n":1.50}`) // bytes kept as written
	patched := event("e2", "p1", 2)
	patched.Type = eventbus.DocumentPatched
	patched.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" // a traced write's
	b1, b2 := event("b1", "p2", 1), event("b2", "p3", 1)
	b1.BatchID, b2.BatchID = "batch-1", "batch-1"
	deleted := event("e3", "p1", 3)
	deleted.Type, deleted.Payload = eventbus.DocumentDeleted, json.RawMessage(`{"id":"p1","collection":"posts","version":2}`)

	appendEvents(t, s, coll, created, patched)
	// A batch: two events in one write.
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.AppendOutbox(ctx, b1); err != nil {
			return err
		}
		return tx.AppendOutbox(ctx, b2)
	})
	// A rolled-back write leaves no event and takes no position that a
	// later event would skip over out of order.
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.AppendOutbox(ctx, event("gone", "p9", 1)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write: %v", err)
	}
	appendEvents(t, s, deleted)
	want := []eventbus.Event{coll, created, patched, b1, b2, deleted}

	got := readAll(t, l, 0)
	sameEvents(t, got, want)
	if got[0].DocumentID != "" {
		t.Fatalf("collection event has document id %q", got[0].DocumentID)
	}
	// Numbering again changes nothing.
	sequenceAll(t, l)
	again := readAll(t, l, 0)
	for i := range again {
		if again[i].Position != got[i].Position {
			t.Fatalf("event %s moved from position %d to %d", again[i].ID, got[i].Position, again[i].Position)
		}
	}
	// Reading after a position starts just after it; a limit is kept.
	rest, err := l.ReadEvents(ctx, got[2].Position, 2)
	wantOK(t, "ReadEvents after", err)
	sameEvents(t, rest, want[3:5])
	if evs, err := l.ReadEvents(ctx, got[5].Position, 10); err != nil || len(evs) != 0 {
		t.Fatalf("ReadEvents after the newest = %v, %v", eventIDs(evs), err)
	}
	trimmed, newest, err = l.LogBounds(ctx)
	if err != nil || trimmed != 0 || newest != got[5].Position {
		t.Fatalf("LogBounds = %d, %d, %v; want 0, %d", trimmed, newest, err, got[5].Position)
	}
}

// testEventsConcurrentWriters appends each document's versions from its own
// goroutine while others write: the log has every committed event once, and
// each document's events in version order.
func testEventsConcurrentWriters(t *testing.T, s docstore.Store) {
	l := eventLog(t, s)
	const docs, versions = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, docs*versions)
	for d := range docs {
		wg.Go(func() {
			for v := 1; v <= versions; v++ {
				err := write(t, s, func(ctx context.Context, tx docstore.Tx) error {
					if err := tx.AppendOutbox(ctx, event(fmt.Sprintf("d%d-v%d", d, v), fmt.Sprintf("d%d", d), int64(v))); err != nil {
						return err
					}
					if v%5 == 0 {
						return errBoom // this version never happened
					}
					return nil
				})
				if err != nil && !errors.Is(err, errBoom) {
					errs <- err
				}
			}
		})
	}
	// Number while the writers run, as a relay would.
	stop := make(chan struct{})
	seqDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				seqDone <- nil
				return
			default:
			}
			if _, err := l.Sequence(context.Background(), 7); err != nil {
				seqDone <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	wantOK(t, "Sequence during writes", <-seqDone)
	close(errs)
	for err := range errs {
		t.Fatalf("Write: %v", err)
	}
	got := readAll(t, l, 0)
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, e := range got {
		if seen[e.ID] {
			t.Fatalf("event %s read twice", e.ID)
		}
		seen[e.ID] = true
		if e.Version%5 == 0 {
			t.Fatalf("event %s of a rolled-back write is in the log", e.ID)
		}
		if e.Version <= last[e.DocumentID] {
			t.Fatalf("document %s: version %d after %d", e.DocumentID, e.Version, last[e.DocumentID])
		}
		last[e.DocumentID] = e.Version
	}
	if want := docs * (versions - versions/5); len(got) != want {
		t.Fatalf("log has %d events, want %d", len(got), want)
	}
}

func testEventsTrim(t *testing.T, s docstore.Store) {
	l := eventLog(t, s)
	ctx := context.Background()
	e1, e2, e3, e4 := event("e1", "p1", 1), event("e2", "p2", 1), event("e3", "p3", 1), event("e4", "p4", 1)
	e1.Time, e2.Time, e3.Time, e4.Time = at(1), at(50), at(2), at(3) // e2 is recent
	appendEvents(t, s, e1, e2, e3, e4)
	got := readAll(t, l, 0)
	sameEvents(t, got, []eventbus.Event{e1, e2, e3, e4})
	p := func(i int) int64 { return got[i].Position }

	// Only events up to the position and older than the cut-off go, and
	// only a prefix: e3 is old, but recent e2 before it keeps it (else a
	// reader that resumes after e1 would miss e3 with no gap to tell).
	n, err := l.TrimEvents(ctx, at(10), p(2))
	if err != nil || n != 1 {
		t.Fatalf("TrimEvents(at 10, up to e3) = %d, %v; want 1 (e1; e3 is behind recent e2)", n, err)
	}
	sameEvents(t, readAll(t, l, 0), []eventbus.Event{e2, e3, e4})
	// e2 is still there, so only e1's position is known gone.
	trimmed, newest, err := l.LogBounds(ctx)
	if err != nil || trimmed != p(0) || newest != p(3) {
		t.Fatalf("LogBounds = %d, %d, %v; want %d (below e2, kept), %d", trimmed, newest, err, p(0), p(3))
	}
	// Nothing matches: nothing changes.
	if n, err := l.TrimEvents(ctx, at(0), p(3)); err != nil || n != 0 {
		t.Fatalf("TrimEvents(at 0) = %d, %v; want 0", n, err)
	}
	// Everything goes: trimmed reaches the newest position, which stays.
	if n, err := l.TrimEvents(ctx, at(59), p(3)); err != nil || n != 3 {
		t.Fatalf("TrimEvents(everything) = %d, %v; want 3", n, err)
	}
	if evs := readAll(t, l, 0); len(evs) != 0 {
		t.Fatalf("events after trimming everything: %v", eventIDs(evs))
	}
	trimmed, newest, err = l.LogBounds(ctx)
	if err != nil || trimmed != p(3) || newest != p(3) {
		t.Fatalf("LogBounds after trimming everything = %d, %d, %v; want %d, %d", trimmed, newest, err, p(3), p(3))
	}
	// A trim below the bound does not lower it.
	if _, err := l.TrimEvents(ctx, at(59), p(0)); err != nil {
		t.Fatal(err)
	}
	if tr, _, err := l.LogBounds(ctx); err != nil || tr != p(3) {
		t.Fatalf("trimmed = %d, %v after a lower trim; want %d", tr, err, p(3))
	}
	// Positions are never given again.
	e5, e6 := event("e5", "p5", 1), event("e6", "p6", 1)
	e6.Time = at(1)
	appendEvents(t, s, e5, e6)
	more := readAll(t, l, 0)
	sameEvents(t, more, []eventbus.Event{e5, e6})
	if more[0].Position <= p(3) {
		t.Fatalf("event after a full trim has position %d, not above the trimmed %d", more[0].Position, p(3))
	}
	// An old event above upTo stays.
	if n, err := l.TrimEvents(ctx, at(59), more[0].Position); err != nil || n != 1 {
		t.Fatalf("TrimEvents(up to e5) = %d, %v; want 1", n, err)
	}
	sameEvents(t, readAll(t, l, 0), []eventbus.Event{e6})
	trimmed, newest, err = l.LogBounds(ctx)
	if err != nil || trimmed != more[0].Position || newest != more[1].Position {
		t.Fatalf("LogBounds = %d, %d, %v; want %d, %d", trimmed, newest, err, more[0].Position, more[1].Position)
	}
}

func testEventsSize(t *testing.T, s docstore.Store) {
	l := eventLog(t, s)
	ctx := context.Background()
	if n, b, err := l.LogSize(ctx); err != nil || n != 0 || b != 0 {
		t.Fatalf("LogSize of an empty log = %d, %d, %v", n, b, err)
	}
	e1, e2 := event("e1", "p1", 1), event("e2", "p2", 1)
	e2.Payload = json.RawMessage(`{"title":"été ☀"}`)
	e1.Time, e2.Time = at(1), at(5)
	appendEvents(t, s, e1, e2)
	sequenceAll(t, l)
	wantBytes := int64(len(e1.Payload) + len(e2.Payload))
	if n, b, err := l.LogSize(ctx); err != nil || n != 2 || b != wantBytes {
		t.Fatalf("LogSize = %d, %d, %v; want 2 events, %d bytes", n, b, err, wantBytes)
	}
	got := readAll(t, l, 0)
	if _, err := l.TrimEvents(ctx, at(2), got[1].Position); err != nil {
		t.Fatal(err)
	}
	if n, b, err := l.LogSize(ctx); err != nil || n != 1 || b != int64(len(e2.Payload)) {
		t.Fatalf("LogSize after trim = %d, %d, %v; want 1, %d", n, b, err, len(e2.Payload))
	}
}

func cursors(t *testing.T, s docstore.Store) eventbus.Cursors {
	t.Helper()
	c, ok := s.(eventbus.Cursors)
	if !ok {
		t.Fatalf("%T does not implement eventbus.Cursors", s)
	}
	return c
}

func testCursors(t *testing.T, s docstore.Store) {
	c := cursors(t, s)
	ctx := context.Background()
	if pos, found, err := c.Cursor(ctx, "search"); err != nil || found || pos != 0 {
		t.Fatalf("Cursor of a new name = %d, %v, %v; want not found", pos, found, err)
	}
	if list, err := c.ListCursors(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListCursors = %v, %v; want none", list, err)
	}
	start := time.Now()
	for _, x := range []struct {
		name string
		pos  int64
	}{{"search", 5}, {"webhooks", 7}, {"Realtime", 1}, {"search", 12}, {"cache/x", 0}} {
		wantOK(t, "SetCursor "+x.name, c.SetCursor(ctx, x.name, x.pos))
	}
	if pos, found, err := c.Cursor(ctx, "search"); err != nil || !found || pos != 12 {
		t.Fatalf("Cursor(search) = %d, %v, %v; want 12", pos, found, err)
	}
	if pos, found, err := c.Cursor(ctx, "cache/x"); err != nil || !found || pos != 0 {
		t.Fatalf("Cursor(cache/x) = %d, %v, %v; want 0, found", pos, found, err)
	}
	list, err := c.ListCursors(ctx)
	wantOK(t, "ListCursors", err)
	var names []string
	for _, x := range list {
		names = append(names, fmt.Sprintf("%s=%d", x.Name, x.Position))
		if x.UpdatedAt.Location() != time.UTC || x.UpdatedAt.Before(start.Add(-time.Second)) ||
			x.UpdatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("cursor %s UpdatedAt = %v, want now in UTC", x.Name, x.UpdatedAt)
		}
	}
	if want := []string{"Realtime=1", "cache/x=0", "search=12", "webhooks=7"}; !slices.Equal(names, want) {
		t.Fatalf("ListCursors = %v, want %v (bytewise name order)", names, want)
	}
}

// testLockCursor checks that a cursor lock excludes a second holder until
// it is released, that another name is independent, that a waiter whose
// context ends gets an error and no lock, and that Held ends on Unlock.
func testLockCursor(t *testing.T, s docstore.Store) {
	c := cursors(t, s)
	ctx := context.Background()
	lock, err := c.LockCursor(ctx, "search")
	wantOK(t, "LockCursor", err)
	if err := lock.Held().Err(); err != nil {
		t.Fatalf("Held of a held lock ended: %v", err)
	}

	other, err := c.LockCursor(ctx, "webhooks")
	wantOK(t, "LockCursor of another name", err)
	other.Unlock()
	if other.Held().Err() == nil {
		t.Fatal("Held did not end on Unlock")
	}

	// A waiter whose deadline passes gets an error.
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	u2, err := c.LockCursor(short, "search")
	cancel()
	if err == nil {
		u2.Unlock()
		t.Fatal("a second LockCursor got the lock while it was held")
	}
	// A patient waiter gets it once it is released, not before.
	got := make(chan eventbus.CursorLock, 1)
	waitErr := make(chan error, 1)
	go func() {
		u, err := c.LockCursor(ctx, "search")
		if err != nil {
			waitErr <- err
			return
		}
		got <- u
	}()
	probe, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	u3, err := c.LockCursor(probe, "search") // still held by the first: the probe waits and fails
	cancel()
	if err == nil {
		u3.Unlock()
		t.Fatal("LockCursor got a held lock")
	}
	select {
	case u := <-got:
		u.Unlock()
		t.Fatal("the waiter got the lock before it was released")
	default:
	}
	lock.Unlock()
	lock.Unlock() // a second call does nothing
	select {
	case u := <-got:
		u.Unlock()
	case err := <-waitErr:
		t.Fatalf("waiting LockCursor: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not get the lock after it was released")
	}
	// Released again: free for the next.
	u4, err := c.LockCursor(ctx, "search")
	wantOK(t, "LockCursor after release", err)
	u4.Unlock()
}

// testLockCursorEndsWithContext checks that a lock is released, and its
// Held ends, when the context it was taken with ends.
func testLockCursorEndsWithContext(t *testing.T, s docstore.Store) {
	c := cursors(t, s)
	ctx := context.Background()
	held, cancel := context.WithCancel(ctx)
	lock, err := c.LockCursor(held, "relay")
	wantOK(t, "LockCursor", err)
	defer lock.Unlock()
	cancel()
	select {
	case <-lock.Held().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Held did not end with LockCursor's context")
	}
	wait, cancelWait := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWait()
	u, err := c.LockCursor(wait, "relay")
	wantOK(t, "LockCursor after the holder's context ended", err)
	u.Unlock()
	// A context that has already ended gets no lock.
	_, err = c.LockCursor(held, "other")
	if err == nil {
		t.Fatal("LockCursor with an ended context succeeded")
	}
}

// testLockSetCursor checks that a lock's SetCursor stores its name's
// position while the lock is held, and refuses (ErrLockLost) once it is
// released, leaving the position the next holder stored.
func testLockSetCursor(t *testing.T, s docstore.Store) {
	c := cursors(t, s)
	ctx := context.Background()
	first, err := c.LockCursor(ctx, "indexer")
	wantOK(t, "LockCursor", err)
	wantOK(t, "SetCursor through the lock", first.SetCursor(ctx, 5))
	if pos, found, err := c.Cursor(ctx, "indexer"); err != nil || !found || pos != 5 {
		t.Fatalf("Cursor = %d, %v, %v; want 5", pos, found, err)
	}
	first.Unlock()
	second, err := c.LockCursor(ctx, "indexer")
	wantOK(t, "LockCursor after release", err)
	defer second.Unlock()
	wantOK(t, "SetCursor through the second lock", second.SetCursor(ctx, 9))
	if err := first.SetCursor(ctx, 6); !errors.Is(err, eventbus.ErrLockLost) {
		t.Fatalf("SetCursor through a released lock = %v, want ErrLockLost", err)
	}
	if pos, _, err := c.Cursor(ctx, "indexer"); err != nil || pos != 9 {
		t.Fatalf("Cursor = %d, %v; want 9 (the released holder wrote nothing)", pos, err)
	}
}

func deadLetters(t *testing.T, s docstore.Store) consumer.DeadLetterStore {
	t.Helper()
	d, ok := s.(consumer.DeadLetterStore)
	if !ok {
		t.Fatalf("%T does not implement consumer.DeadLetterStore", s)
	}
	return d
}

func testDeadLetters(t *testing.T, s docstore.Store) {
	ds := deadLetters(t, s)
	ctx := context.Background()
	if counts, err := ds.CountDeadLetters(ctx); err != nil || len(counts) != 0 {
		t.Fatalf("CountDeadLetters = %v, %v; want none", counts, err)
	}
	ev := event("e1", "p1", 3)
	ev.Position, ev.BatchID = 42, "batch-9"
	ev.Payload = json.RawMessage(`{"id":"p1","title":"é"}`)
	coll := eventbus.Event{ID: "c1", Type: eventbus.CollectionDeleted, Collection: "posts", Version: 2,
		Payload: json.RawMessage(`{"id":"posts"}`), Time: at(4), Position: 43}
	start := time.Now()
	add := func(d consumer.DeadLetter) int64 {
		t.Helper()
		id, err := ds.AddDeadLetter(ctx, d)
		wantOK(t, "AddDeadLetter", err)
		return id
	}
	id1 := add(consumer.DeadLetter{Consumer: "search", Event: ev, Error: "index: boom", Attempts: 5})
	id2 := add(consumer.DeadLetter{Consumer: "cache", Event: coll, Error: "x", Attempts: 1})
	id3 := add(consumer.DeadLetter{Consumer: "search", Event: coll, Error: "y", Attempts: 2})
	if id1 >= id2 || id2 >= id3 {
		t.Fatalf("ids %d, %d, %d do not grow", id1, id2, id3)
	}

	d, err := ds.GetDeadLetter(ctx, id1)
	wantOK(t, "GetDeadLetter", err)
	if d.ID != id1 || d.Consumer != "search" || d.Error != "index: boom" || d.Attempts != 5 || d.Retry {
		t.Fatalf("GetDeadLetter = %+v", d)
	}
	e := d.Event
	if e.ID != ev.ID || e.Type != ev.Type || e.Collection != ev.Collection || e.DocumentID != ev.DocumentID ||
		e.Version != ev.Version || e.BatchID != ev.BatchID || e.Position != ev.Position {
		t.Fatalf("dead letter's event = %+v, want %+v", e, ev)
	}
	if !jsonEqual(e.Payload, ev.Payload) {
		t.Fatalf("dead letter's payload = %s, want %s", e.Payload, ev.Payload)
	}
	sameTime(t, "event time", e.Time, ev.Time)
	for what, ts := range map[string]time.Time{"CreatedAt": d.CreatedAt, "UpdatedAt": d.UpdatedAt} {
		if ts.Location() != time.UTC || ts.Before(start.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Fatalf("%s = %v, want now in UTC", what, ts)
		}
	}

	list := func(consumerName string, after int64, limit int) []int64 {
		t.Helper()
		ls, err := ds.ListDeadLetters(ctx, consumerName, after, limit)
		wantOK(t, "ListDeadLetters", err)
		out := make([]int64, len(ls))
		for i, x := range ls {
			out[i] = x.ID
		}
		return out
	}
	if got := list("", 0, 10); !slices.Equal(got, []int64{id1, id2, id3}) {
		t.Fatalf("ListDeadLetters(all) = %v", got)
	}
	if got := list("search", 0, 10); !slices.Equal(got, []int64{id1, id3}) {
		t.Fatalf("ListDeadLetters(search) = %v", got)
	}
	if got := list("search", id1, 10); !slices.Equal(got, []int64{id3}) {
		t.Fatalf("ListDeadLetters(search, after id1) = %v", got)
	}
	if got := list("", 0, 2); !slices.Equal(got, []int64{id1, id2}) {
		t.Fatalf("ListDeadLetters(limit 2) = %v", got)
	}
	if got := list("nobody", 0, 10); len(got) != 0 {
		t.Fatalf("ListDeadLetters(nobody) = %v", got)
	}
	counts, err := ds.CountDeadLetters(ctx)
	if err != nil || len(counts) != 2 || counts["search"] != 2 || counts["cache"] != 1 {
		t.Fatalf("CountDeadLetters = %v, %v", counts, err)
	}

	wantOK(t, "MarkDeadLetterRetry", ds.MarkDeadLetterRetry(ctx, id1))
	if d, err := ds.GetDeadLetter(ctx, id1); err != nil || !d.Retry {
		t.Fatalf("after MarkDeadLetterRetry: %+v, %v", d, err)
	}
	wantOK(t, "UpdateDeadLetter", ds.UpdateDeadLetter(ctx, id1, "index: still broken", 6))
	d, err = ds.GetDeadLetter(ctx, id1)
	if err != nil || d.Retry || d.Error != "index: still broken" || d.Attempts != 6 || d.Event.ID != "e1" {
		t.Fatalf("after UpdateDeadLetter: %+v, %v", d, err)
	}
	wantOK(t, "DeleteDeadLetter", ds.DeleteDeadLetter(ctx, id1))
	_, err = ds.GetDeadLetter(ctx, id1)
	wantKind(t, "GetDeadLetter of a deleted one", err, fault.NotFound)
	wantKind(t, "MarkDeadLetterRetry of a missing one", ds.MarkDeadLetterRetry(ctx, id1), fault.NotFound)
	wantKind(t, "UpdateDeadLetter of a missing one", ds.UpdateDeadLetter(ctx, id1, "x", 1), fault.NotFound)
	wantKind(t, "DeleteDeadLetter of a missing one", ds.DeleteDeadLetter(ctx, id1), fault.NotFound)
	if got := list("", 0, 10); !slices.Equal(got, []int64{id2, id3}) {
		t.Fatalf("ListDeadLetters after delete = %v", got)
	}
	counts, err = ds.CountDeadLetters(ctx)
	if err != nil || len(counts) != 2 || counts["search"] != 1 || counts["cache"] != 1 {
		t.Fatalf("CountDeadLetters after delete = %v, %v", counts, err)
	}
	// Ids are not reused.
	if id4 := add(consumer.DeadLetter{Consumer: "search", Event: ev, Error: "z", Attempts: 1}); id4 <= id3 {
		t.Fatalf("new dead letter id %d not above %d", id4, id3)
	}
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
