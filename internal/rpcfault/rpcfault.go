// Package rpcfault carries Basalt's errors over gRPC and Connect. Error
// turns a service's error into a *connect.Error: the gRPC status code of
// its fault kind, its user-safe message, and a basalt.v1.Problem detail
// with the exact kind, problem type, field errors and retry delay, as a
// REST client gets them in problem+json. Fault turns such an error back
// into the *fault.Error it came from, so that a client of a component in
// another process returns what the service returns in-process, and split
// deployments answer exactly like the monolith.
package rpcfault

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/protobuf/types/known/durationpb"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/internal/fault"
)

// codes maps every fault kind to its gRPC status code: the one place
// where the RPC transports decide how an error looks. The Problem detail
// says the kind exactly where a code is shared.
var codes = map[fault.Kind]connect.Code{
	fault.Invalid:         connect.CodeInvalidArgument,
	fault.Validation:      connect.CodeInvalidArgument,
	fault.Unauthenticated: connect.CodeUnauthenticated,
	fault.Forbidden:       connect.CodePermissionDenied,
	fault.NotFound:        connect.CodeNotFound,
	// A conflict is a create (or a change) that meets what exists.
	fault.Conflict: connect.CodeAlreadyExists,
	// A version that no longer matches: read again, then retry (gRPC's
	// advice for a failed compare-and-set).
	fault.PreconditionFailed:  connect.CodeAborted,
	fault.NotModified:         connect.CodeFailedPrecondition,
	fault.PayloadTooLarge:     connect.CodeResourceExhausted,
	fault.UnsupportedMedia:    connect.CodeInvalidArgument,
	fault.IdempotencyMismatch: connect.CodeFailedPrecondition,
	fault.TooManyRequests:     connect.CodeResourceExhausted,
	fault.Internal:            connect.CodeInternal,
	fault.Unavailable:         connect.CodeUnavailable,
}

// kinds maps a code back to a kind, for errors without a Problem detail
// (from a proxy, or the RPC machinery itself).
var kinds = map[connect.Code]fault.Kind{
	connect.CodeInvalidArgument:    fault.Invalid,
	connect.CodeUnauthenticated:    fault.Unauthenticated,
	connect.CodePermissionDenied:   fault.Forbidden,
	connect.CodeNotFound:           fault.NotFound,
	connect.CodeAlreadyExists:      fault.Conflict,
	connect.CodeAborted:            fault.PreconditionFailed,
	connect.CodeFailedPrecondition: fault.PreconditionFailed,
	connect.CodeOutOfRange:         fault.Invalid,
	connect.CodeResourceExhausted:  fault.TooManyRequests,
	connect.CodeUnavailable:        fault.Unavailable,
	connect.CodeDeadlineExceeded:   fault.Unavailable,
	connect.CodeCanceled:           fault.Unavailable,
}

// Code returns the gRPC status code of kind; Internal for a kind it does
// not know.
func Code(kind fault.Kind) connect.Code {
	if c, ok := codes[kind]; ok {
		return c
	}
	return connect.CodeInternal
}

// genericInternal is what clients read of an internal error.
const genericInternal = "an internal error occurred"

// Error returns the *connect.Error that represents err (nil for nil): the
// code of its kind, its user-safe message (fault.Message) and a Problem
// detail. An internal error shows a generic message and no fields; its
// cause stays on the server (WithCause), for the logs. A context error
// of the caller's own keeps its code (canceled, deadline exceeded).
func Error(err error) *connect.Error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) && !isFault(err) {
		return ce // already an RPC error (from the RPC machinery)
	}
	if !isFault(err) {
		switch {
		case errors.Is(err, context.Canceled):
			return connect.NewError(connect.CodeCanceled, "the call was canceled").WithCause(err)
		case errors.Is(err, context.DeadlineExceeded):
			return connect.NewError(connect.CodeDeadlineExceeded, "the call ran out of time").WithCause(err)
		}
	}
	kind := fault.KindOf(err)
	if _, ok := codes[kind]; !ok {
		kind = fault.Internal
	}
	p := &basaltv1.Problem{Code: string(kind), Detail: fault.Message(err)}
	if kind != fault.Internal {
		if typ := fault.TypeOf(err); typ != string(kind) {
			p.Type = typ
		}
		for _, f := range fault.FieldsOf(err) {
			p.Errors = append(p.Errors, &basaltv1.FieldError{Pointer: f.Pointer, Message: f.Message})
		}
		if d := fault.RetryAfterOf(err); d > 0 {
			p.RetryAfter = durationpb.New(d)
		}
	} else {
		p.Detail = genericInternal
	}
	out := connect.NewError(Code(kind), p.Detail).WithCause(err)
	if detail, derr := connectproto.NewErrorDetail(p); derr == nil {
		out = out.WithDetail(detail)
	}
	return out
}

// isFault reports whether err's chain holds a *fault.Error.
func isFault(err error) bool {
	var fe *fault.Error
	return errors.As(err, &fe)
}

// Fault returns the *fault.Error that err, an error of an RPC client,
// represents (nil for nil): the kind, type, message, field errors and
// retry delay of its Problem detail, or, without one, the kind of its code
// and its message. The RPC error stays in the chain (errors.As), and a
// canceled or timed-out call also matches context.Canceled or
// context.DeadlineExceeded (errors.Is).
func Fault(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return &fault.Error{Kind: fault.Unavailable, Op: "rpc", Msg: "the remote component did not answer", Err: err}
	}
	var cause error = ce
	switch ce.Code() {
	case connect.CodeCanceled:
		cause = errors.Join(ce, context.Canceled)
	case connect.CodeDeadlineExceeded:
		cause = errors.Join(ce, context.DeadlineExceeded)
	}
	for _, d := range ce.Details() {
		msg, derr := connectproto.UnmarshalErrorDetail(d)
		p, ok := msg.(*basaltv1.Problem)
		if derr != nil || !ok {
			continue
		}
		kind := fault.Kind(p.GetCode())
		if _, known := codes[kind]; !known {
			break // a kind this build does not know: judge by the code
		}
		fe := &fault.Error{Kind: kind, Type: p.GetType(), Op: "rpc", Msg: p.GetDetail(), Err: cause}
		for _, f := range p.GetErrors() {
			fe.Fields = append(fe.Fields, fault.FieldError{Pointer: f.GetPointer(), Message: f.GetMessage()})
		}
		if ra := p.GetRetryAfter(); ra != nil {
			fe.RetryAfter = max(ra.AsDuration(), time.Duration(0))
		}
		return fe
	}
	kind, ok := kinds[ce.Code()]
	if !ok {
		kind = fault.Internal
	}
	return &fault.Error{Kind: kind, Op: "rpc", Msg: ce.Message(), Err: cause}
}
