package docstore

import "context"

// StoredIdempotencyKey returns the key under which the service keeps the
// answer to a write sent with Idempotency-Key key by the caller of ctx.
func StoredIdempotencyKey(ctx context.Context, key string) string {
	return callerOf(ctx).identity() + ":" + key
}
