package restapi

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
)

func TestParseIfMatch(t *testing.T) {
	tests := []struct {
		header []string
		want   docstore.Versions
		ok     bool
	}{
		{nil, nil, true},
		{[]string{`"3"`}, docstore.Versions{3}, true},
		{[]string{` "12" `}, docstore.Versions{12}, true},
		{[]string{`*`}, nil, true},
		{[]string{` * `}, nil, true},
		// RFC 9110: a list matches if any member does; If-Match compares
		// strongly, so weak tags never match, and neither do tags that
		// hold no version. Lines combine; empty elements are allowed.
		{[]string{`W/"3"`}, docstore.Versions{0}, true},
		{[]string{`"3", "4"`}, docstore.Versions{3, 4}, true},
		{[]string{`"4"`, `"3"`}, docstore.Versions{3, 4}, true},
		{[]string{`"4",W/"3", "4" ,, "x"`}, docstore.Versions{4}, true},
		{[]string{`"0"`}, docstore.Versions{0}, true},
		{[]string{`"03"`}, docstore.Versions{0}, true},
		{[]string{`"-1"`}, docstore.Versions{0}, true},
		{[]string{`"9223372036854775808"`}, docstore.Versions{0}, true},
		{[]string{`""`}, docstore.Versions{0}, true},
		{[]string{`"a"`}, docstore.Versions{0}, true},
		{[]string{`"a!#~"`}, docstore.Versions{0}, true},
		// Malformed.
		{[]string{`3`}, nil, false},
		{[]string{`"3`}, nil, false},
		{[]string{`w/"3"`}, nil, false},
		{[]string{`W/ "3"`}, nil, false},
		{[]string{`"a b"`}, nil, false},
		{[]string{`"a"b"`}, nil, false},
		{[]string{`"3" "4"`}, nil, false},
		{[]string{`*, "3"`}, nil, false},
		{[]string{`*`, `"3"`}, nil, false},
		{[]string{`*`, `*`}, nil, false},
		{[]string{``}, nil, false},
		{[]string{` , `}, nil, false},
		{[]string{strings.Repeat(`"1",`, maxIfMatchTags+1)}, nil, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("PUT", "/", nil)
		for _, h := range tc.header {
			r.Header.Add("If-Match", h)
		}
		got, err := parseIfMatch(r)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("If-Match %q = %+v, %v; want %+v, ok=%v", tc.header, got, err, tc.want, tc.ok)
		}
		if err != nil && !fault.Is(err, fault.Invalid) {
			t.Errorf("If-Match %q: error kind %q", tc.header, fault.KindOf(err))
		}
	}
}

func TestNotModified(t *testing.T) {
	tests := []struct {
		header string
		want   bool
		ok     bool
	}{
		{"", false, true},
		{`"3"`, true, true},
		{`W/"3"`, true, true},
		{`"1", "3"`, true, true},
		{`"4"`, false, true},
		{`*`, true, true},
		{`"x"`, false, true},
		{`3`, false, false},
		{`"3`, false, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("If-None-Match", tc.header)
		}
		got, err := notModified(r, 3)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("If-None-Match %q = %v, %v; want %v, ok=%v", tc.header, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseIdempotencyKey(t *testing.T) {
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'k'
	}
	tests := []struct {
		header []string
		want   string
		ok     bool
	}{
		{nil, "", true},
		{[]string{"abc-123"}, "abc-123", true},
		{[]string{"with space inside"}, "with space inside", true},
		{[]string{string(long[:255])}, string(long[:255]), true},
		{[]string{string(long)}, "", false},
		{[]string{""}, "", false},
		{[]string{"tab\there"}, "", false},
		{[]string{"ключ"}, "", false},
		{[]string{"a", "b"}, "", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "/", nil)
		for _, h := range tc.header {
			r.Header.Add("Idempotency-Key", h)
		}
		got, err := parseIdempotencyKey(r)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Idempotency-Key %q = %q, %v; want %q, ok=%v", tc.header, got, err, tc.want, tc.ok)
		}
	}
}
