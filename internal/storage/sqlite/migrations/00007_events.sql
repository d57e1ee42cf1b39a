-- +goose Up
-- Change events. Each outbox row is one event (see internal/eventbus).
-- SQLite has one writer, so seq (AUTOINCREMENT: never reused, even after
-- rows are deleted) grows in commit order and is the event's position.
ALTER TABLE outbox ADD COLUMN type TEXT NOT NULL DEFAULT '';
UPDATE outbox SET type = CASE operation
    WHEN 'create' THEN 'document.created'
    WHEN 'replace' THEN 'document.replaced'
    WHEN 'patch' THEN 'document.patched'
    ELSE 'document.deleted' END;
ALTER TABLE outbox DROP COLUMN operation;
ALTER TABLE outbox ADD COLUMN batch_id TEXT NOT NULL DEFAULT '';

-- The position up to which events have been trimmed (retention).
CREATE TABLE event_log (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    trimmed INTEGER NOT NULL
);
INSERT INTO event_log (id, trimmed) VALUES (1, 0);

-- Named consumers' positions in the log.
CREATE TABLE event_cursors (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Events a consumer's handler failed on too many times.
CREATE TABLE event_dead_letters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer   TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    event      TEXT    NOT NULL, -- the envelope as JSON
    error      TEXT    NOT NULL,
    attempts   INTEGER NOT NULL,
    retry      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX event_dead_letters_consumer ON event_dead_letters (consumer, id);

-- +goose Down
DROP TABLE event_dead_letters;
DROP TABLE event_cursors;
DROP TABLE event_log;
ALTER TABLE outbox DROP COLUMN batch_id;
ALTER TABLE outbox ADD COLUMN operation TEXT NOT NULL DEFAULT '';
UPDATE outbox SET operation = CASE type
    WHEN 'document.created' THEN 'create'
    WHEN 'document.replaced' THEN 'replace'
    WHEN 'document.patched' THEN 'patch'
    ELSE 'delete' END;
DELETE FROM outbox WHERE type LIKE 'collection.%';
ALTER TABLE outbox DROP COLUMN type;
