package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/webhook"
)

// The webhook.Store of the engine: the tables of
// migrations/00008_webhooks.sql. Every operation is one statement (its own
// transaction). Claims take due rows with FOR UPDATE SKIP LOCKED, so
// processes claiming at once never take one delivery together, and mark
// them delivering until a lease ends: a delivery whose worker died is due
// again then.

var _ webhook.Store = (*Store)(nil)

const webhookColumns = "id, url, collection, event_types, secret, enabled, description, created_at, updated_at, created_by, after_position, " +
	"previous_secret, previous_until"

func scanWebhook(r rowScanner) (webhook.Webhook, error) {
	var w webhook.Webhook
	var types string
	var created, updated, until pgtype.Timestamptz
	if err := r.Scan(&w.ID, &w.URL, &w.Collection, &types, &w.Secret, &w.Enabled, &w.Description, &created, &updated,
		&w.CreatedBy, &w.After, &w.PreviousSecret, &until); err != nil {
		return w, err
	}
	w.PreviousUntil = utcTime(until)
	if err := json.Unmarshal([]byte(types), &w.Types); err != nil {
		return w, err
	}
	if len(w.Types) == 0 {
		w.Types = nil
	}
	w.CreatedAt, w.UpdatedAt = utcTime(created), utcTime(updated)
	return w, nil
}

func typesJSON(ts []eventbus.Type) (string, error) {
	if len(ts) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ts)
	return string(b), err
}

// InsertWebhook stores a new webhook.
func (s *Store) InsertWebhook(ctx context.Context, w webhook.Webhook) error {
	const op = "postgres.InsertWebhook"
	types, err := typesJSON(w.Types)
	if err != nil {
		return fault.Internalf(op, err)
	}
	return s.read(ctx, op, func(q queryer) error {
		return authInsert(ctx, q, op, "a webhook with this id exists",
			`INSERT INTO webhooks (`+webhookColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			 ON CONFLICT (id) DO NOTHING`,
			w.ID, w.URL, w.Collection, types, w.Secret, w.Enabled, w.Description, w.CreatedAt, w.UpdatedAt, w.CreatedBy,
			w.After, w.PreviousSecret, nullTime(w.PreviousUntil))
	})
}

// UpdateWebhook replaces a webhook's changeable fields.
func (s *Store) UpdateWebhook(ctx context.Context, w webhook.Webhook) error {
	const op = "postgres.UpdateWebhook"
	types, err := typesJSON(w.Types)
	if err != nil {
		return fault.Internalf(op, err)
	}
	return s.read(ctx, op, func(q queryer) error {
		return authExec(ctx, q, op, "webhook not found",
			`UPDATE webhooks SET url = $1, collection = $2, event_types = $3, secret = $4, enabled = $5, description = $6,
			 updated_at = $7, previous_secret = $8, previous_until = $9 WHERE id = $10`,
			w.URL, w.Collection, types, w.Secret, w.Enabled, w.Description, w.UpdatedAt, w.PreviousSecret,
			nullTime(w.PreviousUntil), w.ID)
	})
}

// DeleteWebhook deletes a webhook; its deliveries go with it (ON DELETE
// CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	const op = "postgres.DeleteWebhook"
	return s.read(ctx, op, func(q queryer) error {
		return authExec(ctx, q, op, "webhook not found", `DELETE FROM webhooks WHERE id = $1`, id)
	})
}

// GetWebhook returns one webhook.
func (s *Store) GetWebhook(ctx context.Context, id string) (w webhook.Webhook, err error) {
	const op = "postgres.GetWebhook"
	err = s.read(ctx, op, func(q queryer) error {
		w, err = authGet(ctx, q, op, "webhook not found", scanWebhook,
			`SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id)
		return err
	})
	return w, err
}

// ListWebhooks returns every webhook, by id.
func (s *Store) ListWebhooks(ctx context.Context) (out []webhook.Webhook, err error) {
	const op = "postgres.ListWebhooks"
	err = s.read(ctx, op, func(q queryer) error {
		out, err = authList(ctx, q, op, scanWebhook, `SELECT `+webhookColumns+` FROM webhooks ORDER BY id`)
		return err
	})
	return out, err
}

const deliveryColumns = `id, webhook_id, event_id, position, event, status, attempts, next_attempt_at, last_status_code,
	last_error, created_at, updated_at`

func scanDelivery(r rowScanner) (webhook.Delivery, error) {
	var d webhook.Delivery
	var event, status string
	var next, created, updated pgtype.Timestamptz
	if err := r.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Position, &event, &status, &d.Attempts, &next,
		&d.LastStatusCode, &d.LastError, &created, &updated); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(event), &d.Event); err != nil {
		return d, err
	}
	d.Status = webhook.Status(status)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = utcTime(next), utcTime(created), utcTime(updated)
	return d, nil
}

