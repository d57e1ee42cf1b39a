-- +goose Up
-- Webhooks: endpoints registered by admins, and one delivery per webhook
-- and event (see internal/webhook).
CREATE TABLE webhooks (
    id          text        COLLATE "C" PRIMARY KEY,
    url         text        NOT NULL,
    collection  text        NOT NULL, -- a collection name, or '*' for every one
    event_types text        NOT NULL DEFAULT '[]', -- JSON array; empty: every type
    secret      text        NOT NULL, -- whsec_<base64>
    previous_secret text    NOT NULL DEFAULT '', -- the secret before a rotation, signing too until previous_until
    previous_until  timestamptz, -- NULL: no previous secret
    enabled     boolean     NOT NULL,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    created_by  text        NOT NULL DEFAULT '',
    after_position bigint      NOT NULL DEFAULT 0 -- events at or below it predate the webhook
);

CREATE TABLE webhook_deliveries (
    id               text        COLLATE "C" PRIMARY KEY, -- UUIDv7: id order is creation order
    webhook_id       text        COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         text        NOT NULL,
    position         bigint      NOT NULL,
    event            text        NOT NULL, -- the envelope as JSON
    status           text        NOT NULL, -- pending, delivering, succeeded, failed
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL, -- due time, or the end of a delivering lease
    last_status_code integer     NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
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
