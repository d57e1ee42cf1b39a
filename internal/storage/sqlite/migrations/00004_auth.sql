-- +goose Up
-- Accounts, sessions, refresh tokens, one-time tokens, API keys, signing
-- keys and revocations (accounts.Store). Timestamps are Unix microseconds,
-- UTC; optional ones are NULL when unset. Roles and scopes are JSON arrays
-- of strings. Foreign keys are enforced (every connection sets
-- foreign_keys=1) and immediate: deleting an account deletes its sessions,
-- their refresh tokens and its one-time tokens.

CREATE TABLE accounts (
    id            TEXT    PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    roles         TEXT    NOT NULL, -- JSON array of strings
    verified_at   INTEGER,
    disabled_at   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    account_id    TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device        TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL,
    ip            TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT    NOT NULL
);

CREATE INDEX sessions_account ON sessions (account_id, created_at, id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    hash       BLOB    PRIMARY KEY, -- SHA-256 of the token
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id, generation);

CREATE TABLE one_time_tokens (
    hash       BLOB    PRIMARY KEY, -- SHA-256 of the token
    purpose    TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX one_time_tokens_account ON one_time_tokens (account_id, purpose);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         BLOB    NOT NULL UNIQUE, -- SHA-256 of the whole key
    roles        TEXT    NOT NULL, -- JSON array of strings
    scopes       TEXT    NOT NULL, -- JSON array of strings
    created_by   TEXT    NOT NULL, -- account ID, '' when created from the CLI
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE signing_keys (
    id          TEXT    PRIMARY KEY,
    private_key BLOB    NOT NULL, -- Ed25519 private key
    created_at  INTEGER NOT NULL,
    not_after   INTEGER
);

-- revocations is a log: the same ID may be recorded more than once.
CREATE TABLE revocations (
    seq        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL,
    revoked_at INTEGER NOT NULL
);

CREATE INDEX revocations_revoked_at ON revocations (revoked_at);

-- +goose Down
DROP TABLE revocations;
DROP TABLE signing_keys;
DROP TABLE api_keys;
DROP TABLE one_time_tokens;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE accounts;
