package graphqlapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/realtime"
	"github.com/basaltdev/basalt/internal/storage/postgres"
)

// revocable is tokens whose alice-token can be revoked.
type revocable struct{ revoked *atomic.Bool }

func (r revocable) Authenticate(ctx context.Context, credential string) (auth.Principal, error) {
	if credential == "alice-token" && r.revoked.Load() {
		return auth.Principal{}, fault.New(fault.Unauthenticated, "test", "the session was revoked")
	}
	return tokens{}.Authenticate(ctx, credential)
}

func (revocable) Recognize(string) (auth.Principal, bool) { return auth.Principal{}, false }

// wsServer is the fixture's API with subscriptions, served over a real
// listener, with its realtime hub running.
type wsServer struct {
	*fixture
	api     *API
	url     string
	revoked atomic.Bool
}

func newWSServer(t *testing.T, engine string, opts Options) *wsServer {
	t.Helper()
	f := newFixtureOn(t, engine)
	ws := &wsServer{fixture: f}
	hub := startHub(t, f.log, f.news, nil)
	opts.Authenticator, opts.Realtime, opts.Subscriber = revocable{&ws.revoked}, hub, f.svc
	a, err := New(Services{Documents: f.svc, Accounts: nil}, f.svc, opts)
	if err != nil {
		t.Fatal(err)
	}
	ws.api = a
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	ws.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"
	t.Cleanup(func() {
		a.Drain()
		srv.Close()
	})
	return ws
}

