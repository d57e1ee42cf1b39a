-- basalt:phase expand
-- +goose Up
-- The Basalt processes serving from this database: each records itself on
-- start and every few seconds, and leaves on a clean shutdown. "basalt
-- migrate --phase contract" reads it to refuse while a process of an
-- earlier release (one that does not know a pending contract migration)
-- still runs.
CREATE TABLE instances (
    id         text   COLLATE "C" PRIMARY KEY,
    version    text   NOT NULL,
    migration  bigint NOT NULL, -- the highest migration the process's binary knows
    host       text   NOT NULL,
    targets    text   NOT NULL,
    started_at bigint NOT NULL, -- Unix microseconds, UTC
    seen_at    bigint NOT NULL
);

-- +goose Down
DROP TABLE instances;
