package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// gqlWS is a graphql-transport-ws connection to a live Basalt.
type gqlWS struct {
	t    *testing.T
	conn *websocket.Conn
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialGraphQL opens a connection as c's caller (the credential in the
// upgrade's Authorization header), with the extra headers, and
// initializes it. A refused handshake is returned as its HTTP answer.
func dialGraphQL(t *testing.T, c *client, headers ...string) (*gqlWS, *response) {
	t.Helper()
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
	if res != nil && res.Body != nil {
		defer func() { _ = res.Body.Close() }()
	}
	if err != nil {
		if res == nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return nil, &response{Status: res.StatusCode, Header: res.Header, Body: b}
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	ws := &gqlWS{t: t, conn: conn}
	ws.send(wsMessage{Type: "connection_init"})
	if m := ws.recv(); m.Type != "connection_ack" {
		t.Fatalf("got %+v, not connection_ack", m)
	}
	return ws, &response{Status: res.StatusCode, Header: res.Header}
}

func (ws *gqlWS) send(m wsMessage) {
	ws.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		ws.t.Fatal(err)
	}
	if err := ws.conn.Write(ws.t.Context(), websocket.MessageText, b); err != nil {
		ws.t.Fatal(err)
	}
}

// subscribe starts operation id.
func (ws *gqlWS) subscribe(id, query string) {
	ws.t.Helper()
	b, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		ws.t.Fatal(err)
	}
	ws.send(wsMessage{ID: id, Type: "subscribe", Payload: b})
}

// recv is the next message but pings, within 15 s.
func (ws *gqlWS) recv() wsMessage {
	ws.t.Helper()
	ctx, cancel := context.WithTimeout(ws.t.Context(), 15*time.Second)
	defer cancel()
	for {
		_, b, err := ws.conn.Read(ctx)
		if err != nil {
			ws.t.Fatal(err)
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			ws.t.Fatal(err)
		}
		if m.Type != "ping" {
			return m
		}
	}
}

// subscriptionOutcome subscribes with query as c's caller and answers as
// the REST route would: 200 when the subscription is open, else the
// status of its error's code. A query sent after the subscription tells
// that it opened: the server opens a subscription before it reads the
// next message.
func subscriptionOutcome(t *testing.T, c *client, query string) response {
	t.Helper()
	ws, res := dialGraphQL(t, c)
	if ws == nil {
		return *res
	}
	defer func() { _ = ws.conn.CloseNow() }()
	ws.subscribe("s", query)
	ws.subscribe("q", "{ __typename }")
	m := ws.recv()
	switch {
	case m.ID == "q" && m.Type == "next":
		return response{Status: 200, Header: res.Header}
	case m.ID == "s" && m.Type == "error":
		var errs []struct {
			Extensions struct{ Code string }
		}
		if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) == 0 {
			t.Fatalf("the error %s: %v", m.Payload, err)
		}
		status := map[string]int{"invalid": 400, "unauthenticated": 401, "forbidden": 403, "not_found": 404,
			"too_many_requests": 429, "unavailable": 503}[errs[0].Extensions.Code]
		if status == 0 {
			t.Fatalf("the subscription failed with %s", m.Payload)
		}
		return response{Status: status, Header: res.Header, Body: m.Payload}
	}
	t.Fatalf("got %s %s %s", m.ID, m.Type, m.Payload)
	return response{}
}

