package search

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"

	"github.com/basaltdev/basalt/internal/fault"
)

// cursorState is what a search cursor carries (signed by the document
// service with the list cursors' key, and bound to the caller and the
// query by the fingerprint).
type cursorState struct {
	// Pages and Served count the pages and hits served before the page
	// the cursor asks for: hybrid search widens its window with the
	// pages, ranks continue from the hits.
	Pages  int `json:"p"`
	Served int `json:"n"`
	// Fuzzy: the first page was answered by the typo-tolerant query, and
	// so are the next.
	Fuzzy bool `json:"f,omitempty"`
	// Score and ID are the keyset position (the last hit served) of the
	// relevance, nearness and fused orders.
	Score float64 `json:"s,omitempty"`
	ID    string  `json:"i,omitempty"`
	// After is the keyset position of a text search with a sort: the sort
	// values of the last hit served.
	After []json.RawMessage `json:"a,omitempty"`
}

// openCursor verifies a cursor and returns its state.
func (s *Service) openCursor(r *run, cursor string) (cursorState, error) {
	raw, err := s.docs.OpenCursor(op, cursor, r.fp)
	if err != nil {
		return cursorState{}, err
	}
	var st cursorState
	if err := json.Unmarshal(raw, &st); err != nil || st.Pages < 1 || st.Served < 1 || st.Served >= s.limits.MaxDepth ||
		(st.ID == "" && st.After == nil) {
		return cursorState{}, fault.New(fault.Invalid, op, "invalid cursor: malformed")
	}
	return st, nil
}

// signCursor returns the cursor of the page after the one being served.
func (s *Service) signCursor(r *run, next cursorState) (string, error) {
	raw, err := json.Marshal(next)
	if err != nil {
		return "", fault.Internalf(op, err)
	}
	return s.docs.SignCursor(r.fp, raw), nil
}

// vectorKey identifies a raw query vector in a cursor's fingerprint ("" for
// none): the same numbers give the same key.
func vectorKey(v []float32) string {
	if v == nil {
		return ""
	}
	h := sha256.New()
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		h.Write(b[:])
	}
	return "v" + hex.EncodeToString(h.Sum(nil)[:16])
}

// finite maps a score to a finite number, so that it can travel in a
// cursor (JSON has no NaN or infinities): an overflowed dot product ranks
// as the largest or smallest number, NaN as the smallest.
func finite(x float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsInf(x, -1):
		return -math.MaxFloat64
	case math.IsInf(x, 1):
		return math.MaxFloat64
	}
	return x
}
