-- +goose Up
CREATE TABLE secrets (
    name       TEXT    PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL -- Unix microseconds, UTC
);

-- +goose Down
DROP TABLE secrets;
