package docstore

// This file prepares change events for receivers outside Basalt that no
// caller's rules govern (webhooks, which administrators register): the
// event leaves without the collection's hidden fields.

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// OutboundEvent returns e as it may leave Basalt for an outside receiver:
// a document write's payload without the hidden fields of the collection's
// current definition. Deletes (which carry no data) and collection events
// leave as they are. ok is false for a document event whose collection no
// longer exists: it can no longer be decided, and is not to be sent.
func (s *Service) OutboundEvent(ctx context.Context, e eventbus.Event) (out eventbus.Event, ok bool, err error) {
	const op = "docstore.OutboundEvent"
	if e.Type.IsCollection() || e.Type == eventbus.DocumentDeleted {
		return e, true, nil
	}
	_, cs, err := s.collection(ctx, op, e.Collection)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return e, false, nil
		}
		return e, false, err
	}
	if len(cs.access.hidden) == 0 {
		return e, true, nil
	}
	var doc Document
	if err := json.Unmarshal(e.Payload, &doc); err != nil {
		return e, false, fault.Internalf(op, errors.New("the event's payload is not a document: "+err.Error()))
	}
	if doc, err = cs.access.strip(doc); err != nil {
		return e, false, fault.Internalf(op, err)
	}
	if e.Payload, err = json.Marshal(doc); err != nil {
		return e, false, fault.Internalf(op, err)
	}
	return e, true, nil
}
