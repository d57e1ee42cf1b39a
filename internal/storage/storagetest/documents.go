package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

func fixedZone() *time.Location { return time.FixedZone("UTC+5:30", 5*3600+30*60) }

func testDocumentCRUD(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	createCollection(t, s, collection("posts"))
	d := doc("posts", "p1", `{"title":"Basalt"}`)
	insert(t, s, d)
	got, err := s.GetDocument(ctx, "posts", "p1")
	wantOK(t, "GetDocument", err)
	sameDocument(t, got, d)

	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.InsertDocument(ctx, d) })
	wantKind(t, "InsertDocument twice", err, fault.Conflict)
	_, err = s.GetDocument(ctx, "posts", "p2")
	wantKind(t, "GetDocument of a missing id", err, fault.NotFound)

	d2 := d
	d2.Version, d2.UpdatedAt, d2.Data = 2, at(3), json.RawMessage(`{"title":"Basalt 2"}`)
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateDocument(ctx, d2, 1) })
	got, err = s.GetDocument(ctx, "posts", "p1")
	wantOK(t, "GetDocument after update", err)
	sameDocument(t, got, d2)

	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteDocument(ctx, "posts", "p1", 2) })
	_, err = s.GetDocument(ctx, "posts", "p1")
	wantKind(t, "GetDocument after delete", err, fault.NotFound)
	insert(t, s, d) // the id is free again
}

func testDocumentRoundTrip(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	createCollection(t, s, collection("raw"))
	data := []string{
		`{}`,
		`{"a":1e2,"b":1.50,"c":-0,"d":12345678901234567890,"e":0.1}`,
		`{"s":"\u003cb\u003e \"q\" \\ \n é 日本 😀","t":"'; DROP TABLE docs_raw; --"}`,
		`{"n":null,"o":{"p":[1,{"q":[]},"x"]},"t":true,"f":false}`,
		`{"e":[1E+2,-1.5e-7,0.0,-0.0,1.0e10,123456789012345678901234567890.5]}`,
		`{"u":"\u00e9\u2028\u2029\/\t\b\f\r\u0000\ud83d\ude00","v":"\u0041"}`,
		`{"deep":{"a":{"b":{"c":{"d":{"e":[[["x"]]]}}}}}}`,
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 678901000, fixedZone())
	for i, text := range data {
		d := doc("raw", fmt.Sprintf("r%d", i), text)
		d.CreatedAt, d.UpdatedAt = when, when.Add(time.Microsecond)
		insert(t, s, d)
		got, err := s.GetDocument(ctx, "raw", d.ID)
		wantOK(t, "GetDocument", err)
		if !bytes.Equal(got.Data, []byte(text)) {
			t.Fatalf("data round trip: got %s, want %s", got.Data, text)
		}
		sameDocument(t, got, d)
	}
	// Ids are opaque strings.
	for _, id := range []string{"'; DROP TABLE docs_raw; --", "ünï", "a b", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"} {
		insert(t, s, doc("raw", id, `{}`))
		got, err := s.GetDocument(ctx, "raw", id)
		wantOK(t, "GetDocument "+describe(id), err)
		if got.ID != id {
			t.Fatalf("id round trip: %q, want %q", got.ID, id)
		}
	}
}

func testDocumentMissingCollection(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	_, err := s.GetDocument(ctx, "ghosts", "x")
	wantKind(t, "GetDocument", err, fault.NotFound)
	_, err = s.ListDocuments(ctx, docstore.ListParams{Collection: "ghosts", Limit: 5,
		Sort: []query.SortKey{{Field: sys(query.SystemID)}}})
	wantKind(t, "ListDocuments", err, fault.NotFound)
	_, err = s.CountDocuments(ctx, docstore.CountParams{Collection: "ghosts"})
	wantKind(t, "CountDocuments", err, fault.NotFound)
	for name, fn := range map[string]func(ctx context.Context, tx docstore.Tx) error{
		"InsertDocument": func(ctx context.Context, tx docstore.Tx) error {
			return tx.InsertDocument(ctx, doc("ghosts", "x", `{}`))
		},
		"UpdateDocument": func(ctx context.Context, tx docstore.Tx) error {
			return tx.UpdateDocument(ctx, doc("ghosts", "x", `{}`), 1)
		},
		"DeleteDocument": func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteDocument(ctx, "ghosts", "x", 1) },
		"EachDocument": func(ctx context.Context, tx docstore.Tx) error {
			return tx.EachDocument(ctx, "ghosts", func(docstore.Document) error { return nil })
		},
		"Tx.GetDocument": func(ctx context.Context, tx docstore.Tx) error {
			_, err := tx.GetDocument(ctx, "ghosts", "x")
			return err
		},
	} {
		wantKind(t, name, write(t, s, fn), fault.NotFound)
	}
}

