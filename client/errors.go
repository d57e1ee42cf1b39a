package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
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

// codeOf is the Basalt code nearest to a gRPC code, for errors without
// Basalt's detail.
var codeOf = map[connect.Code]string{
	connect.CodeInvalidArgument:    CodeInvalid,
	connect.CodeOutOfRange:         CodeInvalid,
	connect.CodeUnauthenticated:    CodeUnauthenticated,
	connect.CodePermissionDenied:   CodeForbidden,
	connect.CodeNotFound:           CodeNotFound,
	connect.CodeAlreadyExists:      CodeConflict,
	connect.CodeAborted:            CodePreconditionFailed,
	connect.CodeFailedPrecondition: CodePreconditionFailed,
	connect.CodeResourceExhausted:  CodeTooManyRequests,
	connect.CodeUnavailable:        CodeUnavailable,
	connect.CodeDeadlineExceeded:   CodeUnavailable,
	connect.CodeCanceled:           CodeUnavailable,
}

// errorOf turns an RPC error into an *Error (nil stays nil; an *Error
// stays as it is).
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
	if code, ok := codeOf[ce.Code()]; ok {
		e.Code = code
	}
	for _, d := range ce.Details() {
		msg, derr := connectproto.UnmarshalErrorDetail(d)
		p, ok := msg.(*basaltv1.Problem)
		if derr != nil || !ok {
			continue
		}
		e.Code, e.Type, e.Message = p.GetCode(), p.GetType(), p.GetDetail()
		for _, f := range p.GetErrors() {
			e.Fields = append(e.Fields, FieldError{Pointer: f.GetPointer(), Message: f.GetMessage()})
		}
		if ra := p.GetRetryAfter(); ra != nil {
			e.RetryAfter = max(ra.AsDuration(), 0)
		}
		break
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
