package search

// This file saves and loads the snapshots of vector indexes: one file per
// vector field, written atomically (a temporary file, fsync, rename, fsync
// of the directory), holding the log position the index reflects and the
// field's configuration, so that a start whose snapshot is still current
// (its position not trimmed from the log, its configuration unchanged)
// loads it and reads only the events after it.
//
// Format: the magic line, a 4-byte big-endian length and the JSON header,
// the body, and the SHA-256 of everything before it. The body is the
// index's own snapshot (vector.Snapshotter, read with
// IndexesConfig.LoadIndex) or, for an index that cannot write one, its
// items: a 4-byte count, then per item a 2-byte id length, the id and the
// vector as float32 little-endian.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/search/vector"
)

const snapshotMagic = "basalt vector index snapshot 1\n"

// Kinds of snapshot bodies.
const (
	bodyIndex = "index" // the index's own snapshot
	bodyItems = "items" // the vectors, inserted again on load
)

// snapshotHeader describes a snapshot.
type snapshotHeader struct {
	Database   string               `json:"database"`
	Collection string               `json:"collection"`
	Field      string               `json:"field"`
	Def        docstore.VectorField `json:"def"`
	Position   int64                `json:"position"`
	Body       string               `json:"body"`
	Held       map[string]int64     `json:"held"`
	Latest     map[string]int64     `json:"latest,omitempty"`
	Texts      map[string]string    `json:"texts,omitempty"`
	HeldTexts  map[string]string    `json:"heldTexts,omitempty"`
	Hasher     string               `json:"hasher,omitempty"`
}

// snapshotPath names the snapshot of a field: the names hex-encoded, so
// that any name makes one safe file name.
func (x *Indexes) snapshotPath(collection, name string) string {
	return filepath.Join(x.cfg.SnapshotDir, hex.EncodeToString([]byte(collection))+"."+hex.EncodeToString([]byte(name))+".snapshot")
}

// saveAll writes the snapshot of every index that changed since its last
// one. Failures are logged: the next start rebuilds instead.
func (x *Indexes) saveAll(ctx context.Context) {
	if x.cfg.SnapshotDir == "" {
		return
	}
	for _, c := range sortedKeys(x.cols) {
		fs := x.cols[c]
		for _, name := range sortedKeys(fs) {
			f := fs[name]
			if f.idx == nil || !f.changed {
				continue
			}
			if err := x.save(f); err != nil {
				x.log.WarnContext(ctx, "saving a vector index snapshot failed", "collection", c, "field", name, "err", err)
				continue
			}
			x.mu.Lock()
			f.changed = false
			x.mu.Unlock()
		}
	}
}

// save writes f's snapshot. It runs in the tail's goroutine, the only one
// that changes f, so f is consistent with its position.
func (x *Indexes) save(f *field) (err error) {
	if err := os.MkdirAll(x.cfg.SnapshotDir, 0o700); err != nil {
		return err
	}
	path := x.snapshotPath(f.collection, f.name)
	tmp, err := os.CreateTemp(x.cfg.SnapshotDir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	sum := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(tmp, sum), 1<<20)
	h := snapshotHeader{Database: x.cfg.SnapshotID, Collection: f.collection, Field: f.name, Def: f.def, Position: f.pos, Body: bodyItems,
		Held: f.held, Latest: f.latest, Texts: f.texts, HeldTexts: f.heldTexts, Hasher: f.hasher}
	snap, canSnap := f.idx.(vector.Snapshotter)
	if canSnap && x.cfg.LoadIndex != nil {
		h.Body = bodyIndex
	}
	head, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if _, err := w.WriteString(snapshotMagic); err != nil {
		return err
	}
	if err := binary.Write(w, binary.BigEndian, uint32(len(head))); err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	if h.Body == bodyIndex {
		err = snap.Snapshot(w)
	} else {
		err = writeItems(w, f)
	}
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := tmp.Write(sum.Sum(nil)); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(x.cfg.SnapshotDir)
}

