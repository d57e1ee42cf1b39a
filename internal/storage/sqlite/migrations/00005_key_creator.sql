-- +goose Up
-- The API key a key was created with, beside created_by (the account behind
-- the creator): '' when an account created it directly.
ALTER TABLE api_keys ADD COLUMN created_by_key TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE api_keys DROP COLUMN created_by_key;