func testConditionalWrites(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	createCollection(t, s, collection("posts"))
	d := doc("posts", "p1", `{"v":1}`)
	insert(t, s, d)
	d2 := d
	d2.Version, d2.Data = 2, json.RawMessage(`{"v":2}`)

	err := write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateDocument(ctx, d2, 5) })
	wantKind(t, "UpdateDocument with a wrong version", err, fault.PreconditionFailed)
	ghost := d2
	ghost.ID = "nope"
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateDocument(ctx, ghost, 1) })
	wantKind(t, "UpdateDocument of a missing document", err, fault.NotFound)
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteDocument(ctx, "posts", "p1", 2) })
	wantKind(t, "DeleteDocument with a wrong version", err, fault.PreconditionFailed)
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.DeleteDocument(ctx, "posts", "nope", 1) })
	wantKind(t, "DeleteDocument of a missing document", err, fault.NotFound)

	got, err := s.GetDocument(ctx, "posts", "p1")
	wantOK(t, "GetDocument", err)
	sameDocument(t, got, d) // nothing changed

	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateDocument(ctx, d2, 1) })
	// The same compare-and-set a second time must fail: version 1 is gone.
	err = write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.UpdateDocument(ctx, d2, 1) })
	wantKind(t, "UpdateDocument from a stale version", err, fault.PreconditionFailed)
	got, err = s.GetDocument(ctx, "posts", "p1")
	wantOK(t, "GetDocument", err)
	sameDocument(t, got, d2)
}

// testConcurrentReadModifyWrite runs transactions that each read a
// document and write it back from the version they read, at once: none
// may fail, since a transaction that reads a document it goes on to write
// sees the version no other transaction can change before it commits
// (writers of one document take turns), and every increment survives.
func testConcurrentReadModifyWrite(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	createCollection(t, s, collection("posts"))
	insert(t, s, doc("posts", "p1", `{"n":0}`))
	const writers, rounds = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for range writers {
		wg.Go(func() {
			for range rounds {
				errs <- s.Write(ctx, func(tx docstore.Tx) error {
					cur, err := tx.GetDocument(ctx, "posts", "p1")
					if err != nil {
						return err
					}
					var v struct{ N int }
					if err := json.Unmarshal(cur.Data, &v); err != nil {
						return err
					}
					next := cur
					next.Version, next.Data = cur.Version+1, json.RawMessage(`{"n":`+strconv.Itoa(v.N+1)+`}`)
					return tx.UpdateDocument(ctx, next, cur.Version)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a read-modify-write transaction failed: %v", err)
		}
	}
	got, err := s.GetDocument(ctx, "posts", "p1")
	wantOK(t, "GetDocument", err)
	if want := fmt.Sprintf(`{"n":%d}`, writers*rounds); got.Version != writers*rounds+1 || string(got.Data) != want {
		t.Fatalf("after %d increments: version %d, data %s; want version %d, %s", writers*rounds, got.Version, got.Data, writers*rounds+1, want)
	}
}

func testEachDocument(t *testing.T, s docstore.Store) {
	createCollection(t, s, collection("posts"))
	want := []string{"a", "b", "c", "d", "e"}
	for _, id := range []string{"c", "a", "e", "b", "d"} {
		insert(t, s, doc("posts", id, `{"id":"`+id+`"}`))
	}
	var seen []string
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.EachDocument(ctx, "posts", func(d docstore.Document) error {
			seen = append(seen, d.ID)
			if string(d.Data) != `{"id":"`+d.ID+`"}` || d.Collection != "posts" || d.Version != 1 {
				return fmt.Errorf("unexpected document %+v", d)
			}
			return nil
		})
	})
	if !sameIDs(seen, want) {
		t.Fatalf("EachDocument order %v, want %v", seen, want)
	}
	seen = nil
	err := write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		return tx.EachDocument(ctx, "posts", func(d docstore.Document) error {
			seen = append(seen, d.ID)
			if d.ID == "b" {
				return errBoom
			}
			return nil
		})
	})
	if !errors.Is(err, errBoom) || !sameIDs(seen, []string{"a", "b"}) {
		t.Fatalf("EachDocument stopping: err %v, seen %v", err, seen)
	}
}

