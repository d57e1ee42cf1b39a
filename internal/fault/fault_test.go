package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestKindsSurviveWrapping(t *testing.T) {
	base := New(NotFound, "docstore.Get", `document "x" does not exist`)
	wrapped := fmt.Errorf("handler: %w", base)
	if KindOf(wrapped) != NotFound || !Is(wrapped, NotFound) || Is(wrapped, Conflict) {
		t.Fatalf("kind of wrapped error = %q", KindOf(wrapped))
	}
	if Message(wrapped) != `document "x" does not exist` {
		t.Fatalf("message = %q", Message(wrapped))
	}
	if KindOf(nil) != "" || Is(nil, Internal) {
		t.Fatal("nil error has a kind")
	}
}

func TestUnknownErrorsAreInternalAndHidden(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user basalt at 10.0.0.3")
	for _, err := range []error{secret, Internalf("store.Get", secret), Wrap(Internal, "x", secret, "db detail")} {
		if KindOf(err) != Internal {
			t.Errorf("%v: kind %q", err, KindOf(err))
		}
		if Message(err) != "an internal error occurred" {
			t.Errorf("%v: message leaks %q", err, Message(err))
		}
	}
	if !errors.Is(Internalf("op", context.Canceled), context.Canceled) {
		t.Error("Internalf hides the cause from errors.Is")
	}
	// Internalf is Internal even around an error of another kind, whose
	// message, fields and RetryAfter stay hidden but which errors.As finds.
	inner := &Error{Kind: Validation, Op: "docstore.compileSchema", Msg: "schema: $ref to /definitions/x is not supported",
		Fields: []FieldError{{Pointer: "/schema", Message: "bad"}}, RetryAfter: 3}
	err := Internalf("docstore.schema", fmt.Errorf("stored schema of %q: %w", "posts", inner))
	if k := KindOf(err); k != Internal {
		t.Errorf("kind = %q, want internal", k)
	}
	if m := Message(err); m != "an internal error occurred" {
		t.Errorf("message leaks %q", m)
	}
	if FieldsOf(err) != nil || RetryAfterOf(err) != 0 {
		t.Errorf("fields %v, retry after %v leak", FieldsOf(err), RetryAfterOf(err))
	}
	var got *Error
	if !errors.As(errors.Unwrap(errors.Unwrap(err)), &got) || got != inner {
		t.Error("Internalf hides the inner error from errors.As")
	}
	if Wrap(Invalid, "op", nil, "x") != nil || Internalf("op", nil) != nil {
		t.Error("wrapping nil gave an error")
	}
}

func TestFieldsAndText(t *testing.T) {
	err := &Error{Kind: Validation, Op: "docstore.Create", Msg: "bad", Fields: []FieldError{{Pointer: "/data/a", Message: "is required"}}, Err: errors.New("cause")}
	if got := FieldsOf(fmt.Errorf("x: %w", err)); len(got) != 1 || got[0].Pointer != "/data/a" {
		t.Fatalf("fields = %+v", got)
	}
	if s := err.Error(); s != "docstore.Create: validation: bad: cause" {
		t.Fatalf("Error() = %q", s)
	}
	if FieldsOf(errors.New("plain")) != nil {
		t.Fatal("plain error has fields")
	}
}

func TestTypeOf(t *testing.T) {
	closed := &Error{Kind: Forbidden, Type: TypeSignupClosed, Op: "accounts.SignUp", Msg: "sign-up is closed"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{New(NotFound, "op", "gone"), "not_found"},
		{closed, "signup_closed"},
		{fmt.Errorf("handler: %w", closed), "signup_closed"},
		{Internalf("op", closed), "internal"},
		{&Error{Kind: Internal, Type: TypeSignupClosed}, "internal"},
		{errors.New("plain"), "internal"},
	} {
		if got := TypeOf(tc.err); got != tc.want {
			t.Errorf("TypeOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
