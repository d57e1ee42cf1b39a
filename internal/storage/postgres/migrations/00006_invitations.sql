-- +goose Up
-- Invitations are one-time tokens (purpose 'invite') for an address that has
-- no account yet: account_id becomes optional (NULL for them), and email and
-- roles name the address and the roles its account will get.
ALTER TABLE one_time_tokens ALTER COLUMN account_id DROP NOT NULL;
ALTER TABLE one_time_tokens ADD COLUMN email text NOT NULL DEFAULT '';
ALTER TABLE one_time_tokens ADD COLUMN roles text[] NOT NULL DEFAULT '{}';

-- +goose Down
DELETE FROM one_time_tokens WHERE account_id IS NULL;
ALTER TABLE one_time_tokens DROP COLUMN roles;
ALTER TABLE one_time_tokens DROP COLUMN email;
ALTER TABLE one_time_tokens ALTER COLUMN account_id SET NOT NULL;
