-- +goose Up
-- Invitations are one-time tokens (purpose 'invite') for an address that has
-- no account yet: account_id becomes optional (NULL for them), and email and
-- roles name the address and the roles its account will get. SQLite cannot
-- drop a NOT NULL constraint, so the table is rebuilt.
CREATE TABLE one_time_tokens_new (
    hash       BLOB    PRIMARY KEY, -- SHA-256 of the token
    purpose    TEXT    NOT NULL,
    account_id TEXT    REFERENCES accounts (id) ON DELETE CASCADE, -- NULL for invitations
    email      TEXT    NOT NULL DEFAULT '', -- invitations: the invited address
    roles      TEXT    NOT NULL DEFAULT '[]', -- invitations: JSON array of role names
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
INSERT INTO one_time_tokens_new (hash, purpose, account_id, created_at, expires_at)
    SELECT hash, purpose, account_id, created_at, expires_at FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_new RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_account ON one_time_tokens (account_id, purpose);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);

-- +goose Down
DELETE FROM one_time_tokens WHERE account_id IS NULL;
CREATE TABLE one_time_tokens_old (
    hash       BLOB    PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
INSERT INTO one_time_tokens_old SELECT hash, purpose, account_id, created_at, expires_at FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_old RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_account ON one_time_tokens (account_id, purpose);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);
