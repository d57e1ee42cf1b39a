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
