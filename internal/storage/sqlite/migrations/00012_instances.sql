-- basalt:phase expand
-- (Number 11 is skipped: from 12 on, both engines give a change the same
-- number.)
-- +goose Up
-- The Basalt processes serving from this database: each records itself on
-- start and every few seconds, and leaves on a clean shutdown. "basalt
-- migrate --phase contract" reads it to refuse while a process of an
-- earlier release (one that does not know a pending contract migration)
-- still runs.
CREATE TABLE instances (
    id         TEXT    PRIMARY KEY,
    version    TEXT    NOT NULL,
    migration  INTEGER NOT NULL, -- the highest migration the process's binary knows
    host       TEXT    NOT NULL,
    targets    TEXT    NOT NULL,
    started_at INTEGER NOT NULL, -- Unix microseconds, UTC
    seen_at    INTEGER NOT NULL
);

-- +goose Down
DROP TABLE instances;
