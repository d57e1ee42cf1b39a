package query

import (
	"errors"
	"testing"

	"github.com/basaltdev/basalt/internal/fault"
)

// checkFuzzErr fails unless err is a *fault.Error of kind Invalid.
func checkFuzzErr(t *testing.T, src string, err error) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Msg == "" {
		t.Fatalf("input %q: error %v (%T) is not an Invalid *fault.Error", src, err, err)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, c := range validFilters {
		f.Add(c.src)
	}
	for _, c := range invalidFilters {
		f.Add(c.src)
	}
	s := testSchema(f)
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseFilter(src, s, lim)
		if err != nil {
			if e != nil {
				t.Fatalf("input %q: AST returned with error", src)
			}
			checkFuzzErr(t, src, err)
			return
		}
		if e == nil {
			if !isBlank(src) {
				t.Fatalf("input %q: nil AST without error", src)
			}
			return
		}
		want := sexpr(e)
		text := Format(e)
		e2, err := ParseFilter(text, s, lim)
		if err != nil {
			t.Fatalf("input %q: Format gave %q, which fails to parse: %v", src, text, err)
		}
		if got := sexpr(e2); got != want {
			t.Fatalf("input %q: round trip through %q\n got %s\nwant %s", src, text, got, want)
		}
		if text2 := Format(e2); text2 != text {
			t.Fatalf("input %q: Format is not stable: %q then %q", src, text, text2)
		}
	})
}

func FuzzParseSort(f *testing.F) {
	for _, c := range validSorts {
		f.Add(c.src)
	}
	for _, c := range invalidSorts {
		f.Add(c.src)
	}
	s := testSchema(f)
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, src string) {
		keys, err := ParseSort(src, s, lim)
		if err != nil {
			checkFuzzErr(t, src, err)
		} else {
			if len(keys) == 0 || keys[len(keys)-1].Field.System != SystemID {
				t.Fatalf("input %q: sort %s does not end with id", src, sortString(keys))
			}
			again, err := ParseSort(FormatSort(keys), s, lim)
			if err != nil || sortString(again) != sortString(keys) {
				t.Fatalf("input %q: round trip through %q = %s, %v", src, FormatSort(keys), sortString(again), err)
			}
		}
		if _, err := ParseFields(src, s, lim); err != nil {
			checkFuzzErr(t, src, err)
		}
	})
}