// writeItems writes the vectors f holds.
func writeItems(w io.Writer, f *field) error {
	ids := sortedKeys(f.held)
	var items []vector.Item
	for _, id := range ids {
		if v, ok := f.idx.Vector(id); ok {
			items = append(items, vector.Item{ID: id, Vector: v})
		}
	}
	if err := binary.Write(w, binary.BigEndian, uint32(len(items))); err != nil {
		return err
	}
	buf := make([]byte, 0, 2+64+4*f.def.Dimensions)
	for _, it := range items {
		if len(it.ID) > math.MaxUint16 {
			return fmt.Errorf("document id of %d bytes", len(it.ID))
		}
		buf = binary.BigEndian.AppendUint16(buf[:0], uint16(len(it.ID)))
		buf = append(buf, it.ID...)
		for _, c := range it.Vector {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(c))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}

// errStale: a snapshot that is intact but cannot be used (its position was
// trimmed from the log, or the field's configuration changed).
var errStale = errors.New("the snapshot is out of date")

// loadSnapshot returns the field loaded from its snapshot; nil, nil when
// there is none; an error when it is unusable (the caller rebuilds).
func (x *Indexes) loadSnapshot(ctx context.Context, collection, name string, def docstore.VectorField) (*field, error) {
	if x.cfg.SnapshotDir == "" {
		return nil, nil
	}
	data, err := os.ReadFile(x.snapshotPath(collection, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) < len(snapshotMagic)+4+sha256.Size || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("not a snapshot (or truncated)")
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("checksum mismatch: the snapshot is corrupted")
	}
	r := bytes.NewReader(body[len(snapshotMagic):])
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil || int64(n) > int64(r.Len()) {
		return nil, errors.New("bad header length")
	}
	head := make([]byte, n)
	_, _ = io.ReadFull(r, head)
	var h snapshotHeader
	if err := json.Unmarshal(head, &h); err != nil {
		return nil, fmt.Errorf("bad header: %w", err)
	}
	if h.Database != x.cfg.SnapshotID {
		return nil, fmt.Errorf("%w: the snapshot is of another database", errStale)
	}
	if h.Collection != collection || h.Field != name || !sameField(h.Def, def) {
		return nil, fmt.Errorf("%w: the field's configuration changed", errStale)
	}
	trimmed, _, err := x.cfg.Log.LogBounds(ctx)
	if err != nil {
		return nil, err
	}
	if h.Position < trimmed {
		return nil, fmt.Errorf("%w: events after position %d have left the log", errStale, h.Position)
	}
	f := &field{collection: collection, name: name, def: def, pos: h.Position, held: h.Held}
	if f.held == nil {
		f.held = map[string]int64{}
	}
	if f.embedder() {
		x.initEmbedder(f)
		if f.hasher != h.Hasher {
			return nil, fmt.Errorf("%w: the field's embedder changed", errStale)
		}
		orEmpty := func(m map[string]string) map[string]string {
			if m == nil {
				return map[string]string{}
			}
			return m
		}
		if h.Latest != nil {
			f.latest = h.Latest
		}
		f.texts, f.heldTexts = orEmpty(h.Texts), orEmpty(h.HeldTexts)
		for id, v := range f.latest {
			if f.held[id] < v {
				f.pending[id] = v
			}
		}
	}
	switch h.Body {
	case bodyIndex:
		if x.cfg.LoadIndex == nil {
			return nil, errors.New("the snapshot holds an index this process cannot load")
		}
		idx, err := x.cfg.LoadIndex(r)
		if err != nil {
			return nil, err
		}
		if idx.Config() != f.vectorConfig() {
			_ = idx.Close()
			return nil, errors.New("the snapshot's index has another configuration")
		}
		f.idx = idx
	case bodyItems:
		idx, err := x.cfg.NewIndex(f.vectorConfig())
		if err != nil {
			return nil, err
		}
		f.idx = idx
		if err := readItems(ctx, r, f); err != nil {
			_ = idx.Close()
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown body %q", h.Body)
	}
	return f, nil
}

// readItems inserts the items of a snapshot's body into f's index.
func readItems(ctx context.Context, r *bytes.Reader, f *field) error {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return errors.New("bad item count")
	}
	dims := f.def.Dimensions
	batch := make([]vector.Item, 0, 1024)
	for i := uint32(0); i < n; i++ {
		var l uint16
		if err := binary.Read(r, binary.BigEndian, &l); err != nil {
			return errors.New("truncated item")
		}
		if r.Len() < int(l)+4*dims {
			return errors.New("truncated item")
		}
		id := make([]byte, l)
		_, _ = io.ReadFull(r, id)
		raw := make([]byte, 4*dims)
		_, _ = io.ReadFull(r, raw)
		v := make([]float32, dims)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
		batch = append(batch, vector.Item{ID: string(id), Vector: v})
		if len(batch) == cap(batch) {
			if err := f.idx.Upsert(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if r.Len() != 0 {
		return errors.New("trailing bytes after the items")
	}
	return f.idx.Upsert(ctx, batch)
}

// sameField reports whether a and b configure a field alike.
func sameField(a, b docstore.VectorField) bool {
	return sameIndex(a, b) && slices.Equal(a.From, b.From) && a.Embedder == b.Embedder
}

// removeSnapshot deletes a dropped field's snapshot.
func (x *Indexes) removeSnapshot(collection, name string) {
	if x.cfg.SnapshotDir == "" {
		return
	}
	if err := os.Remove(x.snapshotPath(collection, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		x.log.Warn("removing a vector index snapshot failed", "collection", collection, "field", name, "err", err)
	}
}
