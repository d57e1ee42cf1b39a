package vector

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// AutoOptions tune an Auto index; zero fields take the defaults.
type AutoOptions struct {
	// Threshold is the size above which Auto builds an HNSW index; it goes
	// back to exact search below Threshold/2. Default
	// DefaultAutoThreshold.
	Threshold int
	// HNSW tunes the HNSW index.
	HNSW HNSWOptions
}

// DefaultAutoThreshold is the size above which exact search stops being
// cheap. Measured on 128 dimensions (basalt-bench's vectors scenario, rates
// per CPU-second of one thread), HNSW at recall@10 ≥ 0.95 answers 3.5× as
// many queries as Flat at 1,000 clustered vectors, 15× at 3,000 and 17× at
// 10,000 — but on uniform random vectors only 1.0–1.1× up to 20,000. Below
// 10,000 a flat search costs at most about 0.6 ms and is exact, so Auto
// stays flat there; above, the flat scan's cost grows with every vector
// while HNSW's barely does.
const DefaultAutoThreshold = 10_000

func (o AutoOptions) withDefaults() (AutoOptions, error) {
	if o.Threshold == 0 {
		o.Threshold = DefaultAutoThreshold
	}
	if o.Threshold < 2 {
		return o, fmt.Errorf("%w: Auto threshold %d (want ≥ 2)", ErrConfig, o.Threshold)
	}
	h, err := o.HNSW.withDefaults()
	o.HNSW = h
	return o, err
}

// Auto starts as a Flat index and switches to HNSW when it holds more than
// its threshold. The HNSW index is built in the background from a copy of
// the flat one's contents while the flat one keeps serving; the writes
// made meanwhile are recorded and applied to it, and the two are swapped
// at once, so that searches never see a partial index. Below half the
// threshold it goes back to a flat index (the gap keeps it from switching
// to and fro). Close stops a build in progress.
type Auto struct {
	cfg  Config
	opts AutoOptions

	mu       sync.RWMutex
	closed   bool
	cur      Index // *Flat or *HNSW
	building bool
	log      []autoOp // the writes made while building
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// gate, when set, holds a build until it is closed (tests use it to
	// write while a build is pending); started is told when a build
	// begins.
	gate    <-chan struct{}
	started chan<- struct{}
}

// autoOp is one write recorded during a build.
type autoOp struct {
	upsert []Item
	delete []string
}

var _ Index = (*Auto)(nil)

// NewAuto returns an empty Auto index for cfg.
func NewAuto(cfg Config, opts AutoOptions) (*Auto, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := NewFlat(cfg)
	if err != nil {
		return nil, err
	}
	return &Auto{cfg: cfg, opts: opts, cur: f}, nil
}

// Config returns the dimensions and metric of the index.
func (a *Auto) Config() Config { return a.cfg }

// Kind names the index Auto holds now: "flat" or "hnsw".
func (a *Auto) Kind() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if _, ok := a.cur.(*HNSW); ok {
		return "hnsw"
	}
	return "flat"
}

// Building reports whether an HNSW index is being built.
func (a *Auto) Building() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.building
}

// Upsert adds items or replaces their vectors (see Index).
func (a *Auto) Upsert(ctx context.Context, items []Item) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	if err := a.cur.Upsert(ctx, items); err != nil {
		return err
	}
	if a.building {
		cp := make([]Item, len(items))
		for i, it := range items {
			cp[i] = Item{ID: it.ID, Vector: append([]float32(nil), it.Vector...)}
		}
		a.log = append(a.log, autoOp{upsert: cp})
	}
	a.maybeSwitch()
	return nil
}

// Delete removes ids (see Index).
func (a *Auto) Delete(ctx context.Context, ids []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	if err := a.cur.Delete(ctx, ids); err != nil {
		return err
	}
	if a.building {
		a.log = append(a.log, autoOp{delete: append([]string(nil), ids...)})
	}
	a.maybeSwitch()
	return nil
}

