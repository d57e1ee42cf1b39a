package searchdbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/search/searchdb"
)

// vectorCases are the stored-vector cases: PutVectors, GetVectors,
// ListVectors, and what document and collection deletes do to them.
func vectorCases() []testCase {
	return []testCase{
		{"PutVectorsStoresAndRecordsEvents", testPutVectorsEvents},
		{"PutVectorsRefusesStaleAndMissing", testPutVectorsRefuses},
		{"PutVectorsReplaces", testPutVectorsReplaces},
		{"GetVectorsSubset", testGetVectorsSubset},
		{"ListVectorsPages", testListVectorsPages},
		{"DocumentDeleteRemovesVectors", testVectorsDocumentDelete},
		{"CollectionDeleteRemovesVectors", testVectorsCollectionDelete},
		{"FieldRemovalRemovesVectors", testVectorsFieldRemoved},
		{"VectorsRoundTripExactly", testVectorsRoundTrip},
		{"VectorsOfMissingCollection", testVectorsMissingCollection},
	}
}

// vecDims is the dimension of the suite's vector fields.
const vecDims = 3

// vecCollection creates a collection with the vector fields named, of
// vecDims dimensions, embedded from "body", and documents with the ids
// given at version 1.
func vecCollection(t *testing.T, e Engine, name string, fields []string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	c := docstore.Collection{Name: name, Version: 1, Schema: json.RawMessage(`{"type":"object"}`),
		Search: docstore.Search{Vectors: map[string]docstore.VectorField{}}}
	for _, f := range fields {
		c.Search.Vectors[f] = docstore.VectorField{Dimensions: vecDims, Metric: docstore.MetricCosine,
			Source: docstore.SourceEmbedder, From: []string{"body"}, Embedder: "builtin"}
	}
	now := time.Unix(1_700_000_000, 0).UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	err := e.Write(ctx, func(tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, c); err != nil {
			return err
		}
		for _, id := range ids {
			d := docstore.Document{Collection: name, ID: id, Version: 1, CreatedAt: now, UpdatedAt: now,
				Data: json.RawMessage(`{"body":"text of ` + id + `"}`)}
			if err := tx.InsertDocument(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
}

// vecEvent is the event PutVectors records for a stored vector.
func vecEvent(v searchdb.StoredVector) (eventbus.Event, error) {
	payload, err := json.Marshal(map[string]any{"field": v.Field, "vector": v.Vector})
	if err != nil {
		return eventbus.Event{}, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return eventbus.Event{}, err
	}
	return eventbus.Event{ID: "vec-" + hex.EncodeToString(id),
		Type: eventbus.SearchVectors, Collection: v.Collection, DocumentID: v.DocumentID, Version: v.Version,
		Time: time.Unix(1_700_000_100, 0).UTC(), Payload: payload}, nil
}

func vec(collection, field, id string, version int64, x ...float32) searchdb.StoredVector {
	if len(x) == 0 {
		x = []float32{float32(len(id)), 0.5, -1}
	}
	return searchdb.StoredVector{Collection: collection, DocumentID: id, Field: field, Version: version,
		Hash: []byte("h:" + id), Vector: x}
}

func putVectors(t *testing.T, e Engine, want int, vs ...searchdb.StoredVector) {
	t.Helper()
	n, err := e.PutVectors(context.Background(), vs, vecEvent)
	if err != nil {
		t.Fatalf("PutVectors: %v", err)
	}
	if n != want {
		t.Fatalf("PutVectors stored %d vectors, want %d", n, want)
	}
}

func getVectors(t *testing.T, e Engine, collection, field string, ids ...string) []searchdb.StoredVector {
	t.Helper()
	got, err := e.GetVectors(context.Background(), collection, field, ids)
	if err != nil {
		t.Fatalf("GetVectors: %v", err)
	}
	return got
}

func listAllVectors(t *testing.T, e Engine, collection, field string) []searchdb.StoredVector {
	t.Helper()
	got, err := e.ListVectors(context.Background(), collection, field, "", 1000)
	if err != nil {
		t.Fatalf("ListVectors: %v", err)
	}
	return got
}

func vectorIDs(vs []searchdb.StoredVector) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.DocumentID
	}
	return out
}

// sameVector reports whether two stored vectors are equal, comparing
// floats bit for bit.
func sameVector(a, b searchdb.StoredVector) bool {
	if a.Collection != b.Collection || a.DocumentID != b.DocumentID || a.Field != b.Field || a.Version != b.Version ||
		string(a.Hash) != string(b.Hash) || len(a.Vector) != len(b.Vector) {
		return false
	}
	for i := range a.Vector {
		if math.Float32bits(a.Vector[i]) != math.Float32bits(b.Vector[i]) {
			return false
		}
	}
	return true
}

// logOf returns the engine's event log; the suite's engines have one.
func logOf(t *testing.T, e Engine) eventbus.Log {
	t.Helper()
	l, ok := e.(eventbus.Log)
	if !ok {
		t.Fatalf("%T does not implement eventbus.Log", e)
	}
	return l
}

// newEvents numbers the committed events and returns those after position
// after.
func newEvents(t *testing.T, l eventbus.Log, after int64) []eventbus.Event {
	t.Helper()
	ctx := context.Background()
	for {
		n, err := l.Sequence(ctx, 1000)
		if err != nil {
			t.Fatalf("Sequence: %v", err)
		}
		if n == 0 {
			break
		}
	}
	evs, err := l.ReadEvents(ctx, after, 1000)
	if err != nil {
		t.Fatalf("ReadEvents: %v", err)
	}
	return evs
}

func newestPosition(t *testing.T, l eventbus.Log) int64 {
	t.Helper()
	evs := newEvents(t, l, 0)
	_, newest, err := l.LogBounds(context.Background())
	if err != nil {
		t.Fatalf("LogBounds: %v", err)
	}
	if len(evs) > 0 && evs[len(evs)-1].Position > newest {
		t.Fatalf("LogBounds newest %d is below the last event's position %d", newest, evs[len(evs)-1].Position)
	}
	return newest
}

func testPutVectorsEvents(t *testing.T, e Engine) {
	vecCollection(t, e, "notes", []string{"emb"}, "a", "b")
	l := logOf(t, e)
	before := newestPosition(t, l)
	a, b := vec("notes", "emb", "a", 1), vec("notes", "emb", "b", 1, 3, 2, 1)
	var recorded []eventbus.Event
	n, err := e.PutVectors(context.Background(), []searchdb.StoredVector{a, b},
		func(v searchdb.StoredVector) (eventbus.Event, error) {
			ev, err := vecEvent(v)
			recorded = append(recorded, ev)
			return ev, err
		})
	if err != nil || n != 2 {
		t.Fatalf("PutVectors = %d, %v; want 2", n, err)
	}
	evs := newEvents(t, l, before)
	if len(evs) != 2 {
		t.Fatalf("PutVectors of 2 vectors recorded %d events, want 2: %+v", len(evs), evs)
	}
	if len(recorded) != 2 {
		t.Fatalf("PutVectors asked for %d events, want 2", len(recorded))
	}
	for i, v := range []searchdb.StoredVector{a, b} {
		want, got := recorded[i], evs[i]
		if got.ID != want.ID || got.Type != eventbus.SearchVectors || got.Collection != "notes" ||
			got.DocumentID != v.DocumentID || got.Version != 1 || string(got.Payload) != string(want.Payload) {
			t.Errorf("event %d = %+v, want %+v", i, got, want)
		}
	}
	got := getVectors(t, e, "notes", "emb", "a", "b")
	if len(got) != 2 || !sameVector(got[0], a) || !sameVector(got[1], b) {
		t.Fatalf("GetVectors = %+v, want %+v and %+v", got, a, b)
	}
}

func testPutVectorsRefuses(t *testing.T, e Engine) {
	vecCollection(t, e, "notes", []string{"emb"}, "a", "b")
	ctx := context.Background()
	now := time.Unix(1_700_000_050, 0).UTC()
	if err := e.Write(ctx, func(tx docstore.Tx) error {
		return tx.UpdateDocument(ctx, docstore.Document{Collection: "notes", ID: "b", Version: 2, CreatedAt: now,
			UpdatedAt: now, Data: json.RawMessage(`{"body":"changed"}`)}, 1)
	}); err != nil {
		t.Fatal(err)
	}
	l := logOf(t, e)
	before := newestPosition(t, l)
	putVectors(t, e, 1,
		vec("notes", "emb", "a", 1),       // stored
		vec("notes", "emb", "b", 1),       // stale: b is at version 2
		vec("notes", "emb", "b", 3),       // from the future
		vec("notes", "emb", "zz", 1),      // no such document
		vec("notes", "other", "a", 1),     // not a vector field of notes
		vec("notes", "emb", "a", 1, 1, 2), // wrong dimensions: the one before stays
	)
	if evs := newEvents(t, l, before); len(evs) != 1 || evs[0].DocumentID != "a" {
		t.Fatalf("events after PutVectors = %+v, want one for a", evs)
	}
	if got := vectorIDs(listAllVectors(t, e, "notes", "emb")); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("stored vectors of %v, want [a]", got)
	}
	if got := getVectors(t, e, "notes", "emb", "a"); len(got) != 1 || len(got[0].Vector) != vecDims {
		t.Fatalf("vector of a = %+v, want the 3-dimension one", got)
	}
	if got := listAllVectors(t, e, "notes", "other"); len(got) != 0 {
		t.Fatalf("vectors of an unconfigured field: %+v", got)
	}
	putVectors(t, e, 1, vec("notes", "emb", "b", 2))
}