// startHub runs a realtime hub over log until the test ends, with what
// the event relay does for it: number the events committed (on
// PostgreSQL) after each notice of written, then wake the hub.
func startHub(t *testing.T, log eventbus.Log, written *eventbus.Signal, onEvent func(eventbus.Event)) *realtime.Hub {
	t.Helper()
	news := &eventbus.Signal{}
	hub, err := realtime.New(realtime.Options{Log: log, News: news, OnEvent: onEvent, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, numbered := make(chan error, 1), make(chan struct{})
	go func() { done <- hub.Run(ctx) }()
	go func() {
		defer close(numbered)
		for {
			next := written.C()
			for {
				n, err := log.Sequence(ctx, 1000)
				if err != nil || n < 1000 {
					break
				}
			}
			news.Notify()
			select {
			case <-ctx.Done():
				return
			case <-next:
			case <-time.After(time.Second):
			}
		}
	}()
	// Started: the hub knows the log's position (a subscription waits for
	// that), and what commits from now on reaches it.
	sub, err := hub.Subscribe(t.Context(), realtime.Request{Collection: "started", Deliverer: nothing{}})
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	t.Cleanup(func() {
		hub.Drain()
		cancel()
		<-numbered
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
	})
	return hub
}

// wsClient is one graphql-transport-ws connection of a test.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dial connects with the subprotocol and the headers (name, value, …).
func (ws *wsServer) dial(t *testing.T, headers ...string) *wsClient {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, ws.url, &websocket.DialOptions{Subprotocols: []string{wsProtocol}, HTTPHeader: h})
	if res != nil && res.Body != nil {
		_ = res.Body.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("Sec-WebSocket-Protocol") != wsProtocol {
		t.Fatalf("subprotocol %q", res.Header.Get("Sec-WebSocket-Protocol"))
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &wsClient{t: t, conn: conn}
}

// init sends connection_init with payload (none when "") and expects the
// ack.
func (c *wsClient) init(payload string) {
	c.t.Helper()
	c.sendRaw(`{"type":"connection_init"` + map[bool]string{true: "", false: `,"payload":` + payload}[payload == ""] + `}`)
	if m := c.recv(); m.Type != "connection_ack" {
		c.t.Fatalf("got %+v, not connection_ack", m)
	}
}

func (c *wsClient) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// subscribe starts operation id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

// recv is the next message (pings answered), failing after 10 s.
func (c *wsClient) recv() wsMessage {
	c.t.Helper()
	m, err := c.read(10 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

func (c *wsClient) read(wait time.Duration) (wsMessage, error) {
	ctx, cancel := context.WithTimeout(c.t.Context(), wait)
	defer cancel()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return wsMessage{}, err
		}
		if m.Type == "ping" {
			continue
		}
		return m, nil
	}
}

// next is the payload of the next message, which must be a next of id.
func (c *wsClient) next(id string) string {
	c.t.Helper()
	m := c.recv()
	if m.Type != "next" || m.ID != id {
		c.t.Fatalf("got %s %s %s, not next of %s", m.Type, m.ID, m.Payload, id)
	}
	return string(m.Payload)
}

// closed waits for the server to close the connection, and returns its
// close code.
func (c *wsClient) closed() websocket.StatusCode {
	c.t.Helper()
	for {
		m, err := c.read(10 * time.Second)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				c.t.Fatal("the connection stays open")
			}
			return websocket.CloseStatus(err)
		}
		c.t.Logf("before the close: %s %s", m.Type, m.Payload)
	}
}

func (f *fixture) write(t *testing.T, id, data string) {
	t.Helper()
	var d docstore.Data
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateDocument(f.admin, docstore.CreateRequest{Collection: "notes", ID: id, Data: d}); err != nil {
		t.Fatal(err)
	}
}

func TestSubscriptionRules(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ws := newWSServer(t, engine, Options{})
			alice := ws.dial(t, "Authorization", "Bearer alice-token")
			alice.init("")
			alice.subscribe("a", `subscription { notesChanges { type documentId document { id title owner } } }`, nil)
			anon := ws.dial(t)
			anon.init("")
			anon.subscribe("p", `subscription { notesChanges(filter: {score: {gt: 10}}) { type document { title } } }`, nil)
			admin := ws.dial(t)
			admin.init(`{"authorization": "Bearer admin-token"}`)
			admin.subscribe("s", `subscription Secret { notesChanges { type document { title secret } } }`, nil)
			// A subscription is open before the server reads the next
			// message: once a query sent after it is answered, it is.
			for _, c := range []*wsClient{alice, anon, admin} {
				c.subscribe("q", `{ __typename }`, nil)
				if got := c.next("q"); got != `{"data":{"__typename":"Query"}}` {
					t.Fatalf("query over WebSocket: %s", got)
				}
				if m := c.recv(); m.Type != "complete" || m.ID != "q" {
					t.Fatalf("got %+v, not complete", m)
				}
			}

			ws.write(t, "w1", `{"title": "bob private", "score": 50, "owner": "bob", "public": false, "secret": "x1"}`)
			ws.write(t, "w2", `{"title": "alice private", "score": 5, "owner": "alice", "public": false, "secret": "x2"}`)
			ws.write(t, "w3", `{"title": "bob public", "score": 60, "owner": "bob", "public": true, "secret": "x3"}`)

			// alice: her own and the public one, never bob's private note.
			for _, want := range []string{
				`{"data":{"notesChanges":{"type":"CREATED","documentId":"w2","document":{"id":"w2","title":"alice private","owner":"alice"}}}}`,
				`{"data":{"notesChanges":{"type":"CREATED","documentId":"w3","document":{"id":"w3","title":"bob public","owner":"bob"}}}}`,
			} {
				if got := alice.next("a"); got != want {
					t.Fatalf("alice got %s, want %s", got, want)
				}
			}
			// Anonymous callers: public notes, and only those the filter admits.
			if got, want := anon.next("p"), `{"data":{"notesChanges":{"type":"CREATED","document":{"title":"bob public"}}}}`; got != want {
				t.Fatalf("anonymous got %s, want %s", got, want)
			}
			// The admin: every note, the hidden field included.
			for _, want := range []string{"bob private\",\"secret\":\"x1", "alice private\",\"secret\":\"x2", "bob public\",\"secret\":\"x3"} {
				if got := admin.next("s"); !strings.Contains(got, want) {
					t.Fatalf("admin got %s, want %s", got, want)
				}
			}

			// Deletes reach callers the subscription showed the note to.
			for _, id := range []string{"w1", "w2"} {
				if err := ws.svc.DeleteDocument(ws.admin, docstore.DeleteRequest{Collection: "notes", ID: id}); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := alice.next("a"), `{"data":{"notesChanges":{"type":"DELETED","documentId":"w2","document":null}}}`; got != want {
				t.Fatalf("alice got %s, want %s", got, want)
			}

			// A hidden field is not a field of alice's change type.
			alice.subscribe("h", `subscription { notesChanges { document { secret } } }`, nil)
			if m := alice.recv(); m.Type != "error" || m.ID != "h" || !strings.Contains(string(m.Payload), `Cannot query field \"secret\"`) {
				t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
			}

			// When the rules change, the events after the change are
			// decided under the new ones: alice may read only public notes
			// now, so her own private note no longer reaches her.
			if _, err := ws.svc.PatchCollection(ws.admin, "notes", docstore.Data{"rules": map[string]any{"get": "public = true"}}, nil); err != nil {
				t.Fatal(err)
			}
			ws.write(t, "w4", `{"title": "alice private 2", "score": 70, "owner": "alice", "public": false}`)
			ws.write(t, "w5", `{"title": "public 5", "score": 80, "owner": "bob", "public": true}`)
			if got := alice.next("a"); !strings.Contains(got, `"documentId":"w5"`) {
				t.Fatalf("alice got %s, want w5 only", got)
			}
		})
	}
}