// maybeSwitch starts a build above the threshold, or goes back to a flat
// index below half of it; a.mu is held.
func (a *Auto) maybeSwitch() {
	n := a.cur.Len()
	switch cur := a.cur.(type) {
	case *Flat:
		if a.building || n <= a.opts.Threshold {
			return
		}
		items := cur.items()
		ctx, cancel := context.WithCancel(context.Background())
		a.building, a.cancel, a.log = true, cancel, nil
		a.wg.Go(func() { a.build(ctx, items) })
	case *HNSW:
		if n >= a.opts.Threshold/2 {
			return
		}
		f, err := NewFlat(a.cfg)
		if err != nil {
			return
		}
		for _, it := range cur.items() {
			f.put(it.ID, it.Vector)
		}
		a.cur = f
		_ = cur.Close()
	}
}

// build links an HNSW index over items, applies the writes recorded
// meanwhile and puts it in place of the flat index; it runs on its own
// goroutine, which Close waits for.
func (a *Auto) build(ctx context.Context, items []Item) {
	if a.started != nil {
		a.started <- struct{}{}
	}
	if a.gate != nil {
		select {
		case <-a.gate:
		case <-ctx.Done():
		}
	}
	h, err := buildHNSW(ctx, a.cfg, a.opts.HNSW, items)
	a.mu.Lock()
	defer a.mu.Unlock()
	log := a.log
	a.building, a.log, a.cancel = false, nil, nil
	if err != nil || a.closed {
		// Closed, or cancelled by Close: nothing to swap. (A failed
		// build is tried again by the next write above the threshold.)
		if h != nil {
			_ = h.Close()
		}
		return
	}
	for _, op := range log {
		if op.upsert != nil {
			err = h.Upsert(context.Background(), op.upsert)
		} else {
			err = h.Delete(context.Background(), op.delete)
		}
		if err != nil {
			_ = h.Close()
			return
		}
	}
	old := a.cur
	a.cur = h
	_ = old.Close()
	a.maybeSwitch()
}

// Search returns the k nearest items (see Index).
func (a *Auto) Search(ctx context.Context, q []float32, k int, opts SearchOptions) ([]Hit, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return nil, ErrClosed
	}
	return a.cur.Search(ctx, q, k, opts)
}

// Vector returns a copy of the vector held for id.
func (a *Auto) Vector(id string) ([]float32, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return nil, false
	}
	return a.cur.Vector(id)
}

// Len returns how many items the index holds.
func (a *Auto) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return 0
	}
	return a.cur.Len()
}

// Close stops a build in progress, waits for it, and releases the index.
func (a *Auto) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	cancel := a.cancel
	a.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	a.wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur.Close()
}

// Snapshot writes the options and the index Auto holds (see Load); a
// build in progress is not part of it.
func (a *Auto) Snapshot(w io.Writer) error {
	var e encoder
	if err := a.encode(&e); err != nil {
		return err
	}
	return writeSnapshot(w, kindAuto, e.b)
}

func (a *Auto) encode(e *encoder) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return ErrClosed
	}
	var inner encoder
	var kind byte
	switch cur := a.cur.(type) {
	case *Flat:
		kind = kindFlat
		if err := cur.encode(&inner); err != nil {
			return err
		}
	case *HNSW:
		kind = kindHNSW
		if err := cur.encode(&inner); err != nil {
			return err
		}
	}
	e.u32(uint32(a.opts.Threshold))
	e.options(a.opts.HNSW)
	e.u8(kind)
	e.b = append(e.b, inner.b...)
	return nil
}

func decodeAuto(d *decoder) (*Auto, error) {
	threshold := int(d.u32())
	hopts := d.options()
	kind := d.u8()
	if d.err != nil {
		return nil, d.err
	}
	var (
		cur Index
		err error
	)
	switch kind {
	case kindFlat:
		cur, err = decodeFlat(d)
	case kindHNSW:
		cur, err = decodeHNSW(d)
	default:
		return nil, fmt.Errorf("%w: unknown inner index kind %d", ErrSnapshot, kind)
	}
	if err != nil {
		return nil, err
	}
	opts, err := AutoOptions{Threshold: threshold, HNSW: hopts}.withDefaults()
	if err == nil && threshold == 0 {
		err = fmt.Errorf("%w: Auto threshold 0", ErrConfig)
	}
	if err != nil {
		_ = cur.Close()
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	a := &Auto{cfg: cur.Config(), opts: opts, cur: cur}
	a.mu.Lock()
	a.maybeSwitch()
	a.mu.Unlock()
	return a, nil
}
