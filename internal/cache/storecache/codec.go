package storecache

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
)

// format is the first byte of every entry: a change of the encoding gets
// a new one, so that processes of two versions sharing a Redis server
// read each other's entries as misses.
const format = 1

// errCorrupt is returned by decode for bytes it cannot read: the entry is
// treated as a miss.
var errCorrupt = errors.New("storecache: corrupt entry")

// encode returns an entry: the log position it was read at and the
// documents.
func encode(pos int64, docs []docstore.Document) []byte {
	n := 1 + 2*binary.MaxVarintLen64
	for i := range docs {
		d := &docs[i]
		n += 6*binary.MaxVarintLen64 + len(d.Collection) + len(d.ID) + len(d.Data)
	}
	b := make([]byte, 0, n)
	b = append(b, format)
	b = binary.AppendVarint(b, pos)
	b = binary.AppendUvarint(b, uint64(len(docs)))
	for i := range docs {
		d := &docs[i]
		b = appendBytes(b, []byte(d.Collection))
		b = appendBytes(b, []byte(d.ID))
		b = binary.AppendVarint(b, d.Version)
		b = binary.AppendVarint(b, d.CreatedAt.UnixNano())
		b = binary.AppendVarint(b, d.UpdatedAt.UnixNano())
		b = appendBytes(b, d.Data)
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decode reads an entry. The documents do not share memory with b.
func decode(b []byte) (pos int64, docs []docstore.Document, err error) {
	r := reader{b: b}
	if len(b) == 0 || b[0] != format {
		return 0, nil, errCorrupt
	}
	r.b = r.b[1:]
	pos = r.varint()
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) { // every document takes bytes
		return 0, nil, errCorrupt
	}
	docs = make([]docstore.Document, n)
	for i := range docs {
		d := &docs[i]
		d.Collection = string(r.bytes())
		d.ID = string(r.bytes())
		d.Version = r.varint()
		d.CreatedAt = time.Unix(0, r.varint()).UTC()
		d.UpdatedAt = time.Unix(0, r.varint()).UTC()
		d.Data = append([]byte(nil), r.bytes()...)
	}
	if r.err != nil || len(r.b) != 0 {
		return 0, nil, errCorrupt
	}
	return pos, docs, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
