-- +goose Up
-- Webhooks: endpoints registered by admins, and one delivery per webhook
-- and event (see internal/webhook). Times are Unix microseconds.
CREATE TABLE webhooks (
    id          TEXT    PRIMARY KEY,
    url         TEXT    NOT NULL,
    collection  TEXT    NOT NULL, -- a collection name, or '*' for every one
    event_types TEXT    NOT NULL DEFAULT '[]', -- JSON array; empty: every type
    secret      TEXT    NOT NULL, -- whsec_<base64>
    previous_secret TEXT NOT NULL DEFAULT '', -- the secret before a rotation, signing too until previous_until
    previous_until  INTEGER, -- NULL: no previous secret
    enabled     INTEGER NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL DEFAULT '',
    after_position INTEGER NOT NULL DEFAULT 0 -- events at or below it predate the webhook
);

CREATE TABLE webhook_deliveries (
    id               TEXT    PRIMARY KEY, -- UUIDv7: id order is creation order
    webhook_id       TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    event            TEXT    NOT NULL, -- the envelope as JSON
    status           TEXT    NOT NULL, -- pending, delivering, succeeded, failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL, -- due time, or the end of a delivering lease
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id) -- an event redelivered by the stream adds no second delivery
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'delivering');
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at)
    WHERE status IN ('succeeded', 'failed'); -- retention

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
