// Package storagetest is the conformance suite of docstore.Store: every
// storage engine (SQLite, PostgreSQL) runs it, so the engines answer alike.
//
// An engine's test calls Run with a function that opens a fresh, empty
// store for one test (and closes it in t.Cleanup). Subtests are named
// engine=<engine>/contract=docstore/<Case>, so
// go test -run 'engine=sqlite/contract=docstore/Filter' selects one case.
//
// Orders the suite expects of every engine: nulls and missing fields sort
// first ascending and last descending; strings compare by their UTF-8 bytes;
// numbers numerically regardless of how they were written; false before
// true.
package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// Run runs the docstore contract against the stores open returns.
func Run(t *testing.T, engine string, open func(t *testing.T) docstore.Store) {
	cases := []testCase{
		{"CollectionCRUD", testCollectionCRUD},
		{"CollectionInvalidNames", testCollectionInvalidNames},
		{"CollectionIndexChanges", testCollectionIndexChanges},
		{"CollectionDeleteDropsDocuments", testCollectionDeleteDropsDocuments},
		{"DocumentCRUD", testDocumentCRUD},
		{"DocumentRoundTrip", testDocumentRoundTrip},
		{"DocumentMissingCollection", testDocumentMissingCollection},
		{"ConditionalWrites", testConditionalWrites},
		{"ConcurrentReadModifyWrite", testConcurrentReadModifyWrite},
		{"EachDocument", testEachDocument},
		{"WriteRollbackOnError", testWriteRollbackOnError},
		{"WriteRollbackOnPanic", testWriteRollbackOnPanic},
		{"TxSeesOwnWrites", testTxSeesOwnWrites},
		{"Outbox", testOutbox},
		{"Idempotency", testIdempotency},
		{"IdempotencyPurge", testIdempotencyPurge},
		{"Secrets", testSecrets},
		{"Instances", testInstances},
		{"Filter", testFilter},
		{"FilterRejectsUnsafeFields", testFilterRejectsUnsafeFields},
		{"Numbers", testNumbers},
		{"NumbersRandom", testNumbersRandom},
		{"Sort", testSort},
		{"Pagination", testPagination},
		{"PaginationUnderConcurrentInserts", testPaginationConcurrent},
		{"CountDocuments", testCountDocuments},
	}
	cases = append(cases, accessCases()...)
	cases = append(cases, countCases()...)
	t.Run("engine="+engine, func(t *testing.T) {
		t.Run("contract=docstore", func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, open(t))
				})
			}
		})
		t.Run("contract=accounts", func(t *testing.T) {
			for _, c := range accountsCases() {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, open(t))
				})
			}
		})
		t.Run("contract=events", func(t *testing.T) {
			for _, c := range eventsCases() {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, open(t))
				})
			}
		})
	})
}

// testCase is one case of the suite.
type testCase struct {
	name string
	fn   func(t *testing.T, s docstore.Store)
}

// at returns the time of the fixtures plus minutes: microsecond precision,
// UTC.
func at(minutes int) time.Time {
	return time.Date(2026, 11, 26, 12, minutes, 0, 123456000, time.UTC)
}

func collection(name string, indexes ...docstore.Index) docstore.Collection {
	return docstore.Collection{
		Name: name, Schema: json.RawMessage(`{"type":"object"}`), Indexes: indexes,
		Version: 1, CreatedAt: at(0), UpdatedAt: at(0),
	}
}

func doc(coll, id, data string) docstore.Document {
	return docstore.Document{Collection: coll, ID: id, Version: 1, CreatedAt: at(0), UpdatedAt: at(0),
		Data: json.RawMessage(data)}
}

func write(t *testing.T, s docstore.Store, fn func(ctx context.Context, tx docstore.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	return s.Write(ctx, func(tx docstore.Tx) error { return fn(ctx, tx) })
}

func mustWrite(t *testing.T, s docstore.Store, fn func(ctx context.Context, tx docstore.Tx) error) {
	t.Helper()
	if err := write(t, s, fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func createCollection(t *testing.T, s docstore.Store, c docstore.Collection) {
	t.Helper()
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.CreateCollection(ctx, c) })
}

func insert(t *testing.T, s docstore.Store, docs ...docstore.Document) {
	t.Helper()
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		for _, d := range docs {
			if err := tx.InsertDocument(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func wantKind(t *testing.T, what string, err error, kind fault.Kind) {
	t.Helper()
	if !fault.Is(err, kind) {
		t.Fatalf("%s: got error %v (kind %q), want kind %q", what, err, fault.KindOf(err), kind)
	}
}

func wantOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func sameDocument(t *testing.T, got, want docstore.Document) {
	t.Helper()
	if got.Collection != want.Collection || got.ID != want.ID || got.Version != want.Version ||
		string(got.Data) != string(want.Data) {
		t.Fatalf("document = %+v (data %s), want %+v (data %s)", got, got.Data, want, want.Data)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("%s = %v, want %v in UTC", what, got, want.UTC())
	}
}

func ids(docs []docstore.Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

func sameIDs(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// errBoom is what test transactions fail with.
var errBoom = errors.New("boom")

// outboxAll returns every event of s's log (numbering them first), or
// false when s has no event log.
func outboxAll(t *testing.T, s docstore.Store) ([]eventbus.Event, bool) {
	t.Helper()
	l, ok := s.(eventbus.Log)
	if !ok {
		return nil, false
	}
	return readAll(t, l, 0), true
}

// sequenceAll numbers every committed event of l that has no position yet.
func sequenceAll(t *testing.T, l eventbus.Log) {
	t.Helper()
	for {
		n, err := l.Sequence(context.Background(), 3)
		wantOK(t, "Sequence", err)
		if n == 0 {
			return
		}
	}
}

// readAll numbers l's events and reads those after position after, in
// small pages, checking that positions grow.
func readAll(t *testing.T, l eventbus.Log, after int64) []eventbus.Event {
	t.Helper()
	sequenceAll(t, l)
	var all []eventbus.Event
	for {
		evs, err := l.ReadEvents(context.Background(), after, 2)
		wantOK(t, "ReadEvents", err)
		if len(evs) > 2 {
			t.Fatalf("ReadEvents(limit 2) returned %d events", len(evs))
		}
		if len(evs) == 0 {
			return all
		}
		for _, e := range evs {
			if e.Position <= after {
				t.Fatalf("ReadEvents: position %d after %d; positions must grow", e.Position, after)
			}
			after = e.Position
		}
		all = append(all, evs...)
	}
}

func describe(v any) string { return fmt.Sprintf("%#v", v) }
