-- +goose Up
-- The W3C traceparent of the traced write that made an event (empty when
-- it was not traced), so that the relay and the event's consumers continue
-- the write's trace. An expand-only change: older processes write '' by the
-- default, and read the table as before.
ALTER TABLE outbox ADD COLUMN trace_parent text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN trace_parent;