func testPutVectorsReplaces(t *testing.T, e Engine) {
	vecCollection(t, e, "notes", []string{"emb"}, "a")
	putVectors(t, e, 1, vec("notes", "emb", "a", 1, 1, 1, 1))
	second := vec("notes", "emb", "a", 1, 4, 5, 6)
	second.Hash = []byte("second")
	putVectors(t, e, 1, second)
	got := getVectors(t, e, "notes", "emb", "a")
	if len(got) != 1 || !sameVector(got[0], second) {
		t.Fatalf("after a second PutVectors, GetVectors = %+v, want %+v", got, second)
	}
	if all := listAllVectors(t, e, "notes", "emb"); len(all) != 1 {
		t.Fatalf("ListVectors = %+v, want one vector", all)
	}
}

func testGetVectorsSubset(t *testing.T, e Engine) {
	vecCollection(t, e, "notes", []string{"emb", "title"}, "a", "b", "c")
	putVectors(t, e, 4, vec("notes", "emb", "a", 1), vec("notes", "emb", "b", 1), vec("notes", "emb", "c", 1),
		vec("notes", "title", "b", 1, 9, 9, 9))
	got := getVectors(t, e, "notes", "emb", "c", "zz", "a")
	slices.SortFunc(got, func(x, y searchdb.StoredVector) int { return compareStrings(x.DocumentID, y.DocumentID) })
	if ids := vectorIDs(got); !slices.Equal(ids, []string{"a", "c"}) {
		t.Fatalf("GetVectors(c, zz, a) returned %v, want a and c", ids)
	}
	if !sameVector(got[0], vec("notes", "emb", "a", 1)) || !sameVector(got[1], vec("notes", "emb", "c", 1)) {
		t.Fatalf("GetVectors = %+v", got)
	}
	title := getVectors(t, e, "notes", "title", "a", "b")
	if len(title) != 1 || !sameVector(title[0], vec("notes", "title", "b", 1, 9, 9, 9)) {
		t.Fatalf("GetVectors of the title field = %+v, want b's", title)
	}
	if none := getVectors(t, e, "notes", "emb"); len(none) != 0 {
		t.Fatalf("GetVectors of no id = %+v", none)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testListVectorsPages(t *testing.T, e Engine) {
	ids := []string{"B", "a", "a1", "aa", "b", "z", "Z9"}
	vecCollection(t, e, "notes", []string{"emb", "title"}, ids...)
	var vs []searchdb.StoredVector
	for _, id := range ids {
		vs = append(vs, vec("notes", "emb", id, 1))
	}
	putVectors(t, e, len(vs)+1, append(vs, vec("notes", "title", "a", 1))...)
	want := slices.Clone(ids)
	slices.Sort(want) // byte order
	var got []string
	after := ""
	for page := 0; page < 10; page++ {
		vs, err := e.ListVectors(context.Background(), "notes", "emb", after, 3)
		if err != nil {
			t.Fatalf("ListVectors: %v", err)
		}
		if len(vs) > 3 {
			t.Fatalf("ListVectors with limit 3 returned %d", len(vs))
		}
		if len(vs) == 0 {
			break
		}
		for _, v := range vs {
			if v.Field != "emb" || v.Collection != "notes" {
				t.Fatalf("ListVectors of emb returned %+v", v)
			}
			got = append(got, v.DocumentID)
		}
		after = vs[len(vs)-1].DocumentID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ListVectors pages = %v, want %v", got, want)
	}
	if vs, err := e.ListVectors(context.Background(), "notes", "emb", "aa", 2); err != nil ||
		!slices.Equal(vectorIDs(vs), []string{"b", "z"}) {
		t.Fatalf("ListVectors after aa = %v, %v; want [b z]", vectorIDs(vs), err)
	}
}

func testVectorsDocumentDelete(t *testing.T, e Engine) {
	vecCollection(t, e, "notes", []string{"emb", "title"}, "a", "b")
	putVectors(t, e, 3, vec("notes", "emb", "a", 1), vec("notes", "emb", "b", 1), vec("notes", "title", "a", 1))
	ctx := context.Background()
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.DeleteDocument(ctx, "notes", "a", 1) }); err != nil {
		t.Fatal(err)
	}
	if got := vectorIDs(listAllVectors(t, e, "notes", "emb")); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after deleting a, vectors of emb: %v, want [b]", got)
	}
	if got := listAllVectors(t, e, "notes", "title"); len(got) != 0 {
		t.Fatalf("after deleting a, vectors of title: %+v", got)
	}
	// A document created again with the same id has no vector until one
	// is put for it.
	now := time.Unix(1_700_000_200, 0).UTC()
	if err := e.Write(ctx, func(tx docstore.Tx) error {
		return tx.InsertDocument(ctx, docstore.Document{Collection: "notes", ID: "a", Version: 1, CreatedAt: now,
			UpdatedAt: now, Data: json.RawMessage(`{"body":"again"}`)})
	}); err != nil {
		t.Fatal(err)
	}
	if got := getVectors(t, e, "notes", "emb", "a"); len(got) != 0 {
		t.Fatalf("a created again has a vector: %+v", got)
	}
}

