package vector

// NewHNSWFiltered returns an HNSW index that answers every Only list with
// its filtered beam search (never the exact scan of the listed vectors),
// so that the conformance suite reaches that path on small sets.
func NewHNSWFiltered(cfg Config, opts HNSWOptions) (*HNSW, error) {
	h, err := NewHNSW(cfg, opts)
	if err != nil {
		return nil, err
	}
	h.onlyExactBelow = 0
	return h, nil
}

// Nodes returns the graph's node count, tombstones included.
func (h *HNSW) Nodes() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.g.size()
}

// NewAutoGated returns an Auto index whose builds tell started when they
// begin and then wait until gate is closed.
func NewAutoGated(cfg Config, opts AutoOptions, gate <-chan struct{}, started chan<- struct{}) (*Auto, error) {
	a, err := NewAuto(cfg, opts)
	if err != nil {
		return nil, err
	}
	a.gate, a.started = gate, started
	return a, nil
}

// NewHNSWGated returns an HNSW index whose compactions tell started when
// they begin and then wait until gate is closed (or the index is closed).
func NewHNSWGated(cfg Config, opts HNSWOptions, gate <-chan struct{}, started chan<- struct{}) (*HNSW, error) {
	h, err := NewHNSW(cfg, opts)
	if err != nil {
		return nil, err
	}
	h.compactGate, h.compactStarted = gate, started
	return h, nil
}

// WaitCompaction waits until no compaction is under way.
func (h *HNSW) WaitCompaction() {
	for {
		h.mu.RLock()
		done := h.compacting
		h.mu.RUnlock()
		if done == nil {
			return
		}
		<-done
	}
}

// Compacting reports whether a compaction is under way.
func (h *HNSW) Compacting() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.compacting != nil
}

// SetFloatWalk makes h's searches walk its graph by the float vectors
// (on) or, under l2 and cosine, by their 8-bit codes (off, the default).
func (h *HNSW) SetFloatWalk(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.floatWalk = on
}
