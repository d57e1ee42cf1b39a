-- +goose Up
CREATE TABLE collections (
    name       TEXT    PRIMARY KEY,
    schema     TEXT    NOT NULL,
    indexes    TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL, -- Unix microseconds, UTC
    updated_at INTEGER NOT NULL
);

CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT    NOT NULL UNIQUE,
    collection  TEXT    NOT NULL,
    document_id TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    payload     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE idempotency (
    key          TEXT    PRIMARY KEY,
    request_hash BLOB    NOT NULL,
    response     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE INDEX idempotency_created_at ON idempotency (created_at);

-- +goose Down
DROP TABLE idempotency;
DROP TABLE outbox;
DROP TABLE collections;