// TestGraphQLSubscriptions: a user's subscription over WebSocket, through
// the whole server (middleware and compression included, and the gateway
// of a split deployment), receives the events its rules admit as
// they are written, and none of the others.
func TestGraphQLSubscriptions(t *testing.T) {
	scenario := func(t *testing.T, admin *client) {
		admin.must(201, "POST", "/v1/collections", `{"name": "chats", "schema": {"type": "object", "properties": {
			"text": {"type": "string"}, "room": {"type": "string"}, "owner": {"type": "string"}}},
			"rules": {"list": "room = 'lobby' || owner = @auth.id", "get": "room = 'lobby' || owner = @auth.id"}}`)
		admin.must(201, "POST", "/v1/admin/accounts", `{"email": "sub@example.com", "password": "a long password of sub"}`)
		user := admin.anonymous().as(admin.login("sub@example.com", "a long password of sub").AccessToken)
		me := user.must(200, "GET", "/v1/auth/me", "").JSON(t)["id"].(string)

		ws, res := dialGraphQL(t, user, "Accept-Encoding", "gzip, deflate, br, zstd", "Origin", user.base)
		if ws == nil {
			t.Fatalf("the handshake: %d %s", res.Status, res.Body)
		}
		ws.subscribe("s", `subscription { chatsChanges(filter: {text: {contains: "hi"}}) { type document { text room } } }`)
		ws.subscribe("q", "{ __typename }")
		if m := ws.recv(); m.ID != "q" || m.Type != "next" {
			t.Fatalf("got %+v", m)
		}
		ws.recv() // complete of q
		for _, data := range []string{
			`{"text": "hi private", "room": "secret", "owner": "someone"}`,
			`{"text": "bye lobby", "room": "lobby"}`,
			`{"text": "hi lobby", "room": "lobby"}`,
			`{"text": "hi mine", "room": "secret", "owner": "` + me + `"}`,
		} {
			admin.must(201, "POST", "/v1/collections/chats/documents", data)
		}
		for _, want := range []string{
			`{"data":{"chatsChanges":{"type":"CREATED","document":{"text":"hi lobby","room":"lobby"}}}}`,
			`{"data":{"chatsChanges":{"type":"CREATED","document":{"text":"hi mine","room":"secret"}}}}`,
		} {
			if m := ws.recv(); m.ID != "s" || m.Type != "next" || string(m.Payload) != want {
				t.Fatalf("got %s %s %s, want %s", m.ID, m.Type, m.Payload, want)
			}
		}
	}
	forEachEngine(t, func(t *testing.T, engine string) {
		admin, _ := startApp(t, engine)
		scenario(t, admin)
	})
	t.Run("split", func(t *testing.T) {
		gw := serveSplitApp(t)
		scenario(t, gw.as(gw.login(adminEmail, adminPassword).AccessToken))
	})
}

// TestGraphQLWSClient subscribes with graphql-ws, the graphql-transport-ws
// client of Apollo Client, urql and Relay (npm, in Node.js), its
// credential in connection_init as a browser sends it: the events its
// rules admit reach it, in order. A revoked credential then closes its
// connection with 4403, which the library reports as such.
func TestGraphQLWSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js runs graphql-ws (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join("graphqlhttp", "node_modules", "graphql-ws")); err != nil {
		t.Fatal("graphql-ws is not installed: run make test, or npm ci in e2e/graphqlhttp")
	}
	admin, _ := startApp(t, "sqlite")
	admin.must(201, "POST", "/v1/collections", `{"name": "chats", "schema": {"type": "object", "properties": {
		"text": {"type": "string"}, "room": {"type": "string"}}}, "rules": {"list": "room = 'lobby'", "get": "room = 'lobby'"}}`)
	admin.must(201, "POST", "/v1/admin/accounts", `{"email": "ws@example.com", "password": "a long password of ws"}`)
	user := admin.login("ws@example.com", "a long password of ws")

	run := func(query string, count int) (lines <-chan string, wait func() error) {
		return startNode(t, exec.CommandContext(t.Context(), node, "subscribe.mjs",
			"ws"+strings.TrimPrefix(admin.base, "http")+"/graphql", user.AccessToken, query, strconv.Itoa(count)))
	}
	line := func(lines <-chan string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("graphql-ws ended early")
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("nothing from graphql-ws in 20 s")
		}
		return ""
	}

	lines, wait := run(`subscription { chatsChanges { type document { text } } }`, 2)
	if l := line(lines); l != `{"ready":true}` {
		t.Fatalf("got %s", l)
	}
	for _, data := range []string{`{"text": "one", "room": "lobby"}`, `{"text": "hidden", "room": "back"}`, `{"text": "two", "room": "lobby"}`} {
		admin.must(201, "POST", "/v1/collections/chats/documents", data)
	}
	for _, want := range []string{
		`{"data":{"chatsChanges":{"type":"CREATED","document":{"text":"one"}}}}`,
		`{"data":{"chatsChanges":{"type":"CREATED","document":{"text":"two"}}}}`,
	} {
		if l := line(lines); l != want {
			t.Fatalf("got %s, want %s", l, want)
		}
	}
	if err := wait(); err != nil {
		t.Fatalf("graphql-ws: %v", err)
	}

	lines, wait = run(`subscription { chatsChanges { type } }`, 1)
	if l := line(lines); l != `{"ready":true}` {
		t.Fatalf("got %s", l)
	}
	admin.anonymous().as(user.AccessToken).must(204, "POST", "/v1/auth/logout", "")
	if l := line(lines); !strings.Contains(l, `"code":4403`) {
		t.Fatalf("after the logout: %s", l)
	}
	if err := wait(); err == nil {
		t.Fatal("graphql-ws exited without an error")
	}
}

