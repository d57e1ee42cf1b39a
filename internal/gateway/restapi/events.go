package restapi

// The realtime routes: change events as Server-Sent Events. The handler
// checks the request, asks the document service whether the caller may
// subscribe (docstore.Service.Subscribe, which also decides every event),
// opens a subscription on the realtime hub and writes its messages as they
// come, with heartbeats, re-checking the caller's credentials every second.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/realtime"
)

// DefaultHeartbeat is the default interval of heartbeat comments on event
// streams.
const DefaultHeartbeat = 15 * time.Second

// Stream timing.
const (
	// recheckEvery is how often an open stream checks its caller's
	// credentials again (revocation, expiry).
	recheckEvery = time.Second
	// streamWriteTimeout bounds one write to an event stream; a client
	// that takes longer to take an event loses its stream. It replaces
	// the server's write timeout, which would cut every stream.
	streamWriteTimeout = 30 * time.Second
	// batchMessages and batchBytes bound what one write of a stream
	// sends: the messages already waiting are sent together, with one
	// flush, rather than one flush each.
	batchMessages = 64
	batchBytes    = 64 << 10
)

// sseFormat names the SSE encoding of events kept on shared views
// (docstore.View.Encoded).
const sseFormat = "sse"

// collectionEvents serves GET /v1/collections/{collection}/events.
func (a *API) collectionEvents(w http.ResponseWriter, r *http.Request) {
	coll, err := PathValue(r, "collection")
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	q, err := ParseQuery(r, "filter")
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.events(w, r, docstore.SubscribeRequest{Collection: coll, Filter: q.Get("filter")})
}

// documentEvents serves GET /v1/collections/{collection}/documents/{id}/events.
func (a *API) documentEvents(w http.ResponseWriter, r *http.Request) {
	coll, id, err := documentTarget(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if _, err := ParseQuery(r); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	a.events(w, r, docstore.SubscribeRequest{Collection: coll, DocumentID: id})
}

// parseLastEventID reads the Last-Event-ID header: the position of the
// last event the client received.
func parseLastEventID(r *http.Request) (after int64, resume bool, err error) {
	v, err := singleHeader(r, "Last-Event-ID")
	if err != nil || v == "" {
		return 0, false, err
	}
	n, perr := strconv.ParseInt(v, 10, 64)
	if perr != nil || n < 0 || len(v) > 19 {
		return 0, false, BadRequest("Last-Event-ID must be the id of an event of this server's streams (a non-negative integer)")
	}
	return n, true, nil
}

// events checks a subscription and streams it.
func (a *API) events(w http.ResponseWriter, r *http.Request, req docstore.SubscribeRequest) {
	const op = "restapi.events"
	if err := RejectBody(r); err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	after, resume, err := parseLastEventID(r)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if a.opts.Realtime == nil || a.opts.Subscriber == nil {
		a.WriteProblem(w, r, fault.New(fault.Unavailable, op, "realtime subscriptions are not served here"))
		return
	}
	ctx := r.Context()
	d, err := a.opts.Subscriber.Subscribe(ctx, req)
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	if r.Method == http.MethodHead {
		setStreamHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
		return
	}
	sub, err := a.opts.Realtime.Subscribe(ctx, realtime.Request{Collection: req.Collection, DocumentID: req.DocumentID,
		Account: realtime.AccountOf(auth.FromContext(ctx)), ClientIP: a.clientIP(r), Resume: resume, After: after, Deliverer: d})
	if err != nil {
		a.WriteProblem(w, r, err)
		return
	}
	defer sub.Close()
	a.stream(w, r, sub)
}

// clientIP is the address the per-address stream limit counts.
func (a *API) clientIP(r *http.Request) string {
	if a.opts.ClientIP != nil {
		return a.opts.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func setStreamHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies that buffer answers (nginx) pass this one as it comes
}

// streamWriter writes the messages of one stream: what was added since
// the last send goes out in one write and one flush, the write bounded
// by its own deadline instead of the server's.
type streamWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	buf  bytes.Buffer // added, not yet sent
	last time.Time    // of the last send
}

// send writes and flushes what was added.
func (s *streamWriter) send() error {
	defer s.buf.Reset()
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return err
	}
	s.last = time.Now()
	return s.rc.Flush()
}

// write sends text (with what was added before it).
func (s *streamWriter) write(text string) error {
	s.buf.WriteString(text)
	return s.send()
}

