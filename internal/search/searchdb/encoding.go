package searchdb

import (
	"encoding/binary"
	"errors"
	"math"
)

// EncodeVector returns v as the engines store it: float32 little-endian
// bytes, in which every value, negative zero and NaN payloads included,
// round-trips exactly.
func EncodeVector(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
	}
	return out
}

// DecodeVector reads what EncodeVector wrote.
func DecodeVector(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, errors.New("a stored vector is not a whole number of float32 values")
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}
