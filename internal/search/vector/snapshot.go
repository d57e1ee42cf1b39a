package vector

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
)

// The snapshot format (version 1), all integers little-endian:
//
//	magic    "BVIX"
//	version  uint16 (1)
//	kind     uint8: 1 Flat, 2 HNSW, 3 Auto
//	length   uint64: the payload's length in bytes
//	payload  the index (below)
//	checksum uint32: CRC-32C (Castagnoli) of the payload
//
// A payload starts with the Config (dimensions uint32, metric as a
// string: uint32 length and bytes). Flat: count uint32, the ids
// (strings), the vectors (count × dimensions float32). HNSW: M,
// efConstruction, efSearch (uint32), seed (uint64), the node count
// uint32, each node's id, top layer (uint8) and tombstone flag (uint8),
// the vectors, each node's links layer by layer from 0 (uint16 count and
// uint32 node numbers), the entry node (int64, −1 when empty) and the top
// layer (uint8): the graph itself, so that a restart does not rebuild it.
// Auto: its threshold (uint32), its HNSW options, and the kind and
// payload of the index it holds.
const (
	snapshotMagic   = "BVIX"
	snapshotVersion = 1

	kindFlat  = 1
	kindHNSW  = 2
	kindAuto  = 3
	headerLen = 4 + 2 + 1 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeSnapshot frames payload as a snapshot of kind.
func writeSnapshot(w io.Writer, kind byte, payload []byte) error {
	hdr := make([]byte, 0, headerLen)
	hdr = append(hdr, snapshotMagic...)
	hdr = binary.LittleEndian.AppendUint16(hdr, snapshotVersion)
	hdr = append(hdr, kind)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(payload)))
	sum := binary.LittleEndian.AppendUint32(nil, crc32.Checksum(payload, castagnoli))
	for _, b := range [][]byte{hdr, payload, sum} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("vector: write snapshot: %w", err)
		}
	}
	return nil
}

// Load restores an index from a snapshot written by the Snapshot method of
// Flat, HNSW or Auto, as the kind it was. A truncated, corrupted or
// unknown snapshot fails with an error wrapping ErrSnapshot.
func Load(r io.Reader) (Index, error) {
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrSnapshot, err)
	}
	if string(hdr[:4]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a vector index snapshot", ErrSnapshot)
	}
	if v := binary.LittleEndian.Uint16(hdr[4:]); v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d (this build reads %d)", ErrSnapshot, v, snapshotVersion)
	}
	kind := hdr[6]
	n := binary.LittleEndian.Uint64(hdr[7:])
	if n > math.MaxInt64-4 {
		return nil, fmt.Errorf("%w: payload length %d", ErrSnapshot, n)
	}
	// Read what is there rather than allocate what the header claims.
	body, err := io.ReadAll(io.LimitReader(r, int64(n)+4))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if uint64(len(body)) != n+4 {
		return nil, fmt.Errorf("%w: truncated (%d of %d bytes)", ErrSnapshot, len(body), n+4)
	}
	payload := body[:n]
	if got, want := crc32.Checksum(payload, castagnoli), binary.LittleEndian.Uint32(body[n:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrSnapshot, got, want)
	}
	d := &decoder{b: payload}
	var idx Index
	switch kind {
	case kindFlat:
		idx, err = decodeFlat(d)
	case kindHNSW:
		idx, err = decodeHNSW(d)
	case kindAuto:
		idx, err = decodeAuto(d)
	default:
		return nil, fmt.Errorf("%w: unknown index kind %d", ErrSnapshot, kind)
	}
	if err != nil {
		return nil, err
	}
	if len(d.b) != 0 {
		_ = idx.Close()
		return nil, fmt.Errorf("%w: %d bytes after the index", ErrSnapshot, len(d.b))
	}
	return idx, nil
}

// encoder appends little-endian values.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) str(s string) { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *encoder) floats(v []float32) {
	for _, x := range v {
		e.u32(math.Float32bits(x))
	}
}
func (e *encoder) config(c Config) { e.u32(uint32(c.Dimensions)); e.str(string(c.Metric)) }
func (e *encoder) options(o HNSWOptions) {
	e.u32(uint32(o.M))
	e.u32(uint32(o.EfConstruction))
	e.u32(uint32(o.EfSearch))
	e.u64(o.Seed)
}

// decoder reads what encoder wrote; the first error sticks and every
// later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
	d.b = nil
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str() string { return string(d.take(int(d.u32()))) }

// count reads a uint32 count of elements of at least size bytes each,
// refusing one larger than what is left.
func (d *decoder) count(size int) int {
	n := int(d.u32())
	if d.err == nil && n > len(d.b)/size {
		d.fail("count %d exceeds the payload", n)
		return 0
	}
	return n
}

// floats reads n finite float32s.
func (d *decoder) floats(n int) []float32 {
	if d.err == nil && (n < 0 || n > len(d.b)/4) {
		d.fail("truncated vectors")
	}
	b := d.take(4 * n)
	if b == nil {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			d.fail("a vector component is %v", x)
			return nil
		}
		out[i] = x
	}
	return out
}

func (d *decoder) config() Config {
	c := Config{Dimensions: int(d.u32()), Metric: Metric(d.str())}
	if d.err == nil {
		if err := c.Validate(); err != nil {
			d.fail("%v", err)
		}
	}
	return c
}

func (d *decoder) options() HNSWOptions {
	o := HNSWOptions{M: int(d.u32()), EfConstruction: int(d.u32()), EfSearch: int(d.u32()), Seed: d.u64()}
	if d.err == nil {
		if _, err := o.withDefaults(); err != nil || o.M == 0 || o.EfConstruction == 0 || o.EfSearch == 0 || o.Seed == 0 {
			d.fail("HNSW options %+v", o)
		}
	}
	return o
}

