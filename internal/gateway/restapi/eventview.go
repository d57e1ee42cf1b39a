package restapi

import (
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// EventView is a change event without its payload, as the admin views of
// dead letters and webhook deliveries show it: those areas of the
// management API give no read access to documents. EventSchema describes
// it.
type EventView struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Collection string `json:"collection"`
	DocumentID string `json:"documentId,omitempty"`
	Version    int64  `json:"version"`
	Time       string `json:"time"`
	BatchID    string `json:"batchId,omitempty"`
	Position   int64  `json:"position"`
}

// ViewEvent is the view of e, its payload left out.
func ViewEvent(e eventbus.Event) EventView {
	return EventView{ID: e.ID, Type: string(e.Type), Collection: e.Collection, DocumentID: e.DocumentID,
		Version: e.Version, Time: e.Time.UTC().Format(docstore.TimeFormat), BatchID: e.BatchID, Position: e.Position}
}
