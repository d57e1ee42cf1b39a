package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect/v2"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// The codes of Basalt's errors: the "code" of a REST problem, the code of
// an RPC error's basalt.v1.Problem detail.
const (
	CodeInvalid             = "invalid"
	CodeValidation          = "validation"
	CodeUnauthenticated     = "unauthenticated"
	CodeForbidden           = "forbidden"
	CodeNotFound            = "not_found"
	CodeConflict            = "conflict"
	CodePreconditionFailed  = "precondition_failed"
	CodeIdempotencyMismatch = "idempotency_mismatch"
	CodePayloadTooLarge     = "payload_too_large"
	CodeTooManyRequests     = "too_many_requests"
	CodeUnavailable         = "unavailable"
	CodeInternal            = "internal"
)

// Error is an error answered by Basalt, or a call that got no answer.
type Error struct {
	// Code is Basalt's code (the Code… constants); for an answer without
	// Basalt's detail (a proxy's), the nearest one to its gRPC code.
	Code string
	// Type is the problem type where there is one (such as
	// "signup_closed").
	Type string
	// Message says what went wrong, for people.
	Message string
	// Fields are the fields at fault, as JSON pointers into the request.
	Fields []FieldError
	// RetryAfter is how long to wait before trying again (too many
	// requests), or zero.
	RetryAfter time.Duration
	// GRPCCode is the call's status code.
	GRPCCode connect.Code

	err error // the RPC error
}

// FieldError is one field at fault.
type FieldError struct {
	Pointer string
	Message string
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("basalt: %s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Pointer, e.Fields[0].Message)
	}
	return fmt.Sprintf("basalt: %s: %s", e.Code, e.Message)
}

// Unwrap returns the RPC error (*connect.Error), and for a canceled or
// timed-out call the context's error too.
func (e *Error) Unwrap() []error {
	out := []error{e.err}
	switch e.GRPCCode {
	case connect.CodeCanceled:
		out = append(out, context.Canceled)
	case connect.CodeDeadlineExceeded:
		out = append(out, context.DeadlineExceeded)
	}
	return out
}

// errorOf turns an RPC error into an *Error (nil stays nil; an *Error
// stays as it is), with the kind, type, message, fields and retry delay
// of its basalt.v1.Problem detail, as Basalt's own components read them
// (rpcfault.Fault), or without one the code nearest to its gRPC code.
func errorOf(err error) error {
	if err == nil {
		return nil
	}
	if e := (*Error)(nil); errors.As(err, &e) {
		return err
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return &Error{Code: CodeUnavailable, Message: "no answer from the server: " + err.Error(), GRPCCode: connect.CodeUnavailable, err: err}
	}
	e := &Error{Code: CodeInternal, Message: ce.Message(), GRPCCode: ce.Code(), err: ce}
	var fe *fault.Error
	if errors.As(rpcfault.Fault(ce), &fe) {
		e.Code, e.Type, e.Message, e.RetryAfter = string(fe.Kind), fe.Type, fe.Msg, fe.RetryAfter
		for _, f := range fe.Fields {
			e.Fields = append(e.Fields, FieldError{Pointer: f.Pointer, Message: f.Message})
		}
	}
	return e
}

// CodeOf returns the Basalt code of err ("" when it is not an *Error).
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err says the thing does not exist (or is not
// visible to the caller).
func IsNotFound(err error) bool { return CodeOf(err) == CodeNotFound }

// IsUnauthenticated reports whether err says the credential is missing,
// wrong, expired or revoked.
func IsUnauthenticated(err error) bool { return CodeOf(err) == CodeUnauthenticated }

// IsForbidden reports whether err says the caller may not do that.
func IsForbidden(err error) bool { return CodeOf(err) == CodeForbidden }

// IsConflict reports whether err says the thing exists already.
func IsConflict(err error) bool { return CodeOf(err) == CodeConflict }

// IsPreconditionFailed reports whether err says the version did not match
// (another write came first).
func IsPreconditionFailed(err error) bool { return CodeOf(err) == CodePreconditionFailed }

// IsInvalid reports whether err says the request was malformed or its
// data failed validation.
func IsInvalid(err error) bool { c := CodeOf(err); return c == CodeInvalid || c == CodeValidation }
