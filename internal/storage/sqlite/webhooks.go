package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/webhook"
)

// The webhook.Store of the SQLite engine: the tables of
// migrations/00008_webhooks.sql. Writes go through Write (one writer, so a
// claim can never be taken twice); reads use the read pool.

var _ webhook.Store = (*Store)(nil)

const webhookColumns = "id, url, collection, event_types, secret, enabled, description, created_at, updated_at, created_by, after_position, " +
	"previous_secret, previous_until"

func scanWebhook(s scanner) (webhook.Webhook, error) {
	var w webhook.Webhook
	var types string
	var created, updated int64
	var until sql.NullInt64
	if err := s.Scan(&w.ID, &w.URL, &w.Collection, &types, &w.Secret, &w.Enabled, &w.Description, &created, &updated,
		&w.CreatedBy, &w.After, &w.PreviousSecret, &until); err != nil {
		return w, err
	}
	w.PreviousUntil = fromNullMicros(until)
	if err := json.Unmarshal([]byte(types), &w.Types); err != nil {
		return w, err
	}
	if len(w.Types) == 0 {
		w.Types = nil
	}
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return w, nil
}

func typesJSON(ts []eventbus.Type) (string, error) {
	if len(ts) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ts)
	return string(b), err
}

// writeQ runs fn on the write transaction of Write.
func (s *Store) writeQ(ctx context.Context, op string, fn func(q pinnedTx) error) error {
	return s.Write(ctx, func(dt docstore.Tx) error {
		return mapErr(op, fn(dt.(*tx).q))
	})
}

// InsertWebhook stores a new webhook.
func (s *Store) InsertWebhook(ctx context.Context, w webhook.Webhook) error {
	const op = "sqlite.InsertWebhook"
	types, err := typesJSON(w.Types)
	if err != nil {
		return fault.Internalf(op, err)
	}
	return s.writeQ(ctx, op, func(q pinnedTx) error {
		_, err := q.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.URL, w.Collection, types, w.Secret, w.Enabled, w.Description, toMicros(w.CreatedAt),
			toMicros(w.UpdatedAt), w.CreatedBy, w.After, w.PreviousSecret, nullMicros(w.PreviousUntil))
		if err != nil {
			return constraintErr(op, err, "a webhook with this id exists", "a webhook with this id exists", "")
		}
		return nil
	})
}

// UpdateWebhook replaces a webhook's changeable fields.
func (s *Store) UpdateWebhook(ctx context.Context, w webhook.Webhook) error {
	const op = "sqlite.UpdateWebhook"
	types, err := typesJSON(w.Types)
	if err != nil {
		return fault.Internalf(op, err)
	}
	return s.writeQ(ctx, op, func(q pinnedTx) error {
		return (&authTx{q: q}).execOne(ctx, op, "webhook not found", func(err error) error { return mapErr(op, err) },
			`UPDATE webhooks SET url = ?, collection = ?, event_types = ?, secret = ?, enabled = ?, description = ?,
			 updated_at = ?, previous_secret = ?, previous_until = ? WHERE id = ?`,
			w.URL, w.Collection, types, w.Secret, w.Enabled, w.Description, toMicros(w.UpdatedAt), w.PreviousSecret,
			nullMicros(w.PreviousUntil), w.ID)
	})
}

// DeleteWebhook deletes a webhook; its deliveries go with it (ON DELETE
// CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	const op = "sqlite.DeleteWebhook"
	return s.writeQ(ctx, op, func(q pinnedTx) error {
		return (&authTx{q: q}).execOne(ctx, op, "webhook not found", func(err error) error { return mapErr(op, err) },
			`DELETE FROM webhooks WHERE id = ?`, id)
	})
}

