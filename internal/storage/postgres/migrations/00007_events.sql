-- +goose Up
-- Change events. Each outbox row is one event (see internal/eventbus). The
-- sequence number seq is taken at insert, so rows can commit out of seq
-- order; the relay gives each committed row its position in commit order
-- (event_log.last_position counts them and its row lock serializes the
-- relays). Readers of the log follow position, never seq.
ALTER TABLE outbox ADD COLUMN type text;
UPDATE outbox SET type = CASE operation
    WHEN 'create' THEN 'document.created'
    WHEN 'replace' THEN 'document.replaced'
    WHEN 'patch' THEN 'document.patched'
    ELSE 'document.deleted' END;
ALTER TABLE outbox ALTER COLUMN type SET NOT NULL;
ALTER TABLE outbox DROP COLUMN operation;
ALTER TABLE outbox ADD COLUMN batch_id text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN position bigint;
CREATE UNIQUE INDEX outbox_position ON outbox (position);
CREATE INDEX outbox_unnumbered ON outbox (seq) WHERE position IS NULL;

-- The log's counters: the last position given and the position up to which
-- events have been trimmed (retention).
CREATE TABLE event_log (
    id            integer PRIMARY KEY CHECK (id = 1),
    last_position bigint  NOT NULL,
    trimmed       bigint  NOT NULL
);
INSERT INTO event_log (id, last_position, trimmed) VALUES (1, 0, 0);

-- Named consumers' positions in the log.
CREATE TABLE event_cursors (
    name       text   COLLATE "C" PRIMARY KEY,
    position   bigint NOT NULL,
    updated_at bigint NOT NULL
);

-- Events a consumer's handler failed on too many times.
CREATE TABLE event_dead_letters (
    id         bigserial PRIMARY KEY,
    consumer   text    NOT NULL,
    event_id   text    NOT NULL,
    position   bigint  NOT NULL,
    event      text    NOT NULL, -- the envelope as JSON
    error      text    NOT NULL,
    attempts   integer NOT NULL,
    retry      boolean NOT NULL DEFAULT false,
    created_at bigint  NOT NULL,
    updated_at bigint  NOT NULL
);
CREATE INDEX event_dead_letters_consumer ON event_dead_letters (consumer, id);

-- +goose Down
DROP TABLE event_dead_letters;
DROP TABLE event_cursors;
DROP TABLE event_log;
DROP INDEX outbox_unnumbered;
DROP INDEX outbox_position;
ALTER TABLE outbox DROP COLUMN position;
ALTER TABLE outbox DROP COLUMN batch_id;
ALTER TABLE outbox ADD COLUMN operation text;
UPDATE outbox SET operation = CASE type
    WHEN 'document.created' THEN 'create'
    WHEN 'document.replaced' THEN 'replace'
    WHEN 'document.patched' THEN 'patch'
    ELSE 'delete' END;
DELETE FROM outbox WHERE type LIKE 'collection.%';
ALTER TABLE outbox ALTER COLUMN operation SET NOT NULL;
ALTER TABLE outbox DROP COLUMN type;
