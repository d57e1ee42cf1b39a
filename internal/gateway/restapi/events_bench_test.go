package restapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/realtime"
)

// discardWriter is a ResponseWriter that keeps nothing and counts what it
// is given.
type discardWriter struct {
	h              http.Header
	bytes, flushes int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.bytes += len(p); return len(p), nil }
func (d *discardWriter) Flush()                      { d.flushes++ }

// BenchmarkStreamEvent writes one event to 1,000 streams (one op: every
// stream's message), as the SSE handler does for each subscriber.
func BenchmarkStreamEvent(b *testing.B) {
	const streams = 1000
	sws := make([]*streamWriter, streams)
	for i := range sws {
		w := &discardWriter{h: http.Header{}}
		sws[i] = &streamWriter{w: w, rc: http.NewResponseController(w)}
	}
	a := &API{}
	payload := []byte(`{"collection":"posts","id":"d1","version":1,"createdAt":"2026-12-01T12:00:00Z",` +
		`"updatedAt":"2026-12-01T12:00:00Z","data":{"n":2,"title":"a title of some length","tags":["a","b"]}}`)
	pos := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		pos++
		m := eventMessage(eventbus.Event{ID: "e" + strconv.FormatInt(pos, 10), Type: eventbus.DocumentCreated, Collection: "posts",
			DocumentID: "d1", Version: 1, Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), Payload: payload, Position: pos})
		for _, sw := range sws {
			if err := a.addMessage(sw, m); err != nil {
				b.Fatal(err)
			}
			if err := sw.send(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// eventMessage is the message of e as the hub hands it to every
// subscriber who may see it whole.
func eventMessage(e eventbus.Event) realtime.Message {
	v := docstore.NewSharedEvent(e).AsWritten()
	return realtime.Message{Kind: realtime.KindEvent, Event: v.Event(), View: v}
}
