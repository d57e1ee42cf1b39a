package restapi

import (
	"net/http/httptest"
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
)

func TestParseIfMatch(t *testing.T) {
	tests := []struct {
		header []string
		want   int64
		ok     bool
	}{
		{nil, 0, true},
		{[]string{`"3"`}, 3, true},
		{[]string{` "12" `}, 12, true},
		{[]string{`*`}, 0, true},
		{[]string{`W/"3"`}, 0, false},
		{[]string{`3`}, 0, false},
		{[]string{`"0"`}, 0, false},
		{[]string{`"03"`}, 0, false},
		{[]string{`"-1"`}, 0, false},
		{[]string{`"3", "4"`}, 0, false},
		{[]string{`"3"`, `"4"`}, 0, false},
		{[]string{`"9223372036854775808"`}, 0, false},
		{[]string{`""`}, 0, false},
		{[]string{`"a"`}, 0, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("PUT", "/", nil)
		for _, h := range tc.header {
			r.Header.Add("If-Match", h)
		}
		got, err := parseIfMatch(r)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("If-Match %q = %d, %v; want %d, ok=%v", tc.header, got, err, tc.want, tc.ok)
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