// GetWebhook returns one webhook.
func (s *Store) GetWebhook(ctx context.Context, id string) (webhook.Webhook, error) {
	return queryOne(ctx, s.reads, "sqlite.GetWebhook", "webhook not found", scanWebhook,
		`SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id)
}

// ListWebhooks returns every webhook, by id.
func (s *Store) ListWebhooks(ctx context.Context) ([]webhook.Webhook, error) {
	return queryAll(ctx, s.reads, "sqlite.ListWebhooks", scanWebhook,
		`SELECT `+webhookColumns+` FROM webhooks ORDER BY id`)
}

const deliveryColumns = `id, webhook_id, event_id, position, event, status, attempts, next_attempt_at, last_status_code,
	last_error, created_at, updated_at`

func scanDelivery(s scanner) (webhook.Delivery, error) {
	var d webhook.Delivery
	var event string
	var next, created, updated int64
	if err := s.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Position, &event, &d.Status, &d.Attempts, &next,
		&d.LastStatusCode, &d.LastError, &created, &updated); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(event), &d.Event); err != nil {
		return d, err
	}
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	return d, nil
}

// AddDeliveries stores new deliveries, skipping those of an event a
// webhook already has and those of a missing webhook.
func (s *Store) AddDeliveries(ctx context.Context, ds []webhook.Delivery) (int, error) {
	const op = "sqlite.AddDeliveries"
	n := 0
	err := s.writeQ(ctx, op, func(q pinnedTx) error {
		n = 0
		for _, d := range ds {
			event, err := d.EventJSON()
			if err != nil {
				return fault.Internalf(op, err)
			}
			res, err := q.ExecContext(ctx, `INSERT INTO webhook_deliveries (`+deliveryColumns+`)
				SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?)
				ON CONFLICT (webhook_id, event_id) DO NOTHING`,
				d.ID, d.WebhookID, d.EventID, d.Position, string(event), d.Status, d.Attempts, toMicros(d.NextAttemptAt),
				d.LastStatusCode, d.LastError, toMicros(d.CreatedAt), toMicros(d.UpdatedAt), d.WebhookID)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	return n, err
}

// ClaimDeliveries marks due deliveries delivering until now+lease and
// returns them. SQLite has one writer: the claim is atomic.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]webhook.Delivery, error) {
	const op = "sqlite.ClaimDeliveries"
	if limit <= 0 {
		return nil, nil
	}
	var out []webhook.Delivery
	err := s.writeQ(ctx, op, func(q pinnedTx) error {
		var err error
		out, err = queryAll(ctx, q, op, scanDelivery,
			`UPDATE webhook_deliveries SET status = 'delivering', next_attempt_at = ?1, updated_at = ?2
			 WHERE id IN (SELECT id FROM webhook_deliveries
			              WHERE status IN ('pending', 'delivering') AND next_attempt_at <= ?2
			              ORDER BY next_attempt_at, id LIMIT ?3)
			 RETURNING `+deliveryColumns,
			toMicros(now.Add(lease)), toMicros(now), limit)
		return err
	})
	return out, err
}

// FinishAttempt records an attempt of a delivery still claimed until
// claimedUntil.
func (s *Store) FinishAttempt(ctx context.Context, d webhook.Delivery, claimedUntil time.Time) (bool, error) {
	const op = "sqlite.FinishAttempt"
	var n int64
	err := s.writeQ(ctx, op, func(q pinnedTx) error {
		res, err := q.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,
			last_status_code = ?, last_error = ?, updated_at = ?
			WHERE id = ? AND status = 'delivering' AND next_attempt_at = ?`,
			d.Status, d.Attempts, toMicros(d.NextAttemptAt), d.LastStatusCode, d.LastError, toMicros(d.UpdatedAt),
			d.ID, toMicros(claimedUntil))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// ListDeliveries returns a webhook's deliveries with an id below before,
// newest first.
func (s *Store) ListDeliveries(ctx context.Context, webhookID, before string, limit int) ([]webhook.Delivery, error) {
	const op = "sqlite.ListDeliveries"
	if limit <= 0 {
		return nil, nil
	}
	if before == "" {
		return queryAll(ctx, s.reads, op, scanDelivery, `SELECT `+deliveryColumns+` FROM webhook_deliveries
			WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`, webhookID, limit)
	}
	return queryAll(ctx, s.reads, op, scanDelivery, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, webhookID, before, limit)
}

// GetDelivery returns one delivery of a webhook.
func (s *Store) GetDelivery(ctx context.Context, webhookID, id string) (webhook.Delivery, error) {
	return queryOne(ctx, s.reads, "sqlite.GetDelivery", "delivery not found", scanDelivery,
		`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE webhook_id = ? AND id = ?`, webhookID, id)
}

// PurgeDeliveries deletes up to limit finished deliveries last updated
// before before.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	const op = "sqlite.PurgeDeliveries"
	var n int64
	err := s.writeQ(ctx, op, func(q pinnedTx) error {
		res, err := q.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
			WHERE status IN ('succeeded', 'failed') AND updated_at < ? LIMIT ?)`, toMicros(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// RedeliverDelivery makes a delivery pending and due at now.
func (s *Store) RedeliverDelivery(ctx context.Context, webhookID, id string, now time.Time) (webhook.Delivery, error) {
	const op = "sqlite.RedeliverDelivery"
	var d webhook.Delivery
	err := s.writeQ(ctx, op, func(q pinnedTx) error {
		var err error
		d, err = queryOne(ctx, q, op, "delivery not found", scanDelivery,
			`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?1, updated_at = ?1
			 WHERE webhook_id = ?2 AND id = ?3 RETURNING `+deliveryColumns, toMicros(now), webhookID, id)
		return err
	})
	return d, err
}