// sideEffects performs one of each kind of write in tx.
func sideEffects(ctx context.Context, tx docstore.Tx) error {
	if err := tx.InsertDocument(ctx, doc("posts", "p1", `{"x":1}`)); err != nil {
		return err
	}
	if err := tx.AppendOutbox(ctx, event("e1", "p1", 1)); err != nil {
		return err
	}
	return tx.PutIdempotency(ctx, docstore.IdempotencyRecord{Key: "k1", RequestHash: []byte{1}, Response: json.RawMessage(`{}`), CreatedAt: at(0)})
}

func event(id, docID string, version int64) eventbus.Event {
	return eventbus.Event{ID: id, Collection: "posts", DocumentID: docID, Type: eventbus.DocumentCreated,
		Version: version, Payload: json.RawMessage(`{"id":"` + docID + `"}`), Time: at(int(version))}
}

// assertNothingRemains checks that no side effect of sideEffects survived.
func assertNothingRemains(t *testing.T, s docstore.Store) {
	t.Helper()
	ctx := context.Background()
	_, err := s.GetDocument(ctx, "posts", "p1")
	wantKind(t, "GetDocument after rollback", err, fault.NotFound)
	if evs, ok := outboxAll(t, s); ok && len(evs) != 0 {
		t.Fatalf("outbox after rollback: %v", evs)
	}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		_, found, err := tx.GetIdempotency(ctx, "k1")
		if err == nil && found {
			t.Errorf("idempotency record survived the rollback")
		}
		return err
	})
	// The store still works and the rolled-back keys are free.
	mustWrite(t, s, sideEffects)
}

func testWriteRollbackOnError(t *testing.T, s docstore.Store) {
	createCollection(t, s, collection("posts"))
	err := write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := sideEffects(ctx, tx); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write returned %v, want fn's error", err)
	}
	assertNothingRemains(t, s)
}

func testWriteRollbackOnPanic(t *testing.T, s docstore.Store) {
	createCollection(t, s, collection("posts"))
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic of fn", r)
			}
		}()
		_ = write(t, s, func(ctx context.Context, tx docstore.Tx) error {
			if err := sideEffects(ctx, tx); err != nil {
				return err
			}
			panic("boom")
		})
		t.Fatalf("Write returned after fn panicked")
	}()
	assertNothingRemains(t, s)
}

func testTxSeesOwnWrites(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	createCollection(t, s, collection("posts"))
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, collection("fresh")); err != nil {
			return err
		}
		if err := tx.InsertDocument(ctx, doc("fresh", "f1", `{"a":1}`)); err != nil {
			return err
		}
		got, err := tx.GetDocument(ctx, "fresh", "f1")
		if err != nil || string(got.Data) != `{"a":1}` {
			return fmt.Errorf("Tx.GetDocument of its own insert: %+v, %w", got, err)
		}
		return nil
	})
	_, err := s.GetDocument(ctx, "fresh", "f1")
	wantOK(t, "GetDocument after commit", err)
}

