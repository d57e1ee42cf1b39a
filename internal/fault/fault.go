// Package fault is Basalt's error vocabulary: every service returns errors of
// one of the kinds declared here, and every transport maps each kind exactly
// once (REST to RFC 9457 problem bodies, GraphQL to extensions.code, gRPC to
// status codes).
package fault

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies an error for clients. The string value is the stable,
// machine-readable code that clients see.
type Kind string

// The kinds of error Basalt reports. Their string values are part of the
// public API (the "code" member of problem bodies) and never change.
const (
	Internal            Kind = "internal"
	Invalid             Kind = "invalid"
	Validation          Kind = "validation"
	Unauthenticated     Kind = "unauthenticated"
	Forbidden           Kind = "forbidden"
	NotFound            Kind = "not_found"
	Conflict            Kind = "conflict"
	PreconditionFailed  Kind = "precondition_failed"
	NotModified         Kind = "not_modified"
	PayloadTooLarge     Kind = "payload_too_large"
	UnsupportedMedia    Kind = "unsupported_media_type"
	IdempotencyMismatch Kind = "idempotency_mismatch"
	TooManyRequests     Kind = "too_many_requests"
	Unavailable         Kind = "unavailable"
)

// Kinds returns every kind above, for transports that must map each one
// and for their tests.
func Kinds() []Kind {
	return []Kind{Internal, Invalid, Validation, Unauthenticated, Forbidden, NotFound, Conflict, PreconditionFailed,
		NotModified, PayloadTooLarge, UnsupportedMedia, IdempotencyMismatch, TooManyRequests, Unavailable}
}

// Problem types name a problem more precisely than its kind, for problems
// a client must tell apart from others of their kind (the REST transport
// shows them as the problem's type URI, with a title of their own). An
// error without a type is of the type named like its kind. Their values
// are part of the public API.
const (
	TypeSignupClosed   = "signup_closed"   // public sign-up is off (--auth-signup=closed)
	TypeInviteRequired = "invite_required" // sign-up needs an invitation (--auth-signup=invite)
	TypeInviteInvalid  = "invite_invalid"  // the invitation is unknown, used, expired or for another address
)

// Types returns every problem type of the constants above, for transports
// that must name each one and for their tests.
func Types() []string {
	return []string{TypeSignupClosed, TypeInviteRequired, TypeInviteInvalid}
}

// FieldError names one failing location of a request, as a JSON pointer
// (RFC 6901) into the request, and says what is wrong there.
type FieldError struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// Error is the error type every service returns.
//
// Msg is safe to show to clients; Err is the internal cause, logged but never
// shown for Internal errors.
type Error struct {
	Kind Kind
	// Type is one of the problem types declared above, or empty for the
	// type named like Kind.
	Type   string
	Op     string       // the operation that failed, e.g. "docstore.Create"
	Msg    string       // user-safe description
	Fields []FieldError // per-location details (validation errors)
	Err    error        // wrapped cause, may be nil
	// RetryAfter, when positive, is how long a client should wait before
	// trying again (TooManyRequests, Unavailable).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Kind))
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind with a user-safe message.
func New(kind Kind, op, msg string) *Error {
	return &Error{Kind: kind, Op: op, Msg: msg}
}

// Newf is New with a formatted message.
func Newf(kind Kind, op, format string, args ...any) *Error {
	return &Error{Kind: kind, Op: op, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the given kind that wraps err. If err is nil Wrap
// returns nil.
func Wrap(kind Kind, op string, err error, msg string) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: kind, Op: op, Msg: msg, Err: err}
}

// Internalf wraps an unexpected error as Internal, whatever err is: an
// inner *Error keeps its place in the chain (for errors.Is, errors.As and
// logs), but its kind, message, fields and RetryAfter no longer reach
// clients, who see a generic message. Callers that mean to pass a kind
// through (a cancellation, a not-found that is really a not-found) check
// for it before calling Internalf. The detail is for logs.
func Internalf(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: Internal, Op: op, Err: err}
}

// RetryAfterOf returns the RetryAfter of the outermost *Error in err's
// chain, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// KindOf reports the kind of err: the kind of the outermost *Error in its
// chain, or Internal for any other non-nil error.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return Internal
}

// TypeOf reports the problem type of err: the Type of the outermost *Error
// in its chain or, when that has none, its kind; "internal" for an
// Internal error or any other non-nil error.
func TypeOf(err error) string {
	if err == nil {
		return ""
	}
	var fe *Error
	if !errors.As(err, &fe) || fe.Kind == Internal {
		return string(Internal)
	}
	if fe.Type != "" {
		return fe.Type
	}
	return string(fe.Kind)
}

// Is reports whether err is of the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// Message returns the user-safe message of err. Internal errors and errors
// that are not *Error get a generic message so no detail leaks.
func Message(err error) string {
	var fe *Error
	if errors.As(err, &fe) && fe.Kind != Internal {
		return fe.Msg
	}
	return "an internal error occurred"
}

// FieldsOf returns the field errors carried by err, if any.
func FieldsOf(err error) []FieldError {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Fields
	}
	return nil
}
