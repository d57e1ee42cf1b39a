package search

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
)

// TextHash identifies a text embedded by the embedder called embedder
// (its Name): SHA-256 of the name, a zero byte and the text. The embedder
// stores it with each vector, so that a write that leaves the text as it
// was is not embedded again, and the indexes tell a vector of a
// document's current text from one of an older text.
func TextHash(embedder, text string) []byte {
	h := sha256.New()
	h.Write([]byte(embedder))
	h.Write([]byte{0})
	h.Write([]byte(text))
	return h.Sum(nil)
}

// EmbedText returns the text an embedder-sourced vector field embeds for a
// document: the text at each data path of from, in order, joined by blank
// lines. A path holding a string contributes it; an array contributes its
// strings, one per line; anything else (a number, an object, a missing
// path, blank text) contributes nothing. "" means the document has no text
// to embed, and so no vector.
func EmbedText(data json.RawMessage, from []string) string {
	if len(data) == 0 || len(from) == 0 {
		return ""
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return ""
	}
	var parts []string
	for _, path := range from {
		var v any = doc
		for _, key := range strings.Split(path, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = obj[key]
		}
		var lines []string
		switch x := v.(type) {
		case string:
			lines = append(lines, x)
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					lines = append(lines, s)
				}
			}
		}
		text := strings.TrimSpace(strings.Join(lines, "\n"))
		if text != "" {
			parts = append(parts, text)
		}
	}
	return strings.Join(parts, "\n\n")
}

// clientVector returns the vector a client-sourced field holds in data
// (the top-level property named like the field), and whether it holds
// one of dims finite numbers.
func clientVector(data json.RawMessage, field string, dims int) ([]float32, bool) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, false
	}
	raw, ok := doc[field]
	if !ok {
		return nil, false
	}
	var nums []float64
	if err := json.Unmarshal(raw, &nums); err != nil || len(nums) != dims {
		return nil, false
	}
	out := make([]float32, dims)
	for i, n := range nums {
		f := float32(n)
		if f != f || f > maxFloat32 || f < -maxFloat32 { // NaN, ±Inf (also beyond float32's range)
			return nil, false
		}
		out[i] = f
	}
	return out, true
}

const maxFloat32 = 3.40282346638528859811704183484516925440e+38
