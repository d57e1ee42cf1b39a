-- +goose Up
-- The access definition of each collection: its rules (one per action,
-- null for admins only) and hidden fields, as one JSON object
-- {"rules":{"list":…,"get":…,"create":…,"update":…,"delete":…},"hiddenFields":[…]}.
-- Existing collections get '{}': every rule null, so admins only.
ALTER TABLE collections ADD COLUMN access text NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE collections DROP COLUMN access;
