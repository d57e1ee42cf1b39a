package sqlite

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

// Group commit.
//
// SQLite has one writer. Every Write is handed to the committer goroutine,
// which takes all writes waiting at that moment (up to maxGroup) and runs
// them in ONE transaction, each inside its own savepoint:
//
//	BEGIN IMMEDIATE
//	  SAVEPOINT w; fn₁; RELEASE w          -- fn₁ succeeded
//	  SAVEPOINT w; fn₂; ROLLBACK TO w; RELEASE w  -- fn₂ failed: undone
//	  …
//	COMMIT
//
// Each caller's effects are all-or-nothing, exactly as with a transaction of
// its own, and a write is acknowledged only after the COMMIT that contains
// it succeeded. What the group shares is the cost of the commit: the WAL
// frames of pages several writes touched are written once, and with
// synchronous=full one fsync covers the whole group. Under load this is what
// lets one writer keep up; without load a group has one member and nothing
// waits.

// maxGroup bounds how many writes share one commit.
const maxGroup = 128

// writeReq is one caller's transaction waiting for the committer.
type writeReq struct {
	ctx  context.Context
	fn   func(docstore.Tx) error
	done chan writeResult // buffered: the committer never blocks on it
}

type writeResult struct {
	err      error
	panicked bool
	panicVal any
}

// Write runs fn in a transaction. It commits only when fn returns nil; on
// an error or a panic in fn, everything fn did is rolled back (and the panic
// continues in the caller).
func (s *Store) Write(ctx context.Context, fn func(docstore.Tx) error) error {
	const op = "sqlite.Write"
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return fault.New(fault.Unavailable, op, "the database is closed")
	}
	select {
	case s.writes <- req:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return mapErr(op, ctx.Err())
	}
	// Once handed over, the request is always answered: it may already be
	// committing, so the caller must learn the real outcome.
	res := <-req.done
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

// commitLoop is the committer goroutine. It runs until Close, and before
// returning it commits every write that was already handed over.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	group := make([]*writeReq, 0, maxGroup)
	results := make([]writeResult, 0, maxGroup)
	for {
		var first *writeReq
		select {
		case first = <-s.writes:
		case <-s.stopped:
			select {
			case first = <-s.writes: // Close refuses new writes before stopped closes
			default:
				return
			}
		}
		group = append(group[:0], first)
	fill:
		for len(group) < maxGroup {
			select {
			case r := <-s.writes:
				group = append(group, r)
			default:
				break fill
			}
		}
		results = s.commitGroup(group, results[:0])
		for i, r := range group {
			r.done <- results[i]
			group[i] = nil
		}
	}
}

// commitGroup runs a group in one transaction and returns each member's
// outcome.
func (s *Store) commitGroup(group []*writeReq, results []writeResult) []writeResult {
	const op = "sqlite.Write"
	bg := context.Background()
	exec := func(q string) error {
		_, err := s.wconn.ExecContext(bg, q)
		return err
	}
	for range group {
		results = append(results, writeResult{})
	}
	// failAll gives every member that has no outcome of its own yet (or
	// that succeeded, but whose commit is now lost) the group's error.
	failAll := func(err error) []writeResult {
		for i := range results {
			if results[i].err == nil && !results[i].panicked {
				results[i].err = err
			}
		}
		return results
	}
	end := s.traceGroup(group)
	defer func() { end(results) }()
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		return failAll(mapErr(op, err))
	}
	t := &tx{q: pinnedTx{conn: s.wconn, c: s.wstmts}}
	committed := 0
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			results[i].err = mapErr(op, err)
			continue
		}
		if err := exec("SAVEPOINT w"); err != nil {
			return s.abandon(op, failAll(mapErr(op, err)))
		}
		results[i] = runOne(r.fn, t)
		if results[i].err == nil && !results[i].panicked {
			if err := exec("RELEASE w"); err != nil {
				return s.abandon(op, failAll(mapErr(op, err)))
			}
			committed++
			continue
		}
		// Undo this member only. If SQLite already rolled the whole
		// transaction back (it does on some I/O errors), the savepoint is
		// gone and every member of the group fails.
		if err := exec("ROLLBACK TO w"); err != nil {
			return s.abandon(op, failAll(fault.Wrap(fault.Unavailable, op, err, "the write could not be completed; retry")))
		}
		if err := exec("RELEASE w"); err != nil {
			return s.abandon(op, failAll(fault.Wrap(fault.Unavailable, op, err, "the write could not be completed; retry")))
		}
	}
	if committed == 0 {
		if err := exec("ROLLBACK"); err != nil {
			s.log.Error("sqlite rollback failed", "err", err)
		}
		return results
	}
	if err := exec("COMMIT"); err != nil {
		return s.abandon(op, failAll(mapErr(op, err)))
	}
	return results
}

// traceGroup starts, when tracing and a member of the group is traced,
// the span of the group's shared transaction ("sqlite commit group"): a
// child of the first traced member's write, linked to the others'. The
// returned function ends it with the members' outcomes.
func (s *Store) traceGroup(group []*writeReq) func([]writeResult) {
	if s.tracer == nil {
		return func([]writeResult) {}
	}
	var parent trace.SpanContext
	var links []trace.Link
	for _, r := range group {
		sc := trace.SpanContextFromContext(r.ctx)
		if !sc.IsSampled() {
			continue
		}
		if !parent.IsValid() {
			parent = sc
			continue
		}
		links = append(links, trace.Link{SpanContext: sc})
	}
	if !parent.IsValid() {
		return func([]writeResult) {}
	}
	_, span := s.tracer.Start(trace.ContextWithSpanContext(context.Background(), parent), "sqlite commit group",
		trace.WithLinks(links...), trace.WithAttributes(attribute.Int("basalt.group.size", len(group))))
	return func(results []writeResult) {
		failed := 0
		for _, r := range results {
			if r.err != nil || r.panicked {
				failed++
			}
		}
		span.SetAttributes(attribute.Int("basalt.group.failed", failed))
		if failed == len(results) {
			span.SetStatus(codes.Error, "nothing committed")
		}
		span.End()
	}
}

// abandon rolls back whatever remains of a broken group transaction.
func (s *Store) abandon(op string, results []writeResult) []writeResult {
	if _, err := s.wconn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		s.log.Debug("sqlite rollback after a failed group", "op", op, "err", err)
	}
	return results
}

// runOne runs one member's fn, turning a panic into a result that the
// caller's goroutine re-raises.
func runOne(fn func(docstore.Tx) error, t *tx) (res writeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = writeResult{panicked: true, panicVal: p, err: fmt.Errorf("panic in write transaction: %v", p)}
		}
	}()
	return writeResult{err: fn(t)}
}
