// Package webhook delivers change events to HTTP endpoints that
// administrators register: per collection and event type, signed in the
// Standard Webhooks format (webhook-id, webhook-timestamp and
// webhook-signature headers, HMAC-SHA256 with a whsec_ secret), retried
// with exponential backoff and full jitter, recorded (status, attempts, last
// error) and redeliverable by hand.
//
// The parts: Service (the admin operations, checked against the caller's
// principal), Dispatcher (the consumer of the event stream that turns each
// event into one delivery per matching webhook, idempotently), Worker (claims
// due deliveries and sends them) and Guard (refuses URLs that resolve to
// loopback, private, link-local, metadata and other internal addresses, at
// save and again at every connection, unless an operator allowlist permits
// the network). The Store it needs is declared here; each storage engine
// implements it and webhooktest is the suite both pass.
package webhook

import (
	"context"
	"encoding/json"
	"time"

	"github.com/basaltdev/basalt/internal/eventbus"
)

// AnyCollection is the collection of a webhook that receives the events of
// every collection.
const AnyCollection = "*"

// Webhook is one registered endpoint.
type Webhook struct {
	ID  string // UUIDv7
	URL string
	// Collection is the collection whose events the webhook receives, or
	// AnyCollection.
	Collection string
	// Types are the event types it receives; empty means every type.
	Types  []eventbus.Type
	Secret string // whsec_<base64>
	// PreviousSecret, until PreviousUntil, signs deliveries too (a second
	// signature in the header), so that a receiver can move to a rotated
	// secret without refusing any delivery.
	PreviousSecret string
	PreviousUntil  time.Time
	Enabled        bool
	Description    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// CreatedBy is the account or API key id of the admin that registered
	// it (empty for the operator's command line).
	CreatedBy string
	// After is the newest position of the event log when the webhook was
	// registered: events at or below it predate the webhook and are not
	// delivered to it (a consumer that lags, or starts for the first time,
	// still reads them).
	After int64
}

// Matches reports whether the webhook, enabled, receives ev (never an
// internal event).
func (w Webhook) Matches(ev eventbus.Event) bool {
	if ev.Type.Internal() { // never leaves Basalt
		return false
	}
	if !w.Enabled || ev.Position <= w.After || (w.Collection != AnyCollection && w.Collection != ev.Collection) {
		return false
	}
	if len(w.Types) == 0 {
		return true
	}
	for _, t := range w.Types {
		if t == ev.Type {
			return true
		}
	}
	return false
}

// Status is where a delivery stands.
type Status string

// Delivery statuses.
const (
	// Pending: waiting for its next attempt (NextAttemptAt).
	Pending Status = "pending"
	// Delivering: a worker claimed it and is sending it; if that worker
	// dies, the delivery is due again when its lease (NextAttemptAt) ends.
	Delivering Status = "delivering"
	// Succeeded: the endpoint answered 2xx.
	Succeeded Status = "succeeded"
	// Failed: the last attempt failed too; only a redelivery sends it again.
	Failed Status = "failed"
)

// Delivery is one event to send to one webhook, and the record of its
// attempts.
type Delivery struct {
	ID        string // UUIDv7: newest last in id order
	WebhookID string
	EventID   string
	Position  int64
	Event     eventbus.Event
	Status    Status
	Attempts  int
	// NextAttemptAt is when a pending delivery is due, or when the lease
	// of a delivering one ends.
	NextAttemptAt  time.Time
	LastStatusCode int    // 0: no HTTP answer
	LastError      string // empty after a success
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// EventJSON encodes d's event for a store.
func (d Delivery) EventJSON() ([]byte, error) { return json.Marshal(d.Event) }

// Store keeps webhooks and their deliveries in the database, shared by
// every process. Timestamps are kept at microsecond precision, in UTC.
type Store interface {
	// InsertWebhook stores a new webhook (fault.Conflict if its id exists).
	InsertWebhook(ctx context.Context, w Webhook) error
	// UpdateWebhook replaces a stored webhook's fields but ID, CreatedAt,
	// CreatedBy and After (fault.NotFound if missing).
	UpdateWebhook(ctx context.Context, w Webhook) error
	// DeleteWebhook deletes a webhook and its deliveries (fault.NotFound
	// if missing).
	DeleteWebhook(ctx context.Context, id string) error
	// GetWebhook returns one webhook (fault.NotFound if missing).
	GetWebhook(ctx context.Context, id string) (Webhook, error)
	// ListWebhooks returns every webhook, by id.
	ListWebhooks(ctx context.Context) ([]Webhook, error)

	// AddDeliveries stores new pending deliveries, skipping each one whose
	// (WebhookID, EventID) is stored already or whose webhook no longer
	// exists; it returns how many it stored.
	AddDeliveries(ctx context.Context, ds []Delivery) (int, error)
	// ClaimDeliveries takes up to limit deliveries that are due at now —
	// pending ones whose NextAttemptAt has come, and delivering ones whose
	// lease has ended — oldest due first, marks them delivering with a
	// lease until now+lease, and returns them. Concurrent callers, in this
	// process or others, never claim one delivery at once.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// FinishAttempt records an attempt of a claimed delivery: its Status,
	// Attempts, NextAttemptAt, LastStatusCode, LastError and UpdatedAt. It
	// reports false (and changes nothing) when the delivery is no longer
	// delivering with the lease claimed (claimedUntil): another worker
	// took it after the lease ended, or it was deleted.
	FinishAttempt(ctx context.Context, d Delivery, claimedUntil time.Time) (bool, error)
	// ListDeliveries returns up to limit deliveries of a webhook with an id
	// below before (every one when before is empty), newest first.
	ListDeliveries(ctx context.Context, webhookID, before string, limit int) ([]Delivery, error)
	// GetDelivery returns one delivery of a webhook (fault.NotFound if
	// missing).
	GetDelivery(ctx context.Context, webhookID, id string) (Delivery, error)
	// RedeliverDelivery makes a delivery pending and due at now, whatever
	// its status, and returns it (fault.NotFound if missing).
	RedeliverDelivery(ctx context.Context, webhookID, id string, now time.Time) (Delivery, error)
	// PurgeDeliveries deletes up to limit finished deliveries (succeeded
	// or failed) last updated before before, and returns how many it
	// deleted.
	PurgeDeliveries(ctx context.Context, before time.Time, limit int) (int64, error)
}
