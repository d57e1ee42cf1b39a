package docstore

// This file decides, at delivery time, what a realtime subscriber may
// receive of a change event: the same decisions as a read (API key scopes,
// the get rule, hidden fields), taken in memory with query.Match against
// the event's copy of the document, under the collection's current
// definition.

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
)

// MaxRememberedDocuments bounds how many documents one subscription
// remembers having shown its caller (see Delivery): beyond, it forgets
// one, and the deletion of a forgotten document is not delivered to a
// caller who is not an admin.
const MaxRememberedDocuments = 10_000

// SubscribeRequest asks for the change events of a collection, or of one
// of its documents when DocumentID is set. Filter (collection streams
// only) is a filter in the language of lists: only document events whose
// document matches it are delivered.
type SubscribeRequest struct {
	Collection string
	DocumentID string
	Filter     string
}

// Delivery is one subscription's access decision: Deliver says of each
// event whether the caller may receive it, and with what payload. It keeps
// the definition of the collection (rules, hidden fields) current at least
// up to the last event it was given: a collection event makes it read the
// definition again, and forget this process's cached copy. A Delivery
// serves one stream: it is not safe for concurrent use.
type Delivery struct {
	s          *Service
	collection string
	documentID string
	filterSrc  string
	filter     query.Expr // nil: every document
	cs         *compiledSchema
	// shown are the documents an event was delivered for, which the
	// caller was admitted to see: their deletion is delivered (a delete
	// event carries no data a rule could be checked on).
	shown map[string]struct{}
	memo  verdictMemo
}

// Decision is what a subscriber receives of one event.
type Decision struct {
	// Deliver: the caller receives Event, whose payload is what the
	// caller may see of it.
	Deliver bool
	Event   eventbus.Event
	// View, when set, is Event shared with the other subscriptions that
	// receive the same payload of it (see SharedEvent): Event is
	// View.Event(), and a transport may keep its encoding on it.
	View *View
	// End: the stream ends after this event, because the collection was
	// deleted (EndDeleted, the event is delivered) or the caller may no
	// longer subscribe (EndRefused: a rule or scope change).
	End EndReason
}

// EndReason says why a stream ends.
type EndReason string

// Reasons a Delivery ends a stream.
const (
	EndDeleted EndReason = "collection_deleted"
	EndRefused EndReason = "access_refused"
)

// Subscribe checks that the caller in ctx may subscribe to r and returns
// the Delivery that decides each event. A collection stream needs the list
// and get scopes, and list and get rules that do not refuse the caller
// outright (its events are decided by the get rule); its
// filter is checked against the collection's schema exactly as a list's
// (hidden fields are unknown fields to callers who are not admins). A
// document stream needs the document to exist and be visible to the
// caller, exactly as a read (GetDocument): otherwise it is NotFound.
func (s *Service) Subscribe(ctx context.Context, r SubscribeRequest) (*Delivery, error) {
	const op = "docstore.Subscribe"
	if err := checkCollectionName(op, r.Collection); err != nil {
		return nil, err
	}
	who := callerOf(ctx)
	d := &Delivery{s: s, collection: r.Collection, documentID: r.DocumentID, filterSrc: r.Filter,
		shown: make(map[string]struct{})}
	if r.DocumentID != "" {
		if r.Filter != "" {
			return nil, fault.New(fault.Invalid, op, "a document stream takes no filter")
		}
		if _, err := s.GetDocument(ctx, r.Collection, r.DocumentID); err != nil {
			return nil, err
		}
		d.shown[r.DocumentID] = struct{}{}
	} else if err := who.scope(op, r.Collection, actList); err != nil {
		return nil, err
	}
	_, cs, err := s.collection(ctx, op, r.Collection)
	if err != nil {
		return nil, s.collectionErr(op, r.Collection, err)
	}
	if err := d.admit(op, who, cs); err != nil {
		return nil, err
	}
	return d, nil
}

