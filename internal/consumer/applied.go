package consumer

import (
	"context"
	"sync"

	"github.com/basaltdev/basalt/internal/eventbus"
)

// AppliedPositions remembers, per key (Event.Key), the highest position a
// consumer applied. A consumer whose effects live in a database keeps it
// there, ideally written in the same transaction as the effect.
//
// It records positions, not versions: a document deleted and created
// again starts again at version 1, while positions only grow.
type AppliedPositions interface {
	// Applied returns the highest position applied for key (0 if none).
	Applied(ctx context.Context, key string) (int64, error)
	// SetApplied records that the event at pos was applied for key.
	SetApplied(ctx context.Context, key string, pos int64) error
}

// SkipApplied makes handle idempotent: it returns a handler that skips an
// event at or below its key's applied position (a redelivery, or a dead
// letter retried after later events of its document were applied: events
// carry the whole document, so the later one already holds its change),
// and records the position once handle succeeds.
func SkipApplied(p AppliedPositions, handle func(context.Context, eventbus.Event) error) func(context.Context, eventbus.Event) error {
	return func(ctx context.Context, e eventbus.Event) error {
		k := e.Key()
		done, err := p.Applied(ctx, k)
		if err != nil {
			return err
		}
		if e.Position <= done {
			return nil
		}
		if err := handle(ctx, e); err != nil {
			return err
		}
		return p.SetApplied(ctx, k, e.Position)
	}
}

// Applied is an AppliedPositions in memory, for consumers whose state is in
// memory too (a cache, an index rebuilt at start-up). It holds one entry
// per key ever applied. The zero value is ready to use; it is safe for
// concurrent use.
type Applied struct {
	mu sync.Mutex
	m  map[string]int64
}

var _ AppliedPositions = (*Applied)(nil)

// Applied returns the highest position recorded for key.
func (a *Applied) Applied(_ context.Context, key string) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[key], nil
}

// SetApplied records pos for key, unless a higher one is recorded.
func (a *Applied) SetApplied(_ context.Context, key string, pos int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]int64{}
	}
	if pos > a.m[key] {
		a.m[key] = pos
	}
	return nil
}
