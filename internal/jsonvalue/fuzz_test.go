package jsonvalue

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, tc := range acceptCases() {
		f.Add([]byte(tc.in))
	}
	for _, tc := range rejectCases() {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(benchDoc))
	lim := Limits{MaxDepth: 16, MaxString: 256, MaxMembers: 512}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Decode(in, lim)
		if err != nil {
			return
		}
		// encoding/json must accept whatever Decode accepts.
		if !json.Valid(in) {
			t.Fatalf("Decode accepted %q, encoding/json rejects it", in)
		}
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.UseNumber()
		var std any
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("Decode accepted %q, encoding/json rejects it: %v", in, err)
		}
		if !reflect.DeepEqual(v, std) {
			t.Fatalf("Decode(%q) = %#v, encoding/json reads %#v", in, v, std)
		}
		// Accepted input round-trips.
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		again, err := Decode(out, Limits{MaxDepth: 16, MaxString: 6 * 256, MaxMembers: 512})
		if err != nil {
			t.Fatalf("re-decoding %q: %v", out, err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("round trip of %q: %#v != %#v", in, v, again)
		}
	})
}