// add adds one SSE message, to be sent with the next send.
func (s *streamWriter) add(id, event string, data any) error {
	b, err := sseFrame(id, event, data)
	if err != nil {
		return err
	}
	s.buf.Write(b)
	return nil
}

// message sends one SSE message (with what was added before it).
func (s *streamWriter) message(id, event string, data any) error {
	if err := s.add(id, event, data); err != nil {
		return err
	}
	return s.send()
}

// sseFrame encodes one SSE message: its id (when not empty), its event
// name and its data, a JSON value on one line.
func sseFrame(id, event string, data any) ([]byte, error) {
	var b bytes.Buffer
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	b.WriteString("event: " + event + "\ndata: ")
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil { // one line, with its "\n"
		return nil, err
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

// sseEvent encodes the SSE message of an event.
func sseEvent(e eventbus.Event) ([]byte, error) {
	return sseFrame(strconv.FormatInt(e.Position, 10), string(e.Type), e)
}

// notice is the data of the messages that are not events.
type notice struct {
	Message  string `json:"message"`
	Reason   string `json:"reason,omitempty"`
	Position *int64 `json:"position,omitempty"`
}

// stream writes sub's messages to w until the stream ends, the client goes
// away or the caller's credentials stop being valid.
func (a *API) stream(w http.ResponseWriter, r *http.Request, sub *realtime.Subscription) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	// A stream reads nothing more: the server's read timeout must not end
	// it (on HTTP/1.1 the connection's background read would fail).
	_ = rc.SetReadDeadline(time.Time{})
	setStreamHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	sw := &streamWriter{w: w, rc: rc}
	if err := sw.write(": stream open\n\n"); err != nil {
		return
	}
	heartbeat := a.opts.Heartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	nextCheck := time.Now().Add(recheckEvery)
	for {
		// The credentials are checked again every second, however busy
		// the stream; a heartbeat goes out when nothing else did.
		if !time.Now().Before(nextCheck) {
			nextCheck = time.Now().Add(recheckEvery)
			var ok bool
			if ctx, ok = a.recheck(ctx, sw, r); !ok {
				return
			}
		}
		if !time.Now().Before(sw.last.Add(heartbeat)) {
			if sw.write(": heartbeat\n\n") != nil {
				return
			}
		}
		wait := min(time.Until(nextCheck), time.Until(sw.last.Add(heartbeat)))
		nctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
		m, err := sub.Next(nctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return // the client went away, or the drain cut the stream
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded):
			continue
		case errors.Is(err, realtime.ErrEnded):
			return
		default:
			// The stream cannot go on (the database does not answer):
			// the client reconnects with Last-Event-ID.
			if fault.KindOf(err) == fault.Internal {
				a.resp.logError(r, err)
			}
			_ = sw.message("", "error", notice{Message: "the stream failed: " + fault.Message(err) + "; reconnect with Last-Event-ID"})
			return
		}
		// The messages already waiting go out with this one, in one
		// write (an error of TryNext comes again from Next).
		end := ended(m)
		if a.addMessage(sw, m) != nil {
			return
		}
		for n := 1; !end && n < batchMessages && sw.buf.Len() < batchBytes; n++ {
			next, ok, err := sub.TryNext(ctx)
			if err != nil || !ok {
				break
			}
			end = ended(next)
			if a.addMessage(sw, next) != nil {
				return
			}
		}
		if sw.send() != nil || end {
			return
		}
	}
}

// ended reports whether m is the last message of its stream.
func ended(m realtime.Message) bool {
	return m.Kind != realtime.KindEvent && m.Kind != realtime.KindGap
}

// addMessage adds one message of the subscription to what the stream
// sends next. An event's encoding is made once for every stream that
// receives the same payload of it (its shared view).
func (a *API) addMessage(sw *streamWriter, m realtime.Message) error {
	switch m.Kind {
	case realtime.KindEvent:
		var b []byte
		var err error
		if m.View != nil {
			b, err = m.View.Encoded(sseFormat, sseEvent)
		} else {
			b, err = sseEvent(m.Event)
		}
		if err != nil {
			return err
		}
		sw.buf.Write(b)
		return nil
	case realtime.KindGap:
		pos := m.Position
		return sw.add(strconv.FormatInt(pos, 10), "gap", notice{Position: &pos,
			Message: "events after Last-Event-ID are no longer kept (retention): some were lost; reload what you show, then go on from this event"})
	case realtime.KindDropped:
		return sw.add("", "dropped", notice{Message: "this stream did not keep up with its events and was ended; reconnect with Last-Event-ID"})
	case realtime.KindShutdown:
		return sw.add("", "shutdown", notice{Message: "the server is shutting down; reconnect with Last-Event-ID"})
	case realtime.KindEnd:
		if m.End == docstore.EndDeleted {
			return nil // the collection.deleted event said it
		}
		return sw.add("", "revoked", notice{Reason: string(m.End), Message: "the collection's access rules no longer admit this stream"})
	}
	return nil
}

