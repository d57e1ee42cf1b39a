package vector

import (
	"context"
	"fmt"
	"sync"
)

// Flat is an exact index: a search compares the query with every vector
// held (or every vector of SearchOptions.Only) and keeps the k nearest in
// a bounded heap. Vectors lie one after another in a single slab (cosine
// vectors scaled to unit length), an id maps to its slot, and a delete
// moves the last vector into the freed slot. A search over n vectors of d
// dimensions costs n·d multiply-adds: below a few thousand vectors it is
// as fast as any graph, and it is always right.
type Flat struct {
	cfg  Config
	dist func(a, b []float32) float32

	mu     sync.RWMutex
	closed bool
	data   []float32 // slot s holds data[s*dim : (s+1)*dim]
	ids    []string  // slot → id
	slots  map[string]int
}

var _ Index = (*Flat)(nil)

// NewFlat returns an empty exact index for cfg.
func NewFlat(cfg Config) (*Flat, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Flat{cfg: cfg, dist: internalDist(cfg.Metric), slots: map[string]int{}}, nil
}

// Config returns the dimensions and metric of the index.
func (f *Flat) Config() Config { return f.cfg }

// Upsert adds items or replaces their vectors; a bad item changes nothing.
func (f *Flat) Upsert(ctx context.Context, items []Item) error {
	if err := checkItems(f.cfg, items); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vector: upsert: %w", err)
	}
	prepared := make([][]float32, len(items))
	for i, it := range items {
		prepared[i] = prepare(f.cfg.Metric, it.Vector)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	for i, it := range items {
		f.put(it.ID, prepared[i])
	}
	return nil
}

// put stores a prepared vector under id; f.mu is held.
func (f *Flat) put(id string, v []float32) {
	dim := f.cfg.Dimensions
	if s, ok := f.slots[id]; ok {
		copy(f.data[s*dim:(s+1)*dim], v)
		return
	}
	f.slots[id] = len(f.ids)
	f.ids = append(f.ids, id)
	f.data = append(f.data, v...)
}

// Delete removes ids; unknown ids are ignored.
func (f *Flat) Delete(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vector: delete: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	dim := f.cfg.Dimensions
	for _, id := range ids {
		s, ok := f.slots[id]
		if !ok {
			continue
		}
		last := len(f.ids) - 1
		if s != last {
			copy(f.data[s*dim:(s+1)*dim], f.data[last*dim:(last+1)*dim])
			f.ids[s] = f.ids[last]
			f.slots[f.ids[s]] = s
		}
		f.ids[last] = ""
		f.ids = f.ids[:last]
		f.data = f.data[:last*dim]
		delete(f.slots, id)
	}
	// Give memory back once most of it is unused.
	if cap(f.ids) > 1024 && len(f.ids) < cap(f.ids)/4 {
		f.ids = append([]string(nil), f.ids...)
		f.data = append([]float32(nil), f.data...)
	}
	return nil
}

// Search returns the k nearest items, exactly.
func (f *Flat) Search(ctx context.Context, q []float32, k int, opts SearchOptions) ([]Hit, error) {
	if err := checkVector(f.cfg, q); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("vector: search: %w", err)
	}
	q = prepare(f.cfg.Metric, q)
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return nil, ErrClosed
	}
	if k < 1 {
		return nil, nil
	}
	top := newTopK(k)
	dim := f.cfg.Dimensions
	if opts.Only != nil {
		seen := make(map[int]struct{}, min(len(opts.Only), len(f.ids)))
		for i, id := range opts.Only {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("vector: search: %w", err)
				}
			}
			s, ok := f.slots[id]
			if !ok {
				continue
			}
			if _, dup := seen[s]; dup {
				continue
			}
			seen[s] = struct{}{}
			top.push(f.dist(q, f.data[s*dim:(s+1)*dim]), id)
		}
		return top.hits(f.cfg.Metric), nil
	}
	for s, id := range f.ids {
		if s%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("vector: search: %w", err)
			}
		}
		d := f.dist(q, f.data[s*dim:(s+1)*dim])
		if top.full() && d > top.bound() {
			continue
		}
		top.push(d, id)
	}
	return top.hits(f.cfg.Metric), nil
}

// Vector returns a copy of the vector held for id.
func (f *Flat) Vector(id string) ([]float32, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.slots[id]
	if !ok || f.closed {
		return nil, false
	}
	dim := f.cfg.Dimensions
	return append([]float32(nil), f.data[s*dim:(s+1)*dim]...), true
}

// Len returns how many items the index holds.
func (f *Flat) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.ids)
}

// Close releases the index; later calls fail with ErrClosed.
func (f *Flat) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.data, f.ids, f.slots = nil, nil, map[string]int{}
	return nil
}

// items returns a copy of every item (prepared vectors), for building
// another index from this one.
func (f *Flat) items() []Item {
	f.mu.RLock()
	defer f.mu.RUnlock()
	dim := f.cfg.Dimensions
	out := make([]Item, len(f.ids))
	for s, id := range f.ids {
		out[s] = Item{ID: id, Vector: f.data[s*dim : (s+1)*dim : (s+1)*dim]}
	}
	if len(out) > 0 {
		// One copy of the slab serves every item.
		slab := append([]float32(nil), f.data...)
		for s := range out {
			out[s].Vector = slab[s*dim : (s+1)*dim : (s+1)*dim]
		}
	}
	return out
}
