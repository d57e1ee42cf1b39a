package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/query"
)

// TestMatchFixture runs query.Match over every fixture document for every
// filter case: the in-memory evaluator must select exactly the documents the
// engines do. The data is tried as the fixture writes it (canonical JSON),
// indented, and as PostgreSQL prints jsonb (keys by length, then bytes,
// with spaces after ":" and ",").
func TestMatchFixture(t *testing.T) {
	docs := fixtureDocuments(t)
	renderings := map[string]func(t *testing.T, data []byte) []byte{
		"canonical": func(_ *testing.T, data []byte) []byte { return data },
		"indented": func(t *testing.T, data []byte) []byte {
			var b bytes.Buffer
			if err := json.Indent(&b, data, "", "\t"); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		},
		"jsonb": jsonbRendering,
	}
	for name, render := range renderings {
		t.Run(name, func(t *testing.T) {
			qdocs := make([]query.Document, len(docs))
			for i, d := range docs {
				qdocs[i] = query.Document{ID: d.ID, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
					Data: render(t, d.Data)}
			}
			for _, c := range filterCases() {
				var got []string
				for _, d := range qdocs {
					ok, err := query.Match(c.expr, d)
					if err != nil {
						t.Fatalf("filter %s on %s: %v", c.name, d.ID, err)
					}
					if ok {
						got = append(got, d.ID)
					}
				}
				if !sameIDs(got, c.want) {
					t.Errorf("filter %s: Match selected %v, want %v", c.name, got, c.want)
				}
			}
		})
	}
}

// TestMatchRejectsUnsafeFields checks that Match refuses the fields the
// engines refuse to compile, whatever the document.
func TestMatchRejectsUnsafeFields(t *testing.T) {
	d := query.Document{ID: "d01", Version: 1, Data: []byte(`{"a'b":"x","a.b":"x","a":{"b":"x"}}`)}
	for _, path := range [][]string{{"a'b"}, {"a", "b') OR 1=1 --"}, {""}, {"a.b"}, {}} {
		f := field(query.TypeString, path...)
		for _, e := range []query.Expr{cmp(f, query.OpEq, str("x")), not(cmp(f, query.OpEq, null())),
			or(cmp(sys(query.SystemID), query.OpEq, str("d01")), cmp(f, query.OpEq, str("x")))} {
			if _, err := query.Match(e, d); err == nil {
				t.Errorf("Match(%s) on a field named %s: no error", query.Format(e), describe(path))
			}
		}
	}
}

// fixtureDocuments returns the fixture documents exactly as loadFixture
// stores them.
func fixtureDocuments(t *testing.T) []docstore.Document {
	t.Helper()
	s := &recordingStore{}
	loadFixture(t, s)
	if len(s.docs) != len(fixture()) {
		t.Fatalf("loadFixture stored %d documents, want %d", len(s.docs), len(fixture()))
	}
	return s.docs
}

// recordingStore is a docstore.Store that only records the documents
// inserted through Write; its other methods are never called.
type recordingStore struct {
	docstore.Store
	docs []docstore.Document
}

func (s *recordingStore) Write(_ context.Context, fn func(docstore.Tx) error) error {
	tx := &recordingTx{s: s}
	return fn(tx)
}

type recordingTx struct {
	docstore.Tx
	s *recordingStore
}

func (*recordingTx) CreateCollection(context.Context, docstore.Collection) error { return nil }

func (tx *recordingTx) InsertDocument(_ context.Context, d docstore.Document) error {
	tx.s.docs = append(tx.s.docs, d)
	return nil
}

// jsonbRendering prints JSON as PostgreSQL prints jsonb: object keys
// ordered by length, then bytewise, ", " and ": " between tokens.
func jsonbRendering(t *testing.T, data []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var write func(v any)
	write = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				if len(keys[i]) != len(keys[j]) {
					return len(keys[i]) < len(keys[j])
				}
				return keys[i] < keys[j]
			})
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteString(", ")
				}
				write(k)
				b.WriteString(": ")
				write(v[k])
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, x := range v {
				if i > 0 {
					b.WriteString(", ")
				}
				write(x)
			}
			b.WriteByte(']')
		default:
			text, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(text)
		}
	}
	write(v)
	return []byte(b.String())
}

// TestMatchNumbers runs query.Match over the number fixture for every
// number case, with the data as the fixture writes it and as PostgreSQL
// prints jsonb.
func TestMatchNumbers(t *testing.T) {
	for _, c := range numberCases() {
		for _, f := range numberFixture() {
			want := false
			for _, id := range c.want {
				want = want || id == f[0]
			}
			for _, data := range [][]byte{[]byte(f[1]), jsonbRendering(t, []byte(f[1]))} {
				got, err := query.Match(c.expr, query.Document{ID: f[0], Version: 1, Data: data})
				if err != nil || got != want {
					t.Errorf("filter %s on %s: Match = %v, %v; want %v", c.name, data, got, err, want)
				}
			}
		}
	}
}
