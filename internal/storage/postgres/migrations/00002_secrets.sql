-- +goose Up
CREATE TABLE secrets (
    name       text   COLLATE "C" PRIMARY KEY,
    value      bytea  NOT NULL,
    created_at bigint NOT NULL -- Unix microseconds, UTC
);

-- +goose Down
DROP TABLE secrets;