func testVectorsCollectionDelete(t *testing.T, e Engine) {
	vecCollection(t, e, "notes", []string{"emb"}, "a", "b")
	vecCollection(t, e, "other", []string{"emb"}, "a")
	putVectors(t, e, 3, vec("notes", "emb", "a", 1), vec("notes", "emb", "b", 1), vec("other", "emb", "a", 1))
	ctx := context.Background()
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.DeleteCollection(ctx, "notes", 1) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ListVectors(ctx, "notes", "emb", "", 10); !fault.Is(err, fault.NotFound) {
		t.Fatalf("ListVectors of a deleted collection: %v, want NotFound", err)
	}
	vecCollection(t, e, "notes", []string{"emb"}, "a", "b")
	if got := listAllVectors(t, e, "notes", "emb"); len(got) != 0 {
		t.Fatalf("a collection created again under the same name has the old vectors: %+v", got)
	}
	if got := vectorIDs(listAllVectors(t, e, "other", "emb")); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("another collection's vectors: %v, want [a]", got)
	}
}

func testVectorsFieldRemoved(t *testing.T, e Engine) {
	vecCollection(t, e, "notes", []string{"emb", "title", "wide"}, "a", "b")
	putVectors(t, e, 5, vec("notes", "emb", "a", 1), vec("notes", "emb", "b", 1), vec("notes", "title", "a", 1),
		vec("notes", "wide", "a", 1), vec("notes", "wide", "b", 1))
	ctx := context.Background()
	c, err := e.GetCollection(ctx, "notes")
	if err != nil {
		t.Fatal(err)
	}
	prev := c.Version
	c.Version++
	c.Search.Vectors = map[string]docstore.VectorField{
		"emb":  c.Search.Vectors["emb"],
		"wide": {Dimensions: vecDims + 1, Metric: docstore.MetricCosine, Source: docstore.SourceEmbedder, From: []string{"body"}, Embedder: "builtin"},
	}
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.UpdateCollection(ctx, c, prev) }); err != nil {
		t.Fatal(err)
	}
	if got := vectorIDs(listAllVectors(t, e, "notes", "emb")); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("vectors of the field kept: %v, want [a b]", got)
	}
	if got := listAllVectors(t, e, "notes", "title"); len(got) != 0 {
		t.Fatalf("vectors of the removed field: %+v", got)
	}
	if got := listAllVectors(t, e, "notes", "wide"); len(got) != 0 {
		t.Fatalf("vectors of a field whose dimensions changed: %+v", got)
	}
	putVectors(t, e, 1, vec("notes", "wide", "a", 1, 1, 2, 3, 4))
	// With no vector field left, none is kept, and a delete still works.
	prev = c.Version
	c.Version++
	c.Search = docstore.Search{}
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.UpdateCollection(ctx, c, prev) }); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"emb", "wide"} {
		if got := listAllVectors(t, e, "notes", f); len(got) != 0 {
			t.Fatalf("vectors of %s after the vector fields were removed: %+v", f, got)
		}
	}
	putVectors(t, e, 0, vec("notes", "emb", "a", 1))
	if err := e.Write(ctx, func(tx docstore.Tx) error { return tx.DeleteDocument(ctx, "notes", "a", 1) }); err != nil {
		t.Fatal(err)
	}
}