// admit applies the subscription's own checks to the definition cs: the
// rules that open the stream (list and get for a collection stream, get
// for a document stream, with their scopes) must not refuse the caller
// outright, and the filter must name fields the caller may query.
func (d *Delivery) admit(op string, who caller, cs *compiledSchema) error {
	acts := []int{actList, actGet}
	if d.documentID != "" {
		acts = acts[1:]
	}
	for _, act := range acts {
		v, err := cs.access.decide(op, d.collection, who, act)
		if err != nil {
			return err
		}
		if v.none {
			// The rule can never hold for this caller: nothing would come.
			if !who.p.Authenticated() {
				return errAuthRequired(op)
			}
			return fault.Newf(fault.Forbidden, op, "the access rules of collection %q admit no document to this caller", d.collection)
		}
	}
	fieldsOf := cs.fields
	if !who.admin {
		fieldsOf = cs.access.public
	}
	filter, err := query.ParseFilter(d.filterSrc, fieldsOf, d.s.limits.Query)
	if err != nil {
		return err
	}
	d.filter, d.cs = filter, cs
	return nil
}

// Deliver decides what the caller in ctx receives of e. Events of other
// collections and, on a document stream, of other documents are never
// delivered.
//
//   - Document writes: the caller needs the get scope and the collection's
//     current get rule must hold for the document as the event carries it
//     (query.Match, the engines' semantics), and so must the stream's
//     filter; hidden fields are removed unless the caller is an admin.
//   - Document deletes carry no data, so a rule that reads data cannot be
//     checked on them. They are delivered (id, collection and version
//     only) to admins, to callers whose rule and filter admit every
//     document, and to callers this stream delivered an earlier event of
//     the document to (it was visible to them): never to others. A
//     document that stops being visible (a write the rule now refuses) is
//     forgotten, so its later deletion is not delivered either.
//   - Collection events make the Delivery read the collection's definition
//     again (and forget this process's cached copy), so the events after
//     them are decided under the new rules; a caller the new definition
//     refuses outright ends the stream (EndRefused). Admins who may view
//     definitions (auth.ScopeCollectionsView) receive them; others receive
//     only collection.deleted, without the definition. A deleted
//     collection ends the stream (EndDeleted).
func (d *Delivery) Deliver(ctx context.Context, e eventbus.Event) (Decision, error) {
	return d.DeliverShared(ctx, NewSharedEvent(e))
}

// DeliverShared is Deliver for an event shared by several subscriptions:
// the payload is decoded, and the hidden fields removed, once for all of
// them; what the caller receives is the Decision's View, shared with the
// other callers who receive the same payload.
func (d *Delivery) DeliverShared(ctx context.Context, sh *SharedEvent) (Decision, error) {
	const op = "docstore.Deliver"
	e := sh.Event()
	if e.Collection != d.collection {
		return Decision{}, nil
	}
	who := callerOf(ctx)
	if e.Type.IsCollection() {
		dec, err := d.collectionEvent(ctx, op, who, *e)
		if dec.Deliver && len(dec.Event.Payload) == len(e.Payload) && string(dec.Event.Payload) == string(e.Payload) {
			dec.View = sh.AsWritten()
		}
		return dec, err
	}
	if d.documentID != "" && e.DocumentID != d.documentID {
		return Decision{}, nil
	}
	if who.scope(op, d.collection, actGet) != nil {
		return Decision{}, nil
	}
	v, err := d.verdict(op, who)
	if err != nil {
		if k := fault.KindOf(err); k == fault.Forbidden || k == fault.Unauthenticated {
			delete(d.shown, e.DocumentID)
			return Decision{}, nil
		}
		return Decision{}, err
	}
	if e.Type == eventbus.DocumentDeleted {
		_, shown := d.shown[e.DocumentID]
		delete(d.shown, e.DocumentID)
		everything := !v.none && v.filter == nil && d.filter == nil
		if who.admin || shown || everything {
			return delivered(sh.AsWritten()), nil
		}
		return Decision{}, nil
	}
	doc, _, err := sh.document()
	if err != nil {
		return Decision{}, fault.Internalf(op, err)
	}
	ok, err := visible(v, d.filter, doc)
	if err != nil {
		return Decision{}, fault.Internalf(op, err)
	}
	if !ok {
		delete(d.shown, e.DocumentID)
		return Decision{}, nil
	}
	d.remember(e.DocumentID)
	if d.cs.access.shows(who) {
		return delivered(sh.AsWritten()), nil
	}
	view, err := sh.withoutHidden(d.cs.access)
	if err != nil {
		return Decision{}, fault.Internalf(op, err)
	}
	return delivered(view), nil
}