// TestGraphQLDocsSubscriptionExample runs the graphql-ws example of
// docs/graphql.md as written, against a live Basalt (its address for
// localhost:8080, ACCESS an access token): it prints each change of
// articles as it comes.
func TestGraphQLDocsSubscriptionExample(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js runs the example (apt-get install nodejs npm)")
	}
	page, err := os.ReadFile("../docs/graphql.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(page), "\n```js\n")
	example, _, closed := strings.Cut(rest, "\n```\n")
	if !ok || !closed {
		t.Fatal("docs/graphql.md has no js example")
	}
	admin, _ := startApp(t, "sqlite")
	admin.must(201, "POST", "/v1/collections", `{"name": "articles", "rules": {"list": "", "get": ""},
		"schema": {"type": "object", "properties": {"title": {"type": "string"}}}}`)
	script := filepath.Join("graphqlhttp", "docs-example.test.mjs") // beside node_modules
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(example, "localhost:8080", strings.TrimPrefix(admin.base, "http://"))), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(script) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Base(script))
	cmd.Env = append(os.Environ(), "ACCESS="+admin.token)
	lines, wait := startNode(t, cmd)
	defer func() { cancel(); _ = wait() }()
	// The example subscribes when it starts: articles are written until
	// one comes back, then each one written after it comes in order.
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var first string
	for n := 0; first == ""; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the example ended")
			}
			first = l
		case <-tick.C:
			n++
			admin.must(201, "POST", "/v1/collections/articles/documents", `{"title": "early `+strconv.Itoa(n)+`"}`)
		case <-deadline:
			t.Fatal("the example printed nothing in 20 s")
		}
	}
	if !strings.HasPrefix(first, "CREATED early ") {
		t.Fatalf("the example printed %q", first)
	}
	admin.must(201, "POST", "/v1/collections/articles/documents", `{"title": "Engines"}`)
	for {
		select {
		case l := <-lines:
			if l == "CREATED Engines" {
				return
			}
			if !strings.HasPrefix(l, "CREATED early ") {
				t.Fatalf("the example printed %q", l)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the example did not print the article")
		}
	}
}

// startNode starts cmd, a Node.js script, in graphqlhttp (beside its
// packages) and returns the lines it prints, as they come (the channel
// closes when its output does), and what waits for its end.
func startNode(t *testing.T, cmd *exec.Cmd) (lines <-chan string, wait func() error) {
	t.Helper()
	cmd.Dir = "graphqlhttp"
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case ch <- sc.Text():
			case <-t.Context().Done(): // the test stopped reading
				return
			}
		}
	}()
	return ch, cmd.Wait
}
