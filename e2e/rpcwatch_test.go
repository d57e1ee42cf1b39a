package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// TestWatchDocumentsOverGRPC: WatchDocuments delivers a collection's
// changes as the caller may see them (hidden fields removed), resumes
// after a position with exactly the events missed, and ends a stream
// whose session is revoked, on both engines.
func TestWatchDocumentsOverGRPC(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		c, _ := startApp(t, engine)
		c.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object","properties":{"title":{"type":"string"},"secret":{"type":"string"}}},
			"rules":{"list":"","get":""},"hiddenFields":["secret"]}`)
		var token string
		hc := &http.Client{Transport: bearerTransport{rt: h2cClient(t).Transport, token: &token}}
		docs := basaltv1connect.NewDocumentServiceClient(connect.NewClient(connecthttp.NewTransport(hc, c.base, connecthttp.WithGRPC())))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		watch := func(req *basaltv1.WatchDocumentsRequest) basaltv1connect.DocumentServiceWatchDocumentsClientStream {
			t.Helper()
			s, err := docs.WatchDocuments(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		next := func(s basaltv1connect.DocumentServiceWatchDocumentsClientStream) *basaltv1.ChangeEvent {
			t.Helper()
			m, err := s.Receive()
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if m.GetEvent() == nil {
				t.Fatalf("got %v, want an event", m)
			}
			return m.GetEvent()
		}

		// From the start of the log: the collection's creation, then the
		// write, whenever the server opens the stream.
		zero := int64(0)
		live := watch(&basaltv1.WatchDocumentsRequest{Collection: "notes", After: &zero})
		c.must(201, "POST", "/v1/collections/notes/documents?id=n1", `{"title":"first","secret":"s1"}`)
		e := next(live)
		for e.GetDocumentId() == "" { // collection events
			e = next(live)
		}
		var payload map[string]any
		if err := json.Unmarshal(e.GetPayload(), &payload); err != nil {
			t.Fatal(err)
		}
		data, _ := payload["data"].(map[string]any)
		if e.GetType() != "document.created" || e.GetDocumentId() != "n1" || e.GetPosition() <= 0 || data["title"] != "first" || data["secret"] != nil {
			t.Fatalf("event %v with payload %s", e, e.GetPayload())
		}
		_ = live.Close()

		// Two writes while no stream is open: a resumed stream gets both,
		// in order, and nothing before them.
		c.must(201, "POST", "/v1/collections/notes/documents?id=n2", `{"title":"second"}`)
		c.must(201, "POST", "/v1/collections/notes/documents?id=n3", `{"title":"third"}`)
		after := e.GetPosition()
		resumed := watch(&basaltv1.WatchDocumentsRequest{Collection: "notes", After: &after})
		if a, b := next(resumed), next(resumed); a.GetDocumentId() != "n2" || b.GetDocumentId() != "n3" || b.GetPosition() <= a.GetPosition() {
			t.Fatalf("resumed with %v then %v", a, b)
		}

		// A user's stream ends when the session is revoked.
		tk := c.anonymous().signUp("watcher@example.com", "watcher password")
		token = tk.AccessToken
		mine := watch(&basaltv1.WatchDocumentsRequest{Collection: "notes"})
		token = ""
		c.must(204, "DELETE", "/v1/admin/sessions/"+tk.Session.ID, "")
		start := time.Now()
		for {
			m, err := mine.Receive()
			if err == nil {
				if m.GetEvent() == nil {
					t.Fatalf("got %v", m)
				}
				continue
			}
			if got := fault.KindOf(rpcfault.Fault(err)); got != fault.Unauthenticated {
				t.Fatalf("the stream of a revoked session ended with %v (%s)", err, got)
			}
			break
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the stream of a revoked session ended after %s", d)
		}
	})
}