func testVectorsRoundTrip(t *testing.T, e Engine) {
	c := docstore.Collection{Name: "exact", Version: 1, Schema: json.RawMessage(`{"type":"object"}`),
		Search: docstore.Search{Vectors: map[string]docstore.VectorField{
			"emb": {Dimensions: 12, Metric: docstore.MetricDot, Source: docstore.SourceEmbedder, From: []string{"body"}, Embedder: "builtin"}}}}
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0).UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	if err := e.Write(ctx, func(tx docstore.Tx) error {
		if err := tx.CreateCollection(ctx, c); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, docstore.Document{Collection: "exact", ID: "d", Version: 1, CreatedAt: now,
			UpdatedAt: now, Data: json.RawMessage(`{}`)})
	}); err != nil {
		t.Fatal(err)
	}
	x := []float32{
		float32(math.Copysign(0, -1)), 0, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		math.Float32frombits(0x007fffff), // the largest denormal
		math.MaxFloat32, -math.MaxFloat32, 1e-38, 3.4028233e38, 0.1, -1.0 / 3, 16777217,
	}
	v := searchdb.StoredVector{Collection: "exact", DocumentID: "d", Field: "emb", Version: 1,
		Hash: []byte{0, 1, 2, 0xff, 0}, Vector: x}
	putVectors(t, e, 1, v)
	for _, got := range [][]searchdb.StoredVector{getVectors(t, e, "exact", "emb", "d"), listAllVectors(t, e, "exact", "emb")} {
		if len(got) != 1 || !sameVector(got[0], v) {
			t.Fatalf("stored %+v, read %+v", v, got)
		}
	}
}

func testVectorsMissingCollection(t *testing.T, e Engine) {
	ctx := context.Background()
	if _, err := e.GetVectors(ctx, "nosuch", "emb", []string{"a"}); !fault.Is(err, fault.NotFound) {
		t.Errorf("GetVectors of a missing collection: %v, want NotFound", err)
	}
	if _, err := e.ListVectors(ctx, "nosuch", "emb", "", 10); !fault.Is(err, fault.NotFound) {
		t.Errorf("ListVectors of a missing collection: %v, want NotFound", err)
	}
	putVectors(t, e, 0, vec("nosuch", "emb", "a", 1))
}
