-- +goose Up
-- The W3C traceparent of the traced write that made an event (empty when
-- it was not traced), so that the relay and the event's consumers continue
-- the write's trace.
ALTER TABLE outbox ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN trace_parent;
