-- +goose Up
-- Accounts, sessions, refresh tokens, one-time tokens, API keys, signing
-- keys and revocations (accounts.Store). Timestamps are timestamptz
-- (microsecond precision); optional ones are NULL when unset. IDs are text
-- compared by their bytes (COLLATE "C"), so listings order them the way the
-- SQLite engine does. Deleting an account deletes its sessions, their
-- refresh tokens and its one-time tokens (ON DELETE CASCADE).

CREATE TABLE accounts (
    id            text        COLLATE "C" PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    roles         text[]      NOT NULL,
    verified_at   timestamptz,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
    id            text        COLLATE "C" PRIMARY KEY,
    account_id    text        COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device        text        NOT NULL,
    user_agent    text        NOT NULL,
    ip            text        NOT NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text        NOT NULL
);

CREATE INDEX sessions_account ON sessions (account_id, created_at, id); -- ListSessions, backwards
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    hash       bytea       PRIMARY KEY, -- SHA-256 of the token
    session_id text        COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id, generation);

CREATE TABLE one_time_tokens (
    hash       bytea       PRIMARY KEY, -- SHA-256 of the token
    purpose    text        NOT NULL,
    account_id text        COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX one_time_tokens_account ON one_time_tokens (account_id, purpose);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);

CREATE TABLE api_keys (
    id           text        COLLATE "C" PRIMARY KEY,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    hash         bytea       NOT NULL UNIQUE, -- SHA-256 of the whole key
    roles        text[]      NOT NULL,
    scopes       text[]      NOT NULL,
    created_by   text        NOT NULL, -- account ID, '' when created from the CLI
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE signing_keys (
    id          text        COLLATE "C" PRIMARY KEY,
    private_key bytea       NOT NULL, -- Ed25519 private key
    created_at  timestamptz NOT NULL,
    not_after   timestamptz
);

-- revocations is a log: the same ID may be recorded more than once.
CREATE TABLE revocations (
    seq        bigserial   PRIMARY KEY,
    id         text        NOT NULL,
    revoked_at timestamptz NOT NULL
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