// roundTrip sends a query as operation id and returns its one answer,
// checking that complete follows it.
func (c *wsClient) roundTrip(id, query string) string {
	c.t.Helper()
	c.subscribe(id, query, nil)
	got := c.next(id)
	if m := c.recv(); m.Type != "complete" || m.ID != id {
		c.t.Fatalf("got %s %s %s, not complete of %s", m.Type, m.ID, m.Payload, id)
	}
	return got
}

func TestWebSocketProtocol(t *testing.T) {
	ws := newWSServer(t, "sqlite", Options{InitTimeout: 300 * time.Millisecond, MaxOperations: 3})
	closes := []struct {
		name     string
		messages []string
		code     websocket.StatusCode
	}{
		{"subscribe before the ack", []string{`{"id":"1","type":"subscribe","payload":{"query":"{ __typename }"}}`}, closeUnauthorized},
		{"a second connection_init", []string{`{"type":"connection_init"}`, `{"type":"connection_init"}`}, closeTooManyInits},
		{"no connection_init", nil, closeInitTimeout},
		{"not JSON", []string{`{"type":"connection_init"}`, `{"type"`}, closeBadRequest},
		{"an unknown type", []string{`{"type":"connection_init"}`, `{"type":"start","id":"1"}`}, closeBadRequest},
		{"subscribe without id", []string{`{"type":"connection_init"}`, `{"type":"subscribe","payload":{"query":"{ __typename }"}}`}, closeBadRequest},
		{"a payload that is not a request", []string{`{"type":"connection_init"}`, `{"id":"1","type":"subscribe","payload":[1]}`}, closeBadRequest},
		{"an unknown credential", []string{`{"type":"connection_init","payload":{"Authorization":"Bearer nobody"}}`}, closeForbidden},
		{"a credential that is not a string", []string{`{"type":"connection_init","payload":{"authorization":1}}`}, closeBadRequest},
		{"an id in use", []string{`{"type":"connection_init"}`,
			`{"id":"1","type":"subscribe","payload":{"query":"subscription { notesChanges { type } }"}}`,
			`{"id":"1","type":"subscribe","payload":{"query":"subscription { notesChanges { type } }"}}`}, closeSubscriberExists},
	}
	for _, tc := range closes {
		t.Run(tc.name, func(t *testing.T) {
			c := ws.dial(t)
			for _, m := range tc.messages {
				c.sendRaw(m)
			}
			if got := c.closed(); got != tc.code {
				t.Fatalf("closed with %d, want %d", got, tc.code)
			}
		})
	}
	t.Run("binary messages", func(t *testing.T) {
		c := ws.dial(t)
		if err := c.conn.Write(t.Context(), websocket.MessageBinary, []byte(`{"type":"connection_init"}`)); err != nil {
			t.Fatal(err)
		}
		if got := c.closed(); got != closeBadRequest {
			t.Fatalf("closed with %d", got)
		}
	})

	t.Run("an id used again once its operation ended", func(t *testing.T) {
		c := ws.dial(t)
		c.init("")
		for range 3 {
			if got := c.roundTrip("same", "{ __typename }"); got != `{"data":{"__typename":"Query"}}` {
				t.Fatal(got)
			}
		}
	})

	t.Run("ping", func(t *testing.T) {
		c := ws.dial(t)
		c.init("null")
		c.sendRaw(`{"type":"ping","payload":{"at":1}}`)
		if m := c.recv(); m.Type != "pong" {
			t.Fatalf("got %+v", m)
		}
	})

	t.Run("operations", func(t *testing.T) {
		c := ws.dial(t, "Authorization", "Bearer alice-token")
		c.init("{}")
		// Validation errors end the operation with an error message.
		c.subscribe("v", `{ nope }`, nil)
		if m := c.recv(); m.Type != "error" || m.ID != "v" || !strings.Contains(string(m.Payload), `"code":"invalid"`) {
			t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
		}
		c.subscribe("after", `subscription { notesChanges(after: "x") { type } }`, nil)
		if m := c.recv(); m.Type != "error" || !strings.Contains(string(m.Payload), "after must be the position") {
			t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
		}
		c.subscribe("gone", `subscription { notesByIdChanges(id: "n2") { type } }`, nil) // bob's private note
		if m := c.recv(); m.Type != "error" || !strings.Contains(string(m.Payload), `"code":"not_found"`) {
			t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
		}
		// A subscription sees the mutation sent after it on the
		// connection; the mutation answers once.
		c.subscribe("doc", `subscription { notesByIdChanges(id: "n1") { type version document { title } } }`, nil)
		c.subscribe("all", `subscription { notesChanges { type position documentId } }`, nil)
		c.subscribe("m", `mutation { notesPatch(id: "n1", patch: {title: "alice 1b"}) { version } }`, nil)
		got := map[string]string{}
		for range 4 { // the answers of three operations, and the mutation's complete
			m := c.recv()
			got[m.ID+" "+m.Type] = string(m.Payload)
		}
		if _, ok := got["m complete"]; !ok || got["m next"] != `{"data":{"notesPatch":{"version":2}}}` {
			t.Fatalf("mutation: %v", got)
		}
		got["doc"], got["all"] = got["doc next"], got["all next"]
		if want := `{"data":{"notesByIdChanges":{"type":"PATCHED","version":2,"document":{"title":"alice 1b"}}}}`; got["doc"] != want {
			t.Fatalf("document subscription: %s", got["doc"])
		}
		var ev struct {
			Data struct {
				NotesChanges struct{ Position, DocumentID string }
			}
		}
		if err := json.Unmarshal([]byte(got["all"]), &ev); err != nil || ev.Data.NotesChanges.DocumentID != "n1" {
			t.Fatalf("collection subscription: %+v, %v", ev, err)
		}
		// Past MaxOperations (3), an operation is refused.
		c.subscribe("more", `subscription { notesChanges { type } }`, nil)
		c.subscribe("over", `subscription { notesChanges { type } }`, nil)
		if m := c.recv(); m.Type != "error" || m.ID != "over" || !strings.Contains(string(m.Payload), "too_many_requests") {
			t.Fatalf("got %s %s %s", m.Type, m.ID, m.Payload)
		}
		// complete ends a subscription: nothing more comes for it.
		for _, id := range []string{"all", "more"} {
			c.sendRaw(`{"id":"` + id + `","type":"complete"}`)
		}
		ws.write(t, "c1", `{"title": "c1", "owner": "alice"}`)
		ws.write(t, "c2", `{"title": "c2", "owner": "alice"}`)
		// Resuming after the patch's position brings exactly what came
		// after it, in order.
		c.subscribe("resume", `subscription($after: String) { notesChanges(after: $after) { documentId } }`, map[string]any{"after": ev.Data.NotesChanges.Position})
		for _, want := range []string{"c1", "c2"} {
			if got := c.next("resume"); !strings.Contains(got, `"`+want+`"`) {
				t.Fatalf("resumed: %s, want %s", got, want)
			}
		}
	})

	t.Run("revocation", func(t *testing.T) {
		c := ws.dial(t)
		c.init(`{"authorization": "Bearer alice-token"}`)
		c.subscribe("a", `subscription { notesChanges { type } }`, nil)
		ws.revoked.Store(true)
		defer ws.revoked.Store(false)
		if got := c.closed(); got != closeForbidden {
			t.Fatalf("closed with %d", got)
		}
	})

	t.Run("a gap", func(t *testing.T) {
		// Resuming after events that have left the log: a GAP first, at
		// the newest position, then what comes.
		if _, err := ws.log.TrimEvents(t.Context(), time.Now().Add(time.Hour), 3); err != nil {
			t.Fatal(err)
		}
		_, newest, err := ws.log.LogBounds(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c := ws.dial(t, "Authorization", "Bearer admin-token")
		c.init("")
		c.subscribe("g", `subscription { notesChanges(after: "1") { type position documentId } }`, nil)
		if got, want := c.next("g"), `{"data":{"notesChanges":{"type":"GAP","position":"`+strconv.FormatInt(newest, 10)+`","documentId":null}}}`; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
		ws.write(t, "g1", `{"title": "after the gap"}`)
		if got := c.next("g"); !strings.Contains(got, `"type":"CREATED"`) || !strings.Contains(got, `"documentId":"g1"`) {
			t.Fatalf("got %s", got)
		}
	})

	t.Run("drain", func(t *testing.T) {
		ws := newWSServer(t, "sqlite", Options{})
		c := ws.dial(t)
		c.init("")
		c.subscribe("a", `subscription { notesChanges { type } }`, nil)
		c.roundTrip("q", "{ __typename }")
		go ws.api.Drain()
		if got := c.closed(); got != websocket.StatusGoingAway {
			t.Fatalf("closed with %d", got)
		}
	})
}

func TestWebSocketHandshake(t *testing.T) {
	ws := newWSServer(t, "sqlite", Options{Origins: []string{"https://app.example"}, MaxConnectionsPerIP: 2})
	base := "http" + strings.TrimPrefix(ws.url, "ws")
	handshake := func(headers ...string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), "GET", base, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Protocol", wsProtocol)
		for i := 0; i+1 < len(headers); i += 2 {
			if headers[i+1] == "" {
				req.Header.Del(headers[i])
			} else {
				req.Header.Set(headers[i], headers[i+1])
			}
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		var body strings.Builder
		if res.StatusCode != http.StatusSwitchingProtocols {
			b := make([]byte, 4096)
			n, _ := res.Body.Read(b)
			body.Write(b[:n])
		}
		return res.StatusCode, body.String()
	}
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
		body    string
	}{
		{"the legacy subprotocol", []string{"Sec-WebSocket-Protocol", "graphql-ws"}, 400, "graphql-transport-ws"},
		{"no Connection: Upgrade", []string{"Connection", "keep-alive"}, 400, "Connection: Upgrade"},
		{"another version", []string{"Sec-WebSocket-Version", "8"}, 426, "version"},
		{"a bad key", []string{"Sec-WebSocket-Key", "short"}, 400, "Sec-WebSocket-Key"},
		{"a foreign origin", []string{"Origin", "https://evil.example"}, 403, "origin"},
		{"an unknown credential", []string{"Authorization", "Bearer nobody"}, 401, "unauthenticated"},
		{"an allowed origin", []string{"Origin", "https://app.example"}, 101, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := handshake(tc.headers...)
			if status != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("%d %s", status, body)
			}
			if status != 101 && !strings.Contains(body, `"errors"`) {
				t.Fatalf("not a GraphQL answer: %s", body)
			}
		})
	}
	// Past MaxConnectionsPerIP (2) open connections, one is refused
	// (once the connection of the allowed origin, closed, has ended).
	tick, deadline := time.NewTicker(10*time.Millisecond), time.After(10*time.Second)
	defer tick.Stop()
	for counted := true; counted; {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the closed connection stays counted")
		}
		ws.api.conns.mu.Lock()
		counted = len(ws.api.conns.perIP) > 0
		ws.api.conns.mu.Unlock()
	}
	ws.dial(t).init("")
	ws.dial(t).init("")
	if status, body := handshake(); status != 429 || !strings.Contains(body, "too_many_requests") {
		t.Fatalf("%d %s", status, body)
	}
	// Over HTTP, a subscription is refused before it runs.
	a := serve(t, ws.api, "POST", "/graphql", `{"query": "subscription { notesChanges { type } }"}`,
		"Content-Type", "application/json", "Accept", mediaGraphQLResponse)
	if a.status != 400 || !strings.Contains(a.body, "WebSocket") {
		t.Fatalf("%d %s", a.status, a.body)
	}
}

