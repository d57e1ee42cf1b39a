package eventsapi

import (
	"time"

	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
)

// The JSON views of the operators' view, built field by field. Also the
// shape `basalt events status --json` prints.

func stamp(t time.Time) string { return t.UTC().Format(docstore.TimeFormat) }

// ConsumersView is the answer of GET /v1/admin/consumers.
type ConsumersView struct {
	Items []ConsumerView `json:"items"`
	Log   LogView        `json:"log"`
}

// ConsumerView is one consumer.
type ConsumerView struct {
	Name string `json:"name"`
	// Position is null when the consumer stored none (new, or on Kafka).
	Position    *int64 `json:"position"`
	Lag         int64  `json:"lag"`
	DeadLetters int64  `json:"deadLetters"`
}

// LogView is the event log's size and bounds.
type LogView struct {
	Events  int64 `json:"events"`
	Bytes   int64 `json:"bytes"`
	Newest  int64 `json:"newest"`
	Trimmed int64 `json:"trimmed"`
}

// ViewConsumers builds the view of the consumers and the log.
func ViewConsumers(list []consumer.Status, log consumer.LogStatus) ConsumersView {
	v := ConsumersView{Items: make([]ConsumerView, 0, len(list)),
		Log: LogView{Events: log.Events, Bytes: log.Bytes, Newest: log.Newest, Trimmed: log.Trimmed}}
	for _, s := range list {
		c := ConsumerView{Name: s.Name, Lag: s.Lag, DeadLetters: s.DeadLetters}
		if s.HasPosition {
			pos := s.Position
			c.Position = &pos
		}
		v.Items = append(v.Items, c)
	}
	return v
}

type deadLetterPage struct {
	Items      []deadLetterView `json:"items"`
	NextCursor *string          `json:"nextCursor"`
}

type deadLetterView struct {
	ID        int64             `json:"id"`
	Consumer  string            `json:"consumer"`
	Event     restapi.EventView `json:"event"`
	Error     string            `json:"error"`
	Attempts  int               `json:"attempts"`
	Retry     bool              `json:"retry"`
	CreatedAt string            `json:"createdAt"`
	UpdatedAt string            `json:"updatedAt"`
}

func viewDeadLetter(d consumer.DeadLetter) deadLetterView {
	e := d.Event
	return deadLetterView{ID: d.ID, Consumer: d.Consumer, Error: d.Error, Attempts: d.Attempts, Retry: d.Retry,
		CreatedAt: stamp(d.CreatedAt), UpdatedAt: stamp(d.UpdatedAt),
		Event: restapi.ViewEvent(e)}
}
