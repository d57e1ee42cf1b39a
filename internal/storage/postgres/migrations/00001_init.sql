-- +goose Up
CREATE TABLE collections (
    name       text   COLLATE "C" PRIMARY KEY,
    schema     text   NOT NULL,
    indexes    text   NOT NULL,
    version    bigint NOT NULL,
    created_at bigint NOT NULL, -- Unix microseconds, UTC
    updated_at bigint NOT NULL
);

CREATE TABLE outbox (
    seq         bigserial PRIMARY KEY,
    event_id    text   NOT NULL UNIQUE,
    collection  text   NOT NULL,
    document_id text   NOT NULL,
    operation   text   NOT NULL,
    version     bigint NOT NULL,
    payload     text   NOT NULL,
    created_at  bigint NOT NULL
);

CREATE TABLE idempotency (
    key          text   COLLATE "C" PRIMARY KEY,
    request_hash bytea  NOT NULL,
    response     text   NOT NULL,
    created_at   bigint NOT NULL
);

CREATE INDEX idempotency_created_at ON idempotency (created_at);

-- +goose Down
DROP TABLE idempotency;
DROP TABLE outbox;
DROP TABLE collections;
