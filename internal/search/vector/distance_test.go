package vector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSqL2SameBits checks that sqL2 and dot (SSE on amd64) give the same
// bits as sqL2Generic and dotGeneric at every length from 0 to 70 and at 128 and 1536, so
// that the SIMD kernel never changes a ranking.
func TestSqL2SameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lengths := []int{128, 1536}
	for n := range 71 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for range 20 {
			a, b := make([]float32, n), make([]float32, n+3)
			for i := range a {
				a[i] = float32(r.NormFloat64() * 100)
			}
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			got, want := sqL2(a, b), sqL2Generic(a, b)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("n=%d: sqL2 %v, sqL2Generic %v", n, got, want)
			}
			got, want = dot(a, b), dotGeneric(a, b)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("n=%d: dot %v, dotGeneric %v", n, got, want)
			}
		}
	}
}

// FuzzSqL2 checks sqL2 and dot against sqL2Generic and dotGeneric on arbitrary components.
func FuzzSqL2(f *testing.F) {
	f.Add(uint8(16), uint64(1))
	f.Add(uint8(3), uint64(7))
	f.Add(uint8(200), uint64(42))
	f.Fuzz(func(t *testing.T, n uint8, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 0))
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i] = math.Float32frombits(r.Uint32())
			b[i] = math.Float32frombits(r.Uint32())
		}
		got, want := sqL2(a, b), sqL2Generic(a, b)
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("n=%d: sqL2 %v, sqL2Generic %v", n, got, want)
		}
		got, want = dot(a, b), dotGeneric(a, b)
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("n=%d: dot %v, dotGeneric %v", n, got, want)
		}
	})
}

// TestSqL2U8 checks the code distance (SSE2 on amd64) against the
// portable loop and against float arithmetic at every length from 0 to
// 70, at 128 and 1536, and at the largest differences.
func TestSqL2U8(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lengths := []int{128, 1536, 65536}
	for n := range 71 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for trial := range 20 {
			a, b := make([]uint8, n), make([]uint8, n+5)
			for i := range a {
				a[i] = uint8(r.Uint32())
				if trial == 0 {
					a[i] = 255 * uint8(i%2)
				}
			}
			for i := range b {
				b[i] = uint8(r.Uint32())
				if trial == 0 {
					b[i] = 255 - 255*uint8(i%2)
				}
			}
			var want float64
			for i := range a {
				d := float64(a[i]) - float64(b[i])
				want += d * d
			}
			if got := sqL2U8(a, b); float64(got) != want {
				t.Fatalf("n=%d: sqL2U8 %d, want %v", n, got, want)
			}
			if got := sqL2U8Generic(a, b); float64(got) != want {
				t.Fatalf("n=%d: sqL2U8Generic %d, want %v", n, got, want)
			}
		}
	}
}
