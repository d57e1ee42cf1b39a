package graphqlapi

// Subscriptions: the root fields of Subscription stream a collection's,
// or one document's, change events. The document service decides whether
// the caller may subscribe and, at delivery, what they receive of each
// event (docstore.Delivery: the get rule on the document as written, API
// key scopes, hidden fields removed); the realtime hub feeds the
// subscription from the event log, resumable after a position. Each event
// is then answered like a query: the operation's selection set over the
// change, so a subscriber selects the fields, and the relations, it needs.

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/realtime"
)

// Subscriber decides subscriptions to change events (*docstore.Service).
type Subscriber interface {
	Subscribe(ctx context.Context, r docstore.SubscribeRequest) (*docstore.Delivery, error)
}

// stream is one subscription operation: the realtime subscription of its
// root field, and what turns each message into an answer.
type stream struct {
	s    *Schema
	svc  Services
	doc  *ast.QueryDocument
	op   *ast.OperationDefinition
	vars map[string]any
	sub  *realtime.Subscription
	// last is the position of the last event answered: where a
	// subscriber resumes.
	last int64
}

// openStream starts the subscription operation op of doc, validated
// against s, as the caller in ctx (account and ip count it against the
// hub's limits). The errors are the operation's: it does not run.
func (a *API) openStream(ctx context.Context, s *Schema, doc *ast.QueryDocument, op *ast.OperationDefinition,
	vars map[string]any, account, ip string) (*stream, gqlerror.List) {
	fail := func(err error) (*stream, gqlerror.List) { return nil, gqlerror.List{errorOf(err)} }
	if a.opts.Realtime == nil || a.opts.Subscriber == nil || s.AST.Subscription == nil {
		return fail(fault.New(fault.Unavailable, op.Name, "subscriptions are not served here"))
	}
	coerced, gerr := coerceVariables(s.AST, op, vars)
	if gerr != nil {
		return nil, gqlerror.List{gerr}
	}
	e := &executor{ctx: ctx, s: s, doc: doc, vars: coerced}
	fields := e.fieldsOf(s.AST.Subscription, op.SelectionSet)
	if len(fields) != 1 || fields[0].Name == "__typename" {
		// Validation refuses several root fields; @skip can leave none.
		return fail(fault.New(fault.Invalid, "graphqlapi.subscribe", "a subscription selects exactly one root field"))
	}
	f := fields[0]
	root, ok := s.Subscriptions[f.Name]
	if !ok {
		return fail(fault.New(fault.Invalid, "graphqlapi.subscribe", "no subscription "+f.Name))
	}
	args := f.ArgumentMap(coerced)
	req := docstore.SubscribeRequest{Collection: root.Collection}
	if root.Kind == RootDocumentChanges {
		req.DocumentID = idArg(args["id"])
	} else {
		lr := docstore.ListRequest{}
		if err := listQuery(s.Collections[root.Collection], args, &lr); err != nil {
			return fail(err)
		}
		req.Filter = lr.Filter
	}
	resume, after := false, int64(0)
	if v, ok := args["after"].(string); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fail(fault.New(fault.Invalid, "graphqlapi.subscribe", "after must be the position of a change event (a non-negative integer, as a string)"))
		}
		resume, after = true, n
	}
	d, err := a.opts.Subscriber.Subscribe(ctx, req)
	if err != nil {
		return fail(err)
	}
	sub, err := a.opts.Realtime.Subscribe(ctx, realtime.Request{Collection: req.Collection, DocumentID: req.DocumentID,
		Account: account, ClientIP: ip, Resume: resume, After: after, Deliverer: d})
	if err != nil {
		return fail(err)
	}
	return &stream{s: s, svc: a.svc, doc: doc, op: op, vars: coerced, sub: sub, last: after}, nil
}

// close ends the stream's subscription.
func (st *stream) close() { st.sub.Close() }

// answer is the operation's answer to m, an event or a gap, as the caller
// in ctx may see it.
func (st *stream) answer(ctx context.Context, m realtime.Message) Result {
	if m.Kind == realtime.KindEvent {
		st.last = m.Event.Position
	} else {
		st.last = m.Position
	}
	e := &executor{ctx: ctx, s: st.s, svc: st.svc, doc: st.doc, vars: st.vars}
	data, ok := e.selectionSet(st.s.AST.Subscription, st.op.SelectionSet, rootValue{change: &m})
	r := Result{Errors: e.errs, executed: true}
	if ok {
		r.Data = data
	}
	return r
}

// changeTypes are the ChangeType values of the event types.
var changeTypes = map[eventbus.Type]string{
	eventbus.DocumentCreated:    "CREATED",
	eventbus.DocumentReplaced:   "REPLACED",
	eventbus.DocumentPatched:    "PATCHED",
	eventbus.DocumentDeleted:    "DELETED",
	eventbus.CollectionReplaced: "COLLECTION_REPLACED",
	eventbus.CollectionDeleted:  "COLLECTION_DELETED",
}

// changeValue is m as a value of a collection's change type: an event,
// with the document as the caller may see it (the payload the Delivery
// decided), or a gap.
func (e *executor) changeValue(m *realtime.Message) (map[string]any, error) {
	if m.Kind != realtime.KindEvent {
		return map[string]any{"type": "GAP", "position": strconv.FormatInt(m.Position, 10)}, nil
	}
	ev := m.Event
	typ, ok := changeTypes[ev.Type]
	if !ok {
		return nil, fault.Internalf(op, errUnknownEvent(ev.Type))
	}
	out := map[string]any{"type": typ, "position": strconv.FormatInt(ev.Position, 10), "eventId": ev.ID,
		"version": json.Number(strconv.FormatInt(ev.Version, 10)), "time": ev.Time.UTC().Format(docstore.TimeFormat)}
	if ev.DocumentID != "" {
		out["documentId"] = ev.DocumentID
	}
	if ev.BatchID != "" {
		out["batchId"] = ev.BatchID
	}
	if !ev.Type.IsCollection() && ev.Type != eventbus.DocumentDeleted {
		var d docstore.Document
		if err := json.Unmarshal(ev.Payload, &d); err != nil {
			return nil, fault.Internalf(op, err)
		}
		doc, err := e.documentValue(d)
		if err != nil {
			return nil, err
		}
		out["document"] = doc
	}
	return out, nil
}

type errUnknownEvent eventbus.Type

func (t errUnknownEvent) Error() string {
	return "graphqlapi: no change type for events of type " + string(t)
}