// AddDeliveries stores new deliveries, skipping those of an event a
// webhook already has and those of a missing webhook (including one
// deleted while they are added).
func (s *Store) AddDeliveries(ctx context.Context, ds []webhook.Delivery) (int, error) {
	const op = "postgres.AddDeliveries"
	n := 0
	err := s.read(ctx, op, func(q queryer) error {
		for _, d := range ds {
			event, err := d.EventJSON()
			if err != nil {
				return fault.Internalf(op, err)
			}
			tag, err := q.Exec(ctx, `INSERT INTO webhook_deliveries (`+deliveryColumns+`)
				SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $2)
				ON CONFLICT (webhook_id, event_id) DO NOTHING`,
				d.ID, d.WebhookID, d.EventID, d.Position, string(event), string(d.Status), d.Attempts, d.NextAttemptAt,
				d.LastStatusCode, d.LastError, d.CreatedAt, d.UpdatedAt)
			if sqlState(err) == codeForeignKeyViolation {
				continue // the webhook was deleted meanwhile
			}
			if err != nil {
				return authErr(op, err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	return n, err
}

// ClaimDeliveries marks due deliveries delivering until now+lease and
// returns them, skipping rows another process is claiming.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) (out []webhook.Delivery, err error) {
	const op = "postgres.ClaimDeliveries"
	if limit <= 0 {
		return nil, nil
	}
	err = s.read(ctx, op, func(q queryer) error {
		out, err = authList(ctx, q, op, scanDelivery,
			`WITH due AS (
			     SELECT id FROM webhook_deliveries
			     WHERE status IN ('pending', 'delivering') AND next_attempt_at <= $2
			     ORDER BY next_attempt_at, id LIMIT $3
			     FOR UPDATE SKIP LOCKED)
			 UPDATE webhook_deliveries d SET status = 'delivering', next_attempt_at = $1, updated_at = $2
			 FROM due WHERE d.id = due.id
			 RETURNING d.id, d.webhook_id, d.event_id, d.position, d.event, d.status, d.attempts, d.next_attempt_at,
			           d.last_status_code, d.last_error, d.created_at, d.updated_at`,
			now.Add(lease), now, limit)
		return err
	})
	return out, err
}

// FinishAttempt records an attempt of a delivery still claimed until
// claimedUntil.
func (s *Store) FinishAttempt(ctx context.Context, d webhook.Delivery, claimedUntil time.Time) (bool, error) {
	const op = "postgres.FinishAttempt"
	var n int64
	err := s.read(ctx, op, func(q queryer) error {
		tag, err := q.Exec(ctx, `UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3,
			last_status_code = $4, last_error = $5, updated_at = $6
			WHERE id = $7 AND status = 'delivering' AND next_attempt_at = $8`,
			string(d.Status), d.Attempts, d.NextAttemptAt, d.LastStatusCode, d.LastError, d.UpdatedAt, d.ID, claimedUntil)
		if err != nil {
			return authErr(op, err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return n == 1, err
}

// ListDeliveries returns a webhook's deliveries with an id below before,
// newest first.
func (s *Store) ListDeliveries(ctx context.Context, webhookID, before string, limit int) (out []webhook.Delivery, err error) {
	const op = "postgres.ListDeliveries"
	if limit <= 0 {
		return nil, nil
	}
	err = s.read(ctx, op, func(q queryer) error {
		if before == "" {
			out, err = authList(ctx, q, op, scanDelivery, `SELECT `+deliveryColumns+` FROM webhook_deliveries
				WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2`, webhookID, limit)
			return err
		}
		out, err = authList(ctx, q, op, scanDelivery, `SELECT `+deliveryColumns+` FROM webhook_deliveries
			WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, webhookID, before, limit)
		return err
	})
	return out, err
}

// GetDelivery returns one delivery of a webhook.
func (s *Store) GetDelivery(ctx context.Context, webhookID, id string) (d webhook.Delivery, err error) {
	const op = "postgres.GetDelivery"
	err = s.read(ctx, op, func(q queryer) error {
		d, err = authGet(ctx, q, op, "delivery not found", scanDelivery,
			`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2`, webhookID, id)
		return err
	})
	return d, err
}

// PurgeDeliveries deletes up to limit finished deliveries last updated
// before before, skipping rows another transaction holds.
func (s *Store) PurgeDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	const op = "postgres.PurgeDeliveries"
	var n int64
	err := s.read(ctx, op, func(q queryer) error {
		tag, err := q.Exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
			WHERE status IN ('succeeded', 'failed') AND updated_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
		if err != nil {
			return authErr(op, err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return n, err
}

// RedeliverDelivery makes a delivery pending and due at now.
func (s *Store) RedeliverDelivery(ctx context.Context, webhookID, id string, now time.Time) (d webhook.Delivery, err error) {
	const op = "postgres.RedeliverDelivery"
	err = s.read(ctx, op, func(q queryer) error {
		d, err = authGet(ctx, q, op, "delivery not found", scanDelivery,
			`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1
			 WHERE webhook_id = $2 AND id = $3 RETURNING `+deliveryColumns, now, webhookID, id)
		return err
	})
	return d, err
}