// nothing is a realtime.Deliverer that delivers nothing.
type nothing struct{}

func (nothing) DeliverShared(context.Context, *docstore.SharedEvent) (docstore.Decision, error) {
	return docstore.Decision{}, nil
}

// TestSchemaFollowsOtherProcesses: a collection changed through another
// process sharing the database changes the schema here as soon as the
// realtime hub reads its event, however long the document service would
// otherwise trust its copy of the definition (an hour here).
func TestSchemaFollowsOtherProcesses(t *testing.T) {
	f := newFixtureOn(t, "postgres")
	here, err := postgres.Open(t.Context(), postgres.Options{URL: f.url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = here.Close() })
	written := &eventbus.Signal{}
	svc, err := docstore.NewService(here, docstore.Options{CursorKey: []byte(strings.Repeat("k", 32)), DefinitionTTL: time.Hour, Committed: written.Notify})
	if err != nil {
		t.Fatal(err)
	}
	startHub(t, here, f.news, func(e eventbus.Event) {
		if e.Type.IsCollection() {
			svc.DefinitionChanged(e.Collection)
		}
	})
	a, err := New(Services{Documents: svc}, svc, Options{Authenticator: tokens{}})
	if err != nil {
		t.Fatal(err)
	}
	ask := func() answer {
		return serve(t, a, "POST", "/graphql", `{"query": "{ notes(first: 1) { nodes { mood } } }"}`, "Content-Type", "application/json",
			"Accept", mediaGraphQLResponse, "Authorization", "Bearer admin-token")
	}
	if got := ask(); got.status != 400 {
		t.Fatalf("a field the schema lacks: %d %s", got.status, got.body)
	}
	// The other process (the fixture's service) adds the field.
	f.patchNotes(t, "mood", map[string]any{"type": "string"}, nil)
	tick, deadline := time.NewTicker(20*time.Millisecond), time.After(10*time.Second)
	defer tick.Stop()
	for {
		got := ask()
		if got.status == 200 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the schema here still lacks the field: %d %s", got.status, got.body)
		}
	}
}
