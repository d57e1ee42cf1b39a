package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

func testEvent(id, docID string, version int64) eventbus.Event {
	return eventbus.Event{ID: id, Type: eventbus.DocumentCreated, Collection: "posts", DocumentID: docID,
		Version: version, Payload: []byte(`{"id":"` + docID + `"}`), Time: time.UnixMicro(1_800_000_000_000_000).UTC()}
}

func appendEvent(t *testing.T, s *Store, e eventbus.Event) {
	t.Helper()
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.AppendOutbox(ctx, e) })
}

// sequenceAll numbers every committed event.
func sequenceAll(t *testing.T, s *Store) {
	t.Helper()
	for {
		n, err := s.Sequence(t.Context(), 100)
		if err != nil {
			t.Fatalf("Sequence: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// readFrom reads every numbered event after position after.
func readFrom(t *testing.T, s *Store, after int64) []eventbus.Event {
	t.Helper()
	var out []eventbus.Event
	for {
		evs, err := s.ReadEvents(t.Context(), after, 50)
		if err != nil {
			t.Fatalf("ReadEvents: %v", err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Position
	}
}

func seqOf(t *testing.T, s *Store, eventID string) int64 {
	t.Helper()
	var seq int64
	if err := s.pool.QueryRow(t.Context(), `SELECT seq FROM outbox WHERE event_id = $1`, eventID).Scan(&seq); err != nil {
		t.Fatalf("seq of %s: %v", eventID, err)
	}
	return seq
}

// TestSequenceLateCommit holds a transaction that recorded an event open
// while later ones commit: the readers of the log first see only the
// committed ones, and once the held transaction commits its event gets the
// next position, so a reader that follows positions sees it.
func TestSequenceLateCommit(t *testing.T) {
	s := open(t, Options{})
	ctx := t.Context()
	held, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo)
	done := make(chan error, 1)
	go func() {
		done <- s.Write(ctx, func(tx docstore.Tx) error {
			if err := tx.AppendOutbox(ctx, testEvent("late", "d0", 1)); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("held write ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the held write did not record its event")
	}
	appendEvent(t, s, testEvent("e1", "d1", 1))
	appendEvent(t, s, testEvent("e2", "d2", 1))
	sequenceAll(t, s)
	got := readFrom(t, s, 0)
	if len(got) != 2 || got[0].ID != "e1" || got[0].Position != 1 || got[1].ID != "e2" || got[1].Position != 2 {
		t.Fatalf("before the late commit: %+v; want e1@1, e2@2", got)
	}
	letGo()
	if err := <-done; err != nil {
		t.Fatalf("held write: %v", err)
	}
	if late, e1 := seqOf(t, s, "late"), seqOf(t, s, "e1"); late >= e1 {
		t.Fatalf("the held event's seq %d is not below the later one's %d: the test proves nothing", late, e1)
	}
	n, err := s.Sequence(ctx, 100)
	if err != nil || n != 1 {
		t.Fatalf("Sequence after the late commit = %d, %v; want 1", n, err)
	}
	got = readFrom(t, s, 2)
	if len(got) != 1 || got[0].ID != "late" || got[0].Position != 3 {
		t.Fatalf("after the late commit, reading after 2: %+v; want late@3", got)
	}
	if _, newest, err := s.LogBounds(ctx); err != nil || newest != 3 {
		t.Fatalf("LogBounds newest = %d, %v; want 3", newest, err)
	}
}

// progress counts committed writes and wakes whoever waits for more.
type progress struct {
	n   atomic.Int64
	sig eventbus.Signal
}

func (p *progress) add() {
	p.n.Add(1)
	p.sig.Notify()
}

// waitFor waits until n writes committed, or at most limit.
func (p *progress) waitFor(n int64, limit time.Duration) {
	deadline := time.After(limit)
	for {
		ch := p.sig.C()
		if p.n.Load() >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

// TestSequenceConcurrent runs three sequencers, each on its own store (as
// three processes would be), while writers commit long and short
// transactions that interleave (a long one records its event, then waits
// for others to commit before it commits), and some roll back. A reader
// follows positions as they appear, woken by ListenEvents. At the end every
// committed event has exactly one position, positions are 1..N with no gap,
// each document's events follow its versions, and the reader saw every
// event exactly once, in position order.
func TestSequenceConcurrent(t *testing.T) {
	url := pgtest.URL(t)
	var stores [3]*Store
	for i := range stores {
		stores[i] = open(t, Options{URL: url, MaxConns: 12})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	const writers, writes = 6, 30
	var (
		mu        sync.Mutex
		committed = map[string]eventbus.Event{}
		prog      progress
		fails     = make(chan error, 100)
	)
	fail := func(err error) {
		select {
		case fails <- err:
		default:
		}
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Go(func() {
			s := stores[w%len(stores)]
			versions := map[string]int64{}
			docA, docB := fmt.Sprintf("w%d-a", w), fmt.Sprintf("w%d-b", w)
			for i := range writes {
				var evs []eventbus.Event
				next := func(doc string) {
					evs = append(evs, testEvent(fmt.Sprintf("%s-v%d", doc, versions[doc]+1), doc, versions[doc]+1))
				}
				kind := (i + w) % 5
				next(docA)
				if kind == 1 {
					next(docB) // two events in one transaction
				}
				start := prog.n.Load()
				err := s.Write(ctx, func(tx docstore.Tx) error {
					for _, e := range evs {
						if err := tx.AppendOutbox(ctx, e); err != nil {
							return err
						}
					}
					switch kind {
					case 0: // long: others commit after this recorded its event
						prog.waitFor(start+3, 300*time.Millisecond)
					case 2:
						return errRolledBack
					}
					return nil
				})
				if kind == 2 {
					if !errors.Is(err, errRolledBack) {
						fail(fmt.Errorf("rolled-back write: %w", err))
					}
					continue
				}
				if err != nil {
					fail(fmt.Errorf("write: %w", err))
					return
				}
				mu.Lock()
				for _, e := range evs {
					committed[e.ID] = e
					versions[e.DocumentID] = e.Version
				}
				mu.Unlock()
				prog.add()
			}
		})
	}
	writersDone := make(chan struct{})
	go func() {
		writersWG.Wait()
		close(writersDone)
	}()

	// Three sequencers, each on its own store. Once the writers are done,
	// a Sequence that numbers nothing means every event has a position.
	var seqWG sync.WaitGroup
	for i := range stores {
		seqWG.Go(func() {
			for {
				finished := false
				select {
				case <-writersDone:
					finished = true
				default:
				}
				n, err := stores[i].Sequence(ctx, 4)
				if err != nil {
					fail(fmt.Errorf("sequencer %d: %w", i, err))
					return
				}
				if n > 0 {
					continue
				}
				if finished {
					return
				}
				select {
				case <-prog.sig.C():
				case <-writersDone:
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	sequencersDone := make(chan struct{})
	go func() {
		seqWG.Wait()
		close(sequencersDone)
	}()

	// The follower: reads what has been numbered, woken by notices.
	wake := make(chan struct{}, 1)
	listenCtx, stopListening := context.WithCancel(ctx)
	listenDone := make(chan error, 1)
	go func() {
		listenDone <- stores[1].ListenEvents(listenCtx, func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
	}()
	var stream []eventbus.Event
	var after int64
follow:
	for {
		evs, err := stores[0].ReadEvents(ctx, after, 7)
		if err != nil {
			t.Fatalf("follower: %v", err)
		}
		for _, e := range evs {
			if e.Position != after+1 {
				t.Fatalf("follower: position %d after %d; the numbered events must be a prefix with no hole", e.Position, after)
			}
			after = e.Position
			stream = append(stream, e)
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-sequencersDone:
			_, newest, err := stores[0].LogBounds(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after == newest {
				break follow
			}
		case <-wake:
		case <-time.After(200 * time.Millisecond):
		case err := <-fails:
			t.Fatal(err)
		}
	}
	stopListening()
	if err := <-listenDone; err != nil {
		t.Fatalf("ListenEvents: %v", err)
	}
	select {
	case err := <-fails:
		t.Fatal(err)
	default:
	}

	final := readFrom(t, stores[2], 0)
	if len(final) != len(committed) {
		t.Errorf("%d events numbered, %d committed", len(final), len(committed))
	}
	seen := map[string]int64{}
	lastVersion := map[string]int64{}
	for i, e := range final {
		if e.Position != int64(i+1) {
			t.Fatalf("event %d has position %d: positions must be 1..N", i, e.Position)
		}
		if p, dup := seen[e.ID]; dup {
			t.Fatalf("event %s has positions %d and %d", e.ID, p, e.Position)
		}
		seen[e.ID] = e.Position
		want, ok := committed[e.ID]
		if !ok {
			t.Fatalf("event %s at %d was never committed", e.ID, e.Position)
		}
		if e.DocumentID != want.DocumentID || e.Version != want.Version {
			t.Fatalf("event %s = %+v, want %+v", e.ID, e, want)
		}
		if e.Version != lastVersion[e.DocumentID]+1 {
			t.Fatalf("document %s: version %d at position %d follows version %d", e.DocumentID, e.Version, e.Position, lastVersion[e.DocumentID])
		}
		lastVersion[e.DocumentID] = e.Version
	}
	for id := range committed {
		if _, ok := seen[id]; !ok {
			t.Errorf("committed event %s has no position", id)
		}
	}
	if len(stream) != len(final) {
		t.Fatalf("the follower saw %d events, the log has %d", len(stream), len(final))
	}
	for i := range final {
		if stream[i].ID != final[i].ID || stream[i].Position != final[i].Position {
			t.Fatalf("the follower's event %d is %s@%d, the log's %s@%d", i, stream[i].ID, stream[i].Position, final[i].ID, final[i].Position)
		}
	}
	if len(final) < writers*writes/2 {
		t.Fatalf("only %d events: the writers did not run", len(final))
	}
}

var errRolledBack = errors.New("this write changes its mind")

// TestListenEvents checks that a Sequence on another store wakes a
// listener, that the listener returns nil when its context ends, and an
// error when its connection fails.
func TestListenEvents(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, Options{URL: url}), open(t, Options{URL: url})
	listen := func(ctx context.Context) (<-chan struct{}, <-chan error) {
		notices := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() {
			done <- a.ListenEvents(ctx, func() {
				select {
				case notices <- struct{}{}:
				default:
				}
			})
		}()
		return notices, done
	}
	// awaitNotice appends and numbers events on b until a notice arrives
	// (the first ones may come before the listener listens).
	next := 0
	awaitNotice := func(notices <-chan struct{}) {
		t.Helper()
		for range 50 {
			next++
			appendEvent(t, b, testEvent(fmt.Sprintf("e%d", next), "d", int64(next)))
			if n, err := b.Sequence(t.Context(), 10); err != nil || n != 1 {
				t.Fatalf("Sequence = %d, %v", n, err)
			}
			select {
			case <-notices:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		t.Fatal("no notice after 50 numbered events")
	}

	ctx, cancel := context.WithCancel(t.Context())
	notices, done := listen(ctx)
	awaitNotice(notices)
	// Once listening, every numbering is noticed.
	awaitNotice(notices)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ListenEvents after its context ended: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenEvents did not return when its context ended")
	}

	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	notices, done = listen(ctx2)
	awaitNotice(notices)
	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query = 'LISTEN basalt_events'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminating the listener's session: %d, %v", killed, err)
	}
	select {
	case err := <-done:
		if !fault.Is(err, fault.Unavailable) {
			t.Fatalf("ListenEvents after its connection failed = %v, want an Unavailable error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenEvents did not return when its connection failed")
	}
}

// TestLockCursorAcrossStores checks the lock between two stores (two
// processes), that waiting is bounded by the caller's context and not by
// the statement timeout, and that neither holding nor waiting takes a
// connection from the pool (each store has one).
func TestLockCursorAcrossStores(t *testing.T) {
	url := pgtest.URL(t)
	opts := Options{URL: url, MaxConns: 1, StatementTimeout: 200 * time.Millisecond}
	a, b := open(t, opts), open(t, opts)
	ctx := t.Context()
	lock, err := a.LockCursor(ctx, "relay")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("a's pool while a holds a lock: %v", err)
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
	_, err = b.LockCursor(wctx, "relay")
	cancel()
	if err == nil {
		t.Fatal("a second store got a held lock")
	}
	if waited := time.Since(start); waited < 700*time.Millisecond {
		t.Fatalf("the waiter gave up after %v, before its context ended (statement timeout?): %v", waited, err)
	}
	// Another name is free.
	u, err := b.LockCursor(ctx, "search")
	if err != nil {
		t.Fatalf("LockCursor(search) on b: %v", err)
	}
	u.Unlock()
	got := make(chan error, 1)
	var ub eventbus.CursorLock
	waiting := make(chan struct{})
	go func() {
		var err error
		close(waiting)
		ub, err = b.LockCursor(ctx, "relay")
		got <- err
	}()
	<-waiting
	if err := b.Ping(ctx); err != nil { // b waits, or is about to
		t.Fatalf("b's pool while b waits for a lock: %v", err)
	}
	lock.Unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("b's LockCursor after a released: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b did not get the lock after a released it")
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("a after unlock: %v", err)
	}
	ub.Unlock()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("b after unlock: %v", err)
	}
	ua, err := a.LockCursor(ctx, "relay")
	if err != nil {
		t.Fatalf("a's LockCursor after b released: %v", err)
	}
	ua.Unlock()
}

// TestLockCursorLost ends the session that holds a cursor lock, as a
// dropped connection or a server restart would: the server releases the
// lock and another store takes it; the first holder's Held ends within
// about a check interval, and its SetCursor writes nothing.
func TestLockCursorLost(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, Options{URL: url}), open(t, Options{URL: url})
	ctx := t.Context()
	lock, err := a.LockCursor(ctx, "search")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if err := lock.SetCursor(ctx, 3); err != nil {
		t.Fatalf("SetCursor while held: %v", err)
	}
	// The holder's backend: the session holding the advisory lock.
	var pid int
	err = b.pool.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`, CursorLockKey("search")).Scan(&pid)
	if err != nil {
		t.Fatalf("finding the lock's backend: %v", err)
	}
	killed := time.Now()
	var ok bool
	if err := b.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend = %v, %v", ok, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	taken, err := b.LockCursor(wctx, "search")
	if err != nil {
		t.Fatalf("b's LockCursor after a's session ended: %v", err)
	}
	defer taken.Unlock()
	select {
	case <-lock.Held().Done():
		if d := time.Since(killed); d > 2500*time.Millisecond {
			t.Errorf("Held ended %v after the session did, want within about 2s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Held did not end after the lock's session was terminated")
	}
	if err := taken.SetCursor(ctx, 8); err != nil {
		t.Fatalf("the new holder's SetCursor: %v", err)
	}
	if err := lock.SetCursor(ctx, 4); !errors.Is(err, eventbus.ErrLockLost) {
		t.Errorf("the lost lock's SetCursor = %v, want ErrLockLost", err)
	}
	if pos, _, err := a.Cursor(ctx, "search"); err != nil || pos != 8 {
		t.Errorf("Cursor = %d, %v; want 8, the new holder's", pos, err)
	}
}

// TestTrimWhileSequencing trims everything again and again while events
// are written and numbered: the trimmed bound never passes an event that
// is still in the log, and positions keep growing from where they were.
func TestTrimWhileSequencing(t *testing.T) {
	s := open(t, Options{})
	ctx := t.Context()
	const total = 120
	writerDone := make(chan error, 1)
	go func() {
		for i := range total {
			err := s.Write(ctx, func(tx docstore.Tx) error {
				return tx.AppendOutbox(ctx, testEvent(fmt.Sprintf("e%d", i), "d", int64(i+1)))
			})
			if err == nil {
				_, err = s.Sequence(ctx, 10)
			}
			if err != nil {
				writerDone <- err
				return
			}
		}
		writerDone <- nil
	}()
	far := time.UnixMicro(1_900_000_000_000_000)
	var lastTrimmed int64
	for done := false; !done; {
		select {
		case err := <-writerDone:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			done = true
			sequenceAll(t, s)
		default:
		}
		_, newest, err := s.LogBounds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.TrimEvents(ctx, far, newest); err != nil {
			t.Fatalf("TrimEvents: %v", err)
		}
		trimmed, _, err := s.LogBounds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if trimmed < lastTrimmed {
			t.Fatalf("trimmed went back from %d to %d", lastTrimmed, trimmed)
		}
		lastTrimmed = trimmed
		first, err := s.ReadEvents(ctx, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) == 1 && first[0].Position <= trimmed {
			t.Fatalf("event %s at %d is still in the log, at or below trimmed %d", first[0].ID, first[0].Position, trimmed)
		}
	}
	trimmed, newest, err := s.LogBounds(ctx)
	if err != nil || trimmed != total || newest != total {
		t.Fatalf("LogBounds at the end = %d, %d, %v; want %d, %d", trimmed, newest, err, total, total)
	}
	if n, _, err := s.LogSize(ctx); err != nil || n != 0 {
		t.Fatalf("LogSize at the end = %d, %v; want 0", n, err)
	}
}

// TestTrimKeepsAPrefix trims a log whose times are not in position order (a
// write that took its time before another but committed after it, or a
// clock that stepped back): only the oldest positions go, up to the first
// event still within the window, so readers that resume after the trimmed
// bound miss nothing.
func TestTrimKeepsAPrefix(t *testing.T) {
	s := open(t, Options{})
	ctx := t.Context()
	for i, at := range []int64{1, 200, 2, 3} { // positions 1 to 4; 2 is recent
		e := testEvent(fmt.Sprintf("e%d", i+1), "d", int64(i+1))
		e.Time = time.UnixMicro(at)
		appendEvent(t, s, e)
		sequenceAll(t, s)
	}
	if n, err := s.TrimEvents(ctx, time.UnixMicro(100), 4); err != nil || n != 1 {
		t.Fatalf("TrimEvents = %d, %v; want 1 (position 1 only)", n, err)
	}
	trimmed, newest, err := s.LogBounds(ctx)
	if err != nil || trimmed != 1 || newest != 4 {
		t.Fatalf("LogBounds = %d, %d, %v; want 1, 4", trimmed, newest, err)
	}
	evs := readFrom(t, s, trimmed)
	if len(evs) != 3 {
		t.Fatalf("events after the trimmed bound = %+v; want positions 2 to 4", evs)
	}
	for i, e := range evs {
		if e.Position != int64(i+2) {
			t.Fatalf("events after the trimmed bound: position %d where %d was expected (a hole)", e.Position, i+2)
		}
	}
}
