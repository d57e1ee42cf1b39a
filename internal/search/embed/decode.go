package embed

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// embeddingsResponse is the part of a /v1/embeddings answer Basalt reads.
type embeddingsResponse struct {
	Data []struct {
		Index     *int       `json:"index"`
		Embedding vectorJSON `json:"embedding"`
	} `json:"data"`
}

// vectorJSON is an embedding as servers write it: an array of numbers
// (encoding_format "float") or, from servers that ignore the format asked
// for, a base64 string of little-endian float32s.
type vectorJSON []float32

// UnmarshalJSON implements json.Unmarshaler.
func (v *vectorJSON) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return errors.New("an embedding is neither numbers nor base64")
		}
		if len(raw)%4 != 0 {
			return errors.New("a base64 embedding is not a whole number of float32s")
		}
		f := make([]float32, len(raw)/4)
		for i := range f {
			f[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		*v = f
		return nil
	}
	var f []float32
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = f
	return nil
}

// decodeResponse reads the n vectors of dims dimensions of an answer,
// ordered by their index (or, when no item has an index, as listed).
func decodeResponse(body []byte, n, dims int) ([][]float32, error) {
	var r embeddingsResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("the answer is not an embeddings list: %w", err)
	}
	if len(r.Data) != n {
		return nil, fmt.Errorf("the answer has %d embeddings for %d texts", len(r.Data), n)
	}
	out := make([][]float32, n)
	indexed := n > 0 && r.Data[0].Index != nil
	for i, d := range r.Data {
		at := i
		if indexed != (d.Index != nil) {
			return nil, errors.New("the answer indexes some embeddings and not others")
		}
		if indexed {
			at = *d.Index
			if at < 0 || at >= n {
				return nil, fmt.Errorf("the answer has an embedding of index %d for %d texts", at, n)
			}
			if out[at] != nil {
				return nil, fmt.Errorf("the answer has two embeddings of index %d", at)
			}
		}
		if d.Embedding == nil {
			return nil, fmt.Errorf("the embedding of index %d is missing", at)
		}
		if len(d.Embedding) != dims {
			return nil, fmt.Errorf("%w: the server's vectors have %d dimensions, %d are configured (with a model that can shorten its vectors, send the dimensions)",
				ErrDimensions, len(d.Embedding), dims)
		}
		for _, x := range d.Embedding {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("the embedding of index %d holds %v", at, x)
			}
		}
		out[at] = d.Embedding
	}
	return out, nil
}
