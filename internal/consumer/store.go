// Package consumer runs named consumers of the change-event stream: per
// document in order, at least once, with retries, a dead-letter store for
// events that keep failing, and lag as a metric.
package consumer

import (
	"context"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
)

// DeadLetter is an event a consumer's handler failed on too many times. It
// is set aside so that the consumer's other documents go on.
type DeadLetter struct {
	ID       int64          `json:"id"`
	Consumer string         `json:"consumer"`
	Event    eventbus.Event `json:"event"`
	Error    string         `json:"error"`    // the last error, as the handler returned it
	Attempts int            `json:"attempts"` // handler calls made before it was set aside
	// Retry is set when an administrator asked for the event to be handed
	// to the consumer again.
	Retry     bool      `json:"retry"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// DeadLetterStore keeps dead letters in the database, shared by every
// process. Storage engines implement it.
type DeadLetterStore interface {
	// AddDeadLetter stores d (its ID, CreatedAt and UpdatedAt are set by
	// the store) and returns its id.
	AddDeadLetter(ctx context.Context, d DeadLetter) (int64, error)
	// ListDeadLetters returns up to limit dead letters with an id above
	// after, in id order; consumer "" means every consumer.
	ListDeadLetters(ctx context.Context, consumer string, after int64, limit int) ([]DeadLetter, error)
	// GetDeadLetter returns one (fault.NotFound if missing).
	GetDeadLetter(ctx context.Context, id int64) (DeadLetter, error)
	// MarkDeadLetterRetry sets Retry on one (fault.NotFound if missing).
	MarkDeadLetterRetry(ctx context.Context, id int64) error
	// UpdateDeadLetter records another failed attempt: the error, the
	// attempt count, and Retry cleared.
	UpdateDeadLetter(ctx context.Context, id int64, errText string, attempts int) error
	// DeleteDeadLetter removes one (after it was handled, or by an
	// administrator); fault.NotFound if missing.
	DeleteDeadLetter(ctx context.Context, id int64) error
	// CountDeadLetters returns how many dead letters each consumer has.
	CountDeadLetters(ctx context.Context) (map[string]int64, error)
}
