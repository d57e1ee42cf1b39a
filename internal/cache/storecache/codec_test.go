package storecache

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
)

func sampleDocs() []docstore.Document {
	at := time.Date(2026, 12, 5, 6, 0, 0, 123456000, time.UTC)
	return []docstore.Document{
		{Collection: "notes", ID: "d1", Version: 3, CreatedAt: at, UpdatedAt: at.Add(time.Second), Data: json.RawMessage(`{"n":1}`)},
		{Collection: "notes", ID: "a:b.c-d", Version: 1, CreatedAt: at, UpdatedAt: at, Data: json.RawMessage(`{}`)},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, docs := range [][]docstore.Document{nil, sampleDocs()[:1], sampleDocs()} {
		b := encode(42, docs)
		pos, got, err := decode(b)
		if err != nil || pos != 42 || len(got) != len(docs) {
			t.Fatalf("decode(encode) = %d, %d docs, %v", pos, len(got), err)
		}
		for i := range docs {
			w, g := docs[i], got[i]
			if g.Collection != w.Collection || g.ID != w.ID || g.Version != w.Version ||
				!g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) || !bytes.Equal(g.Data, w.Data) {
				t.Fatalf("document %d: got %+v, want %+v", i, g, w)
			}
		}
	}
}

// FuzzDecode: entries come from a cache another process (or another
// version) wrote; whatever they hold, decode answers without panicking,
// and what it accepts encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(encode(7, sampleDocs()))
	f.Add(encode(0, nil))
	f.Add([]byte{format})
	f.Add([]byte{format, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte("{\"json\": true}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pos, docs, err := decode(b)
		if err != nil {
			return
		}
		again := encode(pos, docs)
		pos2, docs2, err := decode(again)
		if err != nil || pos2 != pos || len(docs2) != len(docs) {
			t.Fatalf("an accepted entry does not survive encode and decode: %v", err)
		}
	})
}