// Snapshot writes the index (see Load).
func (f *Flat) Snapshot(w io.Writer) error {
	var e encoder
	if err := f.encode(&e); err != nil {
		return err
	}
	return writeSnapshot(w, kindFlat, e.b)
}

func (f *Flat) encode(e *encoder) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	e.b = make([]byte, 0, 64+len(f.ids)*16+len(f.data)*4)
	e.config(f.cfg)
	e.u32(uint32(len(f.ids)))
	for _, id := range f.ids {
		e.str(id)
	}
	e.floats(f.data)
	return nil
}

func decodeFlat(d *decoder) (*Flat, error) {
	cfg := d.config()
	n := d.count(4 + 4*max(cfg.Dimensions, 1))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = d.str()
	}
	data := d.floats(n * cfg.Dimensions)
	if d.err != nil {
		return nil, d.err
	}
	f, err := NewFlat(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	for s, id := range ids {
		if _, dup := f.slots[id]; dup || id == "" {
			return nil, fmt.Errorf("%w: id %q twice or empty", ErrSnapshot, id)
		}
		f.slots[id] = s
	}
	f.ids, f.data = ids, data
	return f, nil
}

// Snapshot writes the index with its graph (see Load).
func (h *HNSW) Snapshot(w io.Writer) error {
	var e encoder
	if err := h.encode(&e); err != nil {
		return err
	}
	return writeSnapshot(w, kindHNSW, e.b)
}

func (h *HNSW) encode(e *encoder) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return ErrClosed
	}
	g := h.g
	e.b = make([]byte, 0, 64+g.size()*(24+4*g.dim+4*g.m0))
	e.config(h.cfg)
	e.options(h.opts)
	e.u32(uint32(g.size()))
	for n, id := range g.ids {
		e.str(id)
		e.u8(g.levels[n])
		var del uint8
		if g.deleted[n] {
			del = 1
		}
		e.u8(del)
	}
	e.floats(g.vecs)
	for n := range g.size() {
		for l := 0; l <= int(g.levels[n]); l++ {
			links := g.links(uint32(n), l)
			e.u16(uint16(len(links)))
			for _, x := range links {
				e.u32(x)
			}
		}
	}
	e.u64(uint64(g.entry))
	e.u8(uint8(g.maxLevel))
	return nil
}

func decodeHNSW(d *decoder) (*HNSW, error) {
	cfg := d.config()
	opts := d.options()
	if d.err != nil {
		return nil, d.err
	}
	h, err := NewHNSW(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	g := h.g
	n := d.count(6 + 4*cfg.Dimensions + 2)
	g.ids = make([]string, n)
	g.levels = make([]uint8, n)
	g.deleted = make([]bool, n)
	for i := range n {
		g.ids[i] = d.str()
		g.levels[i] = d.u8()
		del := d.u8()
		if d.err != nil {
			return nil, d.err
		}
		if g.levels[i] > 30 || del > 1 {
			return nil, fmt.Errorf("%w: node %d: layer %d, tombstone %d", ErrSnapshot, i, g.levels[i], del)
		}
		g.deleted[i] = del == 1
		if del == 0 {
			if _, dup := h.nodeOf[g.ids[i]]; dup || g.ids[i] == "" {
				return nil, fmt.Errorf("%w: live id %q twice or empty", ErrSnapshot, g.ids[i])
			}
			h.nodeOf[g.ids[i]] = uint32(i)
		}
	}
	g.vecs = d.floats(n * cfg.Dimensions)
	g.recode()
	g.links0 = make([]uint32, n*g.m0)
	g.n0 = make([]uint16, n)
	g.upper = make([][][]uint32, n)
	for i := range n {
		if lv := int(g.levels[i]); lv > 0 {
			g.upper[i] = make([][]uint32, lv)
		}
		for l := 0; l <= int(g.levels[i]); l++ {
			c := int(d.u16())
			limit := g.m
			if l == 0 {
				limit = g.m0
			}
			if d.err == nil && c > limit {
				d.fail("node %d has %d links on layer %d (at most %d)", i, c, l, limit)
			}
			links := make([]uint32, 0, c)
			for range c {
				x := d.u32()
				if d.err == nil && (int(x) >= n || int(g.levels[x]) < l) {
					d.fail("node %d links to node %d on layer %d", i, x, l)
				}
				links = append(links, x)
			}
			if d.err != nil {
				return nil, d.err
			}
			if l == 0 {
				copy(g.links0[i*g.m0:], links)
				g.n0[i] = uint16(c)
			} else {
				g.upper[i][l-1] = append(make([]uint32, 0, g.m+1), links...)
			}
		}
	}
	entry := int64(d.u64())
	maxLevel := int(d.u8())
	if d.err != nil {
		return nil, d.err
	}
	switch {
	case n == 0 && entry != -1, n > 0 && (entry < 0 || entry >= int64(n)),
		n > 0 && int(g.levels[entry]) != maxLevel:
		return nil, fmt.Errorf("%w: entry node %d at layer %d of %d nodes", ErrSnapshot, entry, maxLevel, n)
	}
	g.entry, g.maxLevel = entry, maxLevel
	if n == 0 {
		g.maxLevel = 0
	}
	// Later writes draw layers from a stream of their own.
	h.rng = rand.New(rand.NewPCG(opts.Seed, uint64(n)))
	return h, nil
}
