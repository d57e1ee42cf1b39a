package rpcapi

// WatchDocuments: the change events of a collection or a document as a
// server stream, as restapi serves them as Server-Sent Events. The
// document service decides whether the caller may subscribe and every
// event (docstore.Delivery); the realtime hub feeds the subscription;
// the caller's credential is checked again every second.

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/bearer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/realtime"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// Subscriber decides subscriptions to change events (*docstore.Service).
type Subscriber interface {
	Subscribe(ctx context.Context, r docstore.SubscribeRequest) (*docstore.Delivery, error)
}

// Stream timing.
const (
	// recheckEvery is how often an open stream checks its caller's
	// credential again (revocation, expiry).
	recheckEvery = time.Second
	// sendTimeout bounds one send of a stream: a client that takes longer
	// to take an event loses its stream.
	sendTimeout = 30 * time.Second
)

// streamProcedures are the procedures whose server streams.
var streamProcedures = map[string]bool{
	basaltv1connect.DocumentServiceWatchDocumentsProcedure: true,
}

// watcher serves WatchDocuments.
type watcher struct {
	subs          Subscriber
	hub           *realtime.Hub
	authenticator auth.Authenticator
}

func (s *documentService) WatchDocuments(ctx context.Context, r *basaltv1.WatchDocumentsRequest,
	stream basaltv1connect.DocumentServiceWatchDocumentsServerStream) error {
	return s.watch.watch(ctx, r, stream)
}

func (w *watcher) watch(ctx context.Context, r *basaltv1.WatchDocumentsRequest, stream basaltv1connect.DocumentServiceWatchDocumentsServerStream) error {
	if w == nil || w.hub == nil || w.subs == nil {
		return rpcfault.Error(fault.New(fault.Unavailable, op, "realtime subscriptions are not served here"))
	}
	if r.GetDocumentId() != "" && r.GetFilter() != "" {
		return rpcfault.Error(invalid("a document's stream takes no filter", "/filter"))
	}
	if r.After != nil && r.GetAfter() < 0 {
		return rpcfault.Error(invalid("after must be the position of an event of this server's streams", "/after"))
	}
	d, err := w.subs.Subscribe(ctx, docstore.SubscribeRequest{Collection: r.GetCollection(), DocumentID: r.GetDocumentId(), Filter: r.GetFilter()})
	if err != nil {
		return rpcfault.Error(err)
	}
	ip := callOf(ctx).ip
	sub, err := w.hub.Subscribe(ctx, realtime.Request{Collection: r.GetCollection(), DocumentID: r.GetDocumentId(),
		Account: realtime.AccountOf(auth.FromContext(ctx)), ClientIP: ip, Resume: r.After != nil, After: r.GetAfter(), Deliverer: d})
	if err != nil {
		return rpcfault.Error(err)
	}
	defer sub.Close()
	rc := callOf(ctx).response
	if rc != nil {
		// A stream reads nothing more and writes when it has something:
		// the server's timeouts must not end it.
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
	}
	send := func(m *basaltv1.WatchDocumentsResponse) error {
		if rc != nil {
			_ = rc.SetWriteDeadline(time.Now().Add(sendTimeout))
			defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
		}
		return stream.Send(m)
	}
	var credential []string
	if info, ok := connect.CallInfoForServerContext(ctx); ok {
		credential = info.RequestHeader().Values("Authorization")
	}
	if err := stream.SendHeaders(); err != nil {
		return err
	}
	nextCheck := time.Now().Add(recheckEvery)
	for {
		if !time.Now().Before(nextCheck) {
			nextCheck = time.Now().Add(recheckEvery)
			if ctx, err = w.recheck(ctx, credential); err != nil {
				return err
			}
		}
		nctx, cancel := context.WithTimeout(ctx, max(time.Until(nextCheck), time.Millisecond))
		m, err := sub.Next(nctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return rpcfault.Error(ctx.Err()) // the client went away
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded):
			continue
		case errors.Is(err, realtime.ErrEnded):
			return nil
		default:
			// The stream cannot go on (the database does not answer): the
			// client resumes after the last position it received.
			if fault.KindOf(err) == fault.Internal {
				return rpcfault.Error(err)
			}
			return rpcfault.Error(fault.New(fault.Unavailable, op, "the stream failed: "+fault.Message(err)+"; resume after the last position received"))
		}
		switch m.Kind {
		case realtime.KindEvent:
			if err := send(&basaltv1.WatchDocumentsResponse{Message: &basaltv1.WatchDocumentsResponse_Event{Event: changeEvent(m.Event)}}); err != nil {
				return err
			}
		case realtime.KindGap:
			if err := send(&basaltv1.WatchDocumentsResponse{Message: &basaltv1.WatchDocumentsResponse_Gap{Gap: &basaltv1.StreamGap{Position: m.Position}}}); err != nil {
				return err
			}
		case realtime.KindDropped:
			return rpcfault.Error(fault.New(fault.TooManyRequests, op, "this stream did not keep up with its events and was ended; resume after the last position received"))
		case realtime.KindShutdown:
			return rpcfault.Error(fault.New(fault.Unavailable, op, "the server is shutting down; resume after the last position received"))
		case realtime.KindEnd:
			if m.End == docstore.EndDeleted {
				return nil // the collection.deleted event said it
			}
			return rpcfault.Error(fault.New(fault.Forbidden, op, "the collection's access rules no longer admit this stream ("+string(m.End)+")"))
		}
	}
}

// recheck authenticates the call's credential again: a revoked session or
// API key, or an expired access token, ends the stream. It returns the
// context with the caller's current principal.
func (w *watcher) recheck(ctx context.Context, credential []string) (context.Context, error) {
	if !auth.FromContext(ctx).Authenticated() {
		return ctx, nil
	}
	p, err := bearer.Authenticate(ctx, w.authenticator, credential)
	if err == nil && !p.Authenticated() {
		err = fault.New(fault.Unauthenticated, op, "the credentials were removed")
	}
	if err != nil {
		if fault.KindOf(err) != fault.Unauthenticated {
			// Fail closed: the server could not tell.
			err = fault.New(fault.Unavailable, op, "the credentials could not be checked again: "+fault.Message(err))
		}
		return ctx, rpcfault.Error(err)
	}
	return auth.WithPrincipal(ctx, p), nil
}

// changeEvent is e as a message.
func changeEvent(e eventbus.Event) *basaltv1.ChangeEvent {
	return &basaltv1.ChangeEvent{Id: e.ID, Type: string(e.Type), Collection: e.Collection, DocumentId: e.DocumentID, Version: e.Version,
		Time: timestamppb.New(e.Time), Payload: e.Payload, BatchId: e.BatchID, Position: e.Position}
}
