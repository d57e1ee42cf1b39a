package eventbustest

import (
	"context"

	"github.com/basaltdev/basalt/internal/eventbus"
)

// WatchedCursors wraps Cursors so that what each SetCursor through one of
// its locks returns is also sent on Sets (buffered: read it, or give it
// room), for tests of what a holder stores after its lock was lost.
type WatchedCursors struct {
	eventbus.Cursors
	Sets chan error
}

// WatchCursors returns c watched, with room for n results on Sets.
func WatchCursors(c eventbus.Cursors, n int) *WatchedCursors {
	return &WatchedCursors{Cursors: c, Sets: make(chan error, n)}
}

// LockCursor takes the lock of the wrapped Cursors and watches it.
func (w *WatchedCursors) LockCursor(ctx context.Context, name string) (eventbus.CursorLock, error) {
	l, err := w.Cursors.LockCursor(ctx, name)
	if err != nil {
		return nil, err
	}
	return &watchedLock{CursorLock: l, sets: w.Sets}, nil
}

type watchedLock struct {
	eventbus.CursorLock
	sets chan error
}

func (l *watchedLock) SetCursor(ctx context.Context, pos int64) error {
	err := l.CursorLock.SetCursor(ctx, pos)
	l.sets <- err
	return err
}
