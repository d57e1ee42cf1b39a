package docstore

// This file holds what the subscriptions of one process share of one
// change event, so that the work that is the same for every subscriber is
// done once per event rather than once per subscriber.

import (
	"encoding/json"
	"errors"
	"sync"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/query"
)

// maxSharedViews bounds how many payloads without hidden fields one shared
// event keeps (one per definition of the collection its subscribers
// decide under, normally one): beyond, they are computed per subscriber.
const maxSharedViews = 4

// SharedEvent is one change event as every subscription of this process
// receives it (the realtime hub makes one per event it fans out). What is
// the same for every subscriber is computed once, by the first one that
// needs it, and shared: the decoded document, its payload without the
// hidden fields (one per collection definition), and the transports'
// encodings of each payload (View.Encoded). What depends on the caller —
// scopes, the rule's verdict, the stream's filter, the documents a stream
// has shown — is decided by each subscription's Delivery and never
// shared. A SharedEvent is safe for concurrent use; its event is never
// changed.
type SharedEvent struct {
	event eventbus.Event

	parse sync.Once
	doc   query.Document
	whole Document
	err   error

	mu       sync.Mutex
	all      *View   // the event as written
	stripped []*View // without the hidden fields of one definition each
}

// NewSharedEvent returns e, to be shared by the subscriptions it is
// delivered to. e must not be changed afterwards (its payload included).
func NewSharedEvent(e eventbus.Event) *SharedEvent { return &SharedEvent{event: e} }

// Event returns the event as it was written (hidden fields included).
func (s *SharedEvent) Event() *eventbus.Event { return &s.event }

// document decodes the payload of a document event, once.
func (s *SharedEvent) document() (query.Document, Document, error) {
	s.parse.Do(func() {
		if err := json.Unmarshal(s.event.Payload, &s.whole); err != nil {
			s.err = errors.New("the event's payload is not a document: " + err.Error())
			return
		}
		d := s.whole
		s.doc = query.Document{ID: d.ID, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Data: d.Data}
	})
	return s.doc, s.whole, s.err
}

// AsWritten returns the view of the event as written: what admins, and
// every caller of a collection without hidden fields, receive.
func (s *SharedEvent) AsWritten() *View {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.all == nil {
		s.all = &View{event: s.event}
	}
	return s.all
}

// withoutHidden returns the view of a document event without the hidden
// fields of the definition a, computed once per definition.
func (s *SharedEvent) withoutHidden(a *access) (*View, error) {
	_, whole, err := s.document()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.stripped {
		if v.hidden == a {
			return v, nil
		}
	}
	doc, err := a.strip(whole)
	if err != nil {
		return nil, err
	}
	v := &View{event: s.event, hidden: a}
	if v.event.Payload, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	if len(s.stripped) < maxSharedViews {
		s.stripped = append(s.stripped, v)
	}
	return v, nil
}

// View is one payload of a shared event: the event exactly as a group of
// callers receives it (as written, or without the hidden fields of one
// definition). It is shared by those callers' streams: nothing may change
// it, and a transport may keep its encoding of it (Encoded).
type View struct {
	event  eventbus.Event
	hidden *access // the definition whose hidden fields were removed; nil: none were

	mu        sync.Mutex
	encodings []encoding
}

// encoding is one transport's encoding of a view.
type encoding struct {
	format string
	b      []byte
	err    error
}

// Event returns the event as the view's callers receive it.
func (v *View) Event() eventbus.Event { return v.event }

// Encoded returns the encoding of the view's event in format (a name the
// transport chooses, "sse" for Server-Sent Events), made by encode the
// first time it is asked for and shared by every stream of the view after
// that. encode must depend on nothing but the event it is given; the
// bytes returned must not be changed.
func (v *View) Encoded(format string, encode func(eventbus.Event) ([]byte, error)) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range v.encodings {
		if e.format == format {
			return e.b, e.err
		}
	}
	b, err := encode(v.event)
	v.encodings = append(v.encodings, encoding{format: format, b: b, err: err})
	return b, err
}