// recheck authenticates the request's credentials again: a revoked session
// or API key, or an expired access token, ends the stream with a revoked
// message. It returns the context with the caller's current principal.
func (a *API) recheck(ctx context.Context, sw *streamWriter, r *http.Request) (context.Context, bool) {
	if !auth.FromContext(ctx).Authenticated() {
		return ctx, true
	}
	p, _, err := principalOf(r.WithContext(ctx), a.opts.Authenticator)
	if err == nil && !p.Authenticated() {
		err = fault.New(fault.Unauthenticated, "restapi.events", "the credentials were removed")
	}
	if err != nil {
		reason := "credentials_revoked"
		if fault.KindOf(err) != fault.Unauthenticated {
			reason = "credentials_unchecked" // fail closed: the server could not tell
		}
		_ = sw.message("", "revoked", notice{Reason: reason, Message: fault.Message(err)})
		return ctx, false
	}
	return auth.WithPrincipal(ctx, p), true
}

// addEventPaths describes the realtime routes whose action (list for a
// collection's stream, get for a document's) some collection admits.
func addEventPaths(doc *openapi3.T, acts, anonymous map[string]bool) {
	if !acts[auth.ActionList] && !acts[auth.ActionGet] {
		return
	}
	AddTag(doc, "realtime", "Change events as they happen, as Server-Sent Events")
	doc.Components.Parameters["LastEventID"] = &openapi3.ParameterRef{Value: &openapi3.Parameter{
		In: openapi3.ParameterInHeader, Name: "Last-Event-ID",
		Description: "The id of the last event received: the stream resumes after it, with exactly the events missed " +
			"(or a gap event when they are no longer kept)",
		Schema: &openapi3.SchemaRef{Value: openapi3.NewStringSchema().WithPattern(`^[0-9]{1,19}$`)},
	}}
	stream := func(what string) *openapi3.ResponseRef {
		resp := openapi3.NewResponse().WithDescription(what + ": a text/event-stream of messages " +
			"(id: the event's position; event: its type, or gap, dropped, revoked, shutdown, error; data: one line of JSON, " +
			"the change event with its payload as the caller may see it)")
		resp.Content = openapi3.Content{"text/event-stream": &openapi3.MediaType{Schema: &openapi3.SchemaRef{Value: openapi3.NewStringSchema()}}}
		return &openapi3.ResponseRef{Value: resp}
	}
	const desc = " Every event passes the caller's access rules when it is delivered (the get rule, API key scopes, hidden fields " +
		"removed); deletes reach admins and callers the stream showed the document to. Heartbeat comments keep the stream open; " +
		"a revoked or expired credential ends it with a revoked event. Send the credential in Authorization, never in the URL."
	if acts[auth.ActionList] {
		doc.Paths.Set("/v1/collections/{collection}/events", &openapi3.PathItem{Parameters: params("CollectionName"),
			Get: Operation("collectionEvents", "realtime", "Subscribe to a collection's change events",
				"Streams the collection's change events from now on (or after Last-Event-ID), filtered by filter= like a list; "+
					"the caller needs the list rule to subscribe."+desc,
				security(anonymous[auth.ActionList]), nil, Responses(200, stream("The collection's events"), 400, 401, 403, 404, 429, 503),
				"Filter", "LastEventID")})
	}
	if acts[auth.ActionGet] {
		doc.Paths.Set("/v1/collections/{collection}/documents/{id}/events", &openapi3.PathItem{
			Parameters: params("CollectionName", "DocumentID"),
			Get: Operation("documentEvents", "realtime", "Subscribe to one document's change events",
				"Streams the document's change events (and its collection's) from now on (or after Last-Event-ID); "+
					"the document must exist and be visible to the caller."+desc,
				security(anonymous[auth.ActionGet]), nil, Responses(200, stream("The document's events"), 400, 401, 403, 404, 429, 503),
				"LastEventID")})
	}
}