// delivered is the decision to deliver view.
func delivered(view *View) Decision {
	return Decision{Deliver: true, Event: view.event, View: view}
}

// verdict returns the get rule's verdict for who under the stream's
// current definition. It depends on nothing else (the caller's identity,
// roles and admin status, and the definition), so the stream keeps the
// last one it computed and computes it again only when one of these
// changes.
func (d *Delivery) verdict(op string, who caller) (verdict, error) {
	m := &d.memo
	if m.access == d.cs.access && m.set && m.admin == who.admin && m.authenticated == who.p.Authenticated() &&
		m.bind.ID == who.bind.ID && m.bind.Type == who.bind.Type && slices.Equal(m.bind.Roles, who.bind.Roles) {
		return m.v, m.err
	}
	v, err := d.cs.access.ruleVerdict(op, d.collection, who, actGet)
	*m = verdictMemo{set: true, access: d.cs.access, admin: who.admin, authenticated: who.p.Authenticated(),
		bind: query.Caller{ID: who.bind.ID, Type: who.bind.Type, Roles: slices.Clone(who.bind.Roles)}, v: v, err: err}
	return v, err
}

// verdictMemo is the last verdict a Delivery computed, and what it was
// computed for.
type verdictMemo struct {
	set           bool
	access        *access
	admin         bool
	authenticated bool
	bind          query.Caller
	v             verdict
	err           error
}

// visible reports whether the rule's verdict v and the stream's filter
// admit doc.
func visible(v verdict, filter query.Expr, doc query.Document) (bool, error) {
	if v.none {
		return false, nil
	}
	for _, e := range []query.Expr{v.filter, filter} {
		if ok, err := query.Match(e, doc); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// remember records that the stream showed document id, forgetting another
// one when it remembers MaxRememberedDocuments already.
func (d *Delivery) remember(id string) {
	if _, ok := d.shown[id]; ok {
		return
	}
	if len(d.shown) >= MaxRememberedDocuments {
		for k := range d.shown {
			if k != d.documentID {
				delete(d.shown, k)
				break
			}
		}
	}
	d.shown[id] = struct{}{}
}

// collectionEvent decides a collection event (see Deliver).
func (d *Delivery) collectionEvent(ctx context.Context, op string, who caller, e eventbus.Event) (Decision, error) {
	viewer := who.p.Manage(op, auth.ScopeCollectionsView) == nil
	if e.Type == eventbus.CollectionDeleted {
		d.s.forgetSchema(d.collection)
		if !viewer {
			e.Payload = json.RawMessage(`{"collection":` + quote(d.collection) + `}`)
		}
		return Decision{Deliver: true, Event: e, End: EndDeleted}, nil
	}
	// The definition read now is at least as new as the one the event
	// describes: the events after it are decided under it or a newer one.
	d.s.forgetSchema(d.collection)
	_, cs, err := d.s.collection(ctx, op, d.collection)
	switch {
	case fault.KindOf(err) == fault.NotFound:
		// Deleted since: its collection.deleted event follows and ends
		// the stream; until then nothing is delivered.
		d.cs = &compiledSchema{access: &access{}, fields: d.cs.fields}
		return Decision{}, nil
	case err != nil:
		return Decision{}, err
	}
	if err := d.admit(op, who, cs); err != nil {
		if k := fault.KindOf(err); k == fault.Internal || k == fault.Unavailable {
			return Decision{}, err
		}
		return Decision{End: EndRefused}, nil
	}
	if viewer {
		return Decision{Deliver: true, Event: e}, nil
	}
	return Decision{}, nil
}

// quote returns s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