func testOutbox(t *testing.T, s docstore.Store) {
	if _, ok := s.(eventbus.Log); !ok {
		t.Fatalf("%T does not implement eventbus.Log: every engine must expose its outbox", s)
	}
	createCollection(t, s, collection("posts"))
	var want []eventbus.Event
	for i := 1; i <= 5; i++ {
		e := event(fmt.Sprintf("e%d", i), fmt.Sprintf("p%d", i%2), int64(i))
		if i == 3 {
			e.Type, e.Payload = eventbus.DocumentDeleted, json.RawMessage(`{"id":"p1"}`)
		}
		mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.AppendOutbox(ctx, e) })
		want = append(want, e)
	}
	// A rolled-back write leaves no row.
	err := write(t, s, func(ctx context.Context, tx docstore.Tx) error {
		if err := tx.AppendOutbox(ctx, event("e9", "p9", 9)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write: %v", err)
	}
	got, _ := outboxAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("outbox has %d events, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Collection != w.Collection || g.DocumentID != w.DocumentID ||
			g.Type != w.Type || g.BatchID != w.BatchID || g.Version != w.Version || string(g.Payload) != string(w.Payload) {
			t.Fatalf("event %d = %+v, want %+v", i, g, w)
		}
		sameTime(t, "event time", g.Time, w.Time)
	}
}

func testIdempotency(t *testing.T, s docstore.Store) {
	rec := docstore.IdempotencyRecord{Key: "user1:key-1", RequestHash: bytes.Repeat([]byte{0, 0xff, 7}, 11),
		Response: json.RawMessage(`{"status":201,"body":{"id":"x"}}`), CreatedAt: at(1).In(fixedZone())}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		_, found, err := tx.GetIdempotency(ctx, rec.Key)
		if err != nil || found {
			return fmt.Errorf("GetIdempotency before put: found %v, %w", found, err)
		}
		return tx.PutIdempotency(ctx, rec)
	})
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		got, found, err := tx.GetIdempotency(ctx, rec.Key)
		if err != nil || !found {
			return fmt.Errorf("GetIdempotency: found %v, %w", found, err)
		}
		if got.Key != rec.Key || !bytes.Equal(got.RequestHash, rec.RequestHash) || string(got.Response) != string(rec.Response) {
			t.Errorf("GetIdempotency = %+v, want %+v", got, rec)
		}
		sameTime(t, "CreatedAt", got.CreatedAt, rec.CreatedAt)
		return nil
	})
	err := write(t, s, func(ctx context.Context, tx docstore.Tx) error { return tx.PutIdempotency(ctx, rec) })
	wantKind(t, "PutIdempotency twice", err, fault.Conflict)
}

func testIdempotencyPurge(t *testing.T, s docstore.Store) {
	p, ok := s.(docstore.IdempotencyPurger)
	if !ok {
		t.Fatalf("%T does not implement docstore.IdempotencyPurger: every engine must forget old idempotency records", s)
	}
	ctx := context.Background()
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		for i := 0; i < 10; i++ {
			rec := docstore.IdempotencyRecord{Key: fmt.Sprintf("k%d", i), RequestHash: []byte{byte(i)},
				Response: json.RawMessage(`{}`), CreatedAt: at(i)}
			if err := tx.PutIdempotency(ctx, rec); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := p.PurgeIdempotency(ctx, at(4)) // k0..k3 are older
	wantOK(t, "PurgeIdempotency", err)
	if n != 4 {
		t.Fatalf("PurgeIdempotency deleted %d records, want 4", n)
	}
	n, err = p.PurgeIdempotency(ctx, at(4))
	wantOK(t, "PurgeIdempotency again", err)
	if n != 0 {
		t.Fatalf("second PurgeIdempotency deleted %d records, want 0", n)
	}
	mustWrite(t, s, func(ctx context.Context, tx docstore.Tx) error {
		for i := 0; i < 10; i++ {
			_, found, err := tx.GetIdempotency(ctx, fmt.Sprintf("k%d", i))
			if err != nil {
				return err
			}
			if found != (i >= 4) {
				t.Errorf("record k%d: found %v after purge", i, found)
			}
		}
		return nil
	})
}

func testCountDocuments(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	loadFixture(t, s)
	n, err := s.CountDocuments(ctx, docstore.CountParams{Collection: "fx"})
	wantOK(t, "CountDocuments", err)
	if n != int64(len(fixture())) {
		t.Fatalf("CountDocuments = %d, want %d", n, len(fixture()))
	}
	for _, c := range filterCases()[:20] {
		n, err := s.CountDocuments(ctx, docstore.CountParams{Collection: "fx", Filter: c.expr})
		wantOK(t, "CountDocuments "+c.name, err)
		if n != int64(len(c.want)) {
			t.Fatalf("CountDocuments(%s) = %d, want %d", c.name, n, len(c.want))
		}
	}
}
