package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// TestEventPositionsSurviveReopen trims every event, closes the database
// and opens it again: the next event still gets the next position (seq is
// AUTOINCREMENT, whose counter outlives the rows), the trimmed bound and
// the cursors are where they were.
func TestEventPositionsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "basalt.db")
	ctx := context.Background()
	openAt := func() *Store {
		s, err := Open(ctx, Options{Path: path})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	appendEv := func(s *Store, i int) {
		err := s.Write(ctx, func(tx docstore.Tx) error {
			return tx.AppendOutbox(ctx, eventbus.Event{ID: fmt.Sprintf("e%d", i), Type: eventbus.DocumentCreated,
				Collection: "c", DocumentID: "d", Version: int64(i), Payload: []byte(`{}`), Time: time.UnixMicro(int64(i))})
		})
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	s := openAt()
	for i := 1; i <= 3; i++ {
		appendEv(s, i)
	}
	if n, err := s.TrimEvents(ctx, time.UnixMicro(100), 3); err != nil || n != 3 {
		t.Fatalf("TrimEvents = %d, %v; want 3", n, err)
	}
	if err := s.SetCursor(ctx, "search", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt()
	defer s.Close()
	if trimmed, newest, err := s.LogBounds(ctx); err != nil || trimmed != 3 || newest != 3 {
		t.Fatalf("LogBounds after reopening = %d, %d, %v; want 3, 3", trimmed, newest, err)
	}
	if pos, found, err := s.Cursor(ctx, "search"); err != nil || !found || pos != 3 {
		t.Fatalf("Cursor after reopening = %d, %v, %v; want 3", pos, found, err)
	}
	appendEv(s, 4)
	evs, err := s.ReadEvents(ctx, 0, 10)
	if err != nil || len(evs) != 1 || evs[0].ID != "e4" || evs[0].Position != 4 {
		t.Fatalf("ReadEvents after reopening = %+v, %v; want e4 at position 4", evs, err)
	}
}

// TestTrimKeepsAPrefix trims a log whose times are not in position order (a
// write that took its time before another but committed after it, or a
// clock that stepped back): only the oldest positions go, up to the first
// event still within the window, so readers that resume after the trimmed
// bound miss nothing.
func TestTrimKeepsAPrefix(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for i, at := range []int64{1, 200, 2, 3} { // positions 1 to 4; 2 is recent
		err := s.Write(ctx, func(tx docstore.Tx) error {
			return tx.AppendOutbox(ctx, eventbus.Event{ID: fmt.Sprintf("e%d", i+1), Type: eventbus.DocumentCreated,
				Collection: "c", DocumentID: "d", Version: int64(i + 1), Payload: []byte(`{}`), Time: time.UnixMicro(at)})
		})
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if n, err := s.TrimEvents(ctx, time.UnixMicro(100), 4); err != nil || n != 1 {
		t.Fatalf("TrimEvents = %d, %v; want 1 (position 1 only)", n, err)
	}
	trimmed, newest, err := s.LogBounds(ctx)
	if err != nil || trimmed != 1 || newest != 4 {
		t.Fatalf("LogBounds = %d, %d, %v; want 1, 4", trimmed, newest, err)
	}
	evs, err := s.ReadEvents(ctx, trimmed, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("ReadEvents after the trimmed bound = %+v, %v; want positions 2 to 4", evs, err)
	}
	for i, e := range evs {
		if e.Position != int64(i+2) {
			t.Fatalf("ReadEvents after the trimmed bound: position %d where %d was expected (a hole)", e.Position, i+2)
		}
	}
}
