//go:build !amd64

package vector

// sqL2 is the squared Euclidean distance of a and b (len(b) ≥ len(a)).
func sqL2(a, b []float32) float32 { return sqL2Generic(a, b) }

// dot is the inner product of a and b (len(b) ≥ len(a)).
func dot(a, b []float32) float32 { return dotGeneric(a, b) }

// sqL2U8 is the squared Euclidean distance of two 8-bit codes.
func sqL2U8(a, b []uint8) uint32 { return sqL2U8Generic(a, b) }

// The prefetches do nothing here.
func (g *graph) prefetchCodes(nodes []uint32)      {}
func (g *graph) prefetchVecs(nodes []uint32)       {}
func (g *graph) prefetchLinks0(n uint32)           {}
func prefetchMarks(marks []uint32, nodes []uint32) {}
