package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
)

// sseMessage is one Server-Sent Events message (comments left out).
type sseMessage struct {
	ID, Event, Data string
}

// event decodes the data of an event message: the change event.
func (m sseMessage) event(t *testing.T) changeEvent {
	t.Helper()
	var e changeEvent
	if err := json.Unmarshal([]byte(m.Data), &e); err != nil {
		t.Fatalf("event data is not a change event: %v\n%s", err, m.Data)
	}
	return e
}

// changeEvent is the envelope of an event message.
type changeEvent struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Collection string          `json:"collection"`
	DocumentID string          `json:"documentId"`
	Version    int64           `json:"version"`
	Position   int64           `json:"position"`
	Payload    json.RawMessage `json:"payload"`
}

// sseStream is an open event stream read by a goroutine of its own, which
// ends when the stream ends or the test does.
type sseStream struct {
	t        *testing.T
	res      *http.Response
	messages chan sseMessage // closed at the end of the stream
	cancel   context.CancelFunc
	// gate, when not nil, holds the reader back until it is closed: the
	// stream's bytes wait in the sockets.
	gate chan struct{}
}

// openStream opens GET path as an event stream with token as the bearer
// credential and headers as name, value pairs; it fails the test unless
// the answer is 200 text/event-stream.
func openStream(t *testing.T, base, path, token string, headers ...string) *sseStream {
	t.Helper()
	s, status, body := tryStream(t, base, path, token, nil, headers...)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200\n%s", path, status, body)
	}
	return s
}

// tryStream opens GET path; when the answer is not 200 it returns its
// status and body, and no stream.
func tryStream(t *testing.T, base, path, token string, gate chan struct{}, headers ...string) (*sseStream, int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := newRequest(ctx, "GET", base+path, "", token, headers...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	res, err := (&http.Client{}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK {
		defer cancel()
		defer res.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		return nil, res.StatusCode, b.String()
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" || res.Header.Get("Content-Encoding") != "" {
		cancel()
		_ = res.Body.Close()
		t.Fatalf("GET %s: Content-Type %q, Content-Encoding %q", path, ct, res.Header.Get("Content-Encoding"))
	}
	s := &sseStream{t: t, res: res, messages: make(chan sseMessage, 1024), cancel: cancel, gate: gate}
	go s.read()
	t.Cleanup(s.close)
	return s, res.StatusCode, ""
}

func (s *sseStream) read() {
	defer close(s.messages)
	if s.gate != nil {
		<-s.gate
	}
	sc := bufio.NewScanner(s.res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var m sseMessage
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if m.Event != "" || m.Data != "" {
				s.messages <- m
			}
			m = sseMessage{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			m.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			m.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			m.Data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.res.Body.Close()
}

// next returns the next message, failing the test after 10 s or at the
// end of the stream.
func (s *sseStream) next() sseMessage {
	s.t.Helper()
	select {
	case m, ok := <-s.messages:
		if !ok {
			s.t.Fatal("the stream ended")
		}
		return m
	case <-time.After(10 * time.Second):
		s.t.Fatal("no message within 10s")
	}
	return sseMessage{}
}

// nextEvent returns the next message, which must be an event of type typ
// about document id.
func (s *sseStream) nextEvent(typ, id string) changeEvent {
	s.t.Helper()
	m := s.next()
	e := m.event(s.t)
	if m.Event != typ || e.Type != typ || e.DocumentID != id || m.ID != fmt.Sprint(e.Position) {
		s.t.Fatalf("got %s %s (id %s, position %d), want %s %s\n%.300s", m.Event, e.DocumentID, m.ID, e.Position, typ, id, m.Data)
	}
	return e
}

// ended waits for the end of the stream.
func (s *sseStream) ended() {
	s.t.Helper()
	select {
	case m, ok := <-s.messages:
		if ok {
			s.t.Fatalf("got %+v, want the end of the stream", m)
		}
	case <-time.After(10 * time.Second):
		s.t.Fatal("the stream did not end within 10s")
	}
}

const realtimePassword = "realtime test password"

// TestRealtime runs the realtime scenarios on both engines.
func TestRealtime(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		admin, _ := startApp(t, engine)
		t.Run("RulesAndHiddenFields", func(t *testing.T) { realtimeRules(t, admin) })
		t.Run("Resume", func(t *testing.T) { realtimeResume(t, admin) })
		t.Run("DocumentStream", func(t *testing.T) { realtimeDocumentStream(t, admin) })
		t.Run("RevokedSession", func(t *testing.T) { realtimeRevoked(t, admin) })
		t.Run("BadRequests", func(t *testing.T) { realtimeBadRequests(t, admin) })
	})
}

// realtimeRules: each user receives the events of the documents the get
// rule lets them see, without hidden fields, also after the rules change
// while their streams are open.
func realtimeRules(t *testing.T, admin *client) {
	admin.must(201, "POST", "/v1/collections", `{"name":"notes",
		"schema":{"type":"object","properties":{"owner":{"type":"string"},"title":{"type":"string"},"secret":{"type":"string"}}},
		"rules":{"list":"@auth.id != null","get":"owner = @auth.id","create":"owner = @auth.id"},"hiddenFields":["secret"]}`)
	anon := admin.anonymous()
	alice := anon.as(anon.signUp("alice.rt@basalt.test", realtimePassword).AccessToken)
	bob := anon.as(anon.signUp("bob.rt@basalt.test", realtimePassword).AccessToken)
	aliceID, bobID := alice.accountID(), bob.accountID()

	// Anonymous callers are refused by the list rule; compressing
	// clients get the stream uncompressed, event by event.
	if _, status, body := tryStream(t, anon.base, "/v1/collections/notes/events", "", nil); status != 401 {
		t.Fatalf("anonymous subscription: %d %s", status, body)
	}
	sa := openStream(t, alice.base, "/v1/collections/notes/events", alice.token, "Accept-Encoding", "gzip")
	sb := openStream(t, bob.base, "/v1/collections/notes/events", bob.token)
	sadmin := openStream(t, admin.base, "/v1/collections/notes/events", admin.token)

	admin.must(201, "POST", "/v1/collections/notes/documents?id=a1", `{"owner":"`+aliceID+`","title":"alice's","secret":"s1"}`)
	bob.must(201, "POST", "/v1/collections/notes/documents?id=b1", `{"owner":"`+bobID+`","title":"bob's","secret":"s2"}`)

	e := sa.nextEvent("document.created", "a1")
	if strings.Contains(string(e.Payload), "secret") || !strings.Contains(string(e.Payload), "alice's") {
		t.Errorf("alice's event payload: %s", e.Payload)
	}
	sb.nextEvent("document.created", "b1") // not a1: the rule hides it
	for _, id := range []string{"a1", "b1"} {
		if e := sadmin.nextEvent("document.created", id); !strings.Contains(string(e.Payload), `"secret"`) {
			t.Errorf("admin's event lacks the hidden field: %s", e.Payload)
		}
	}

	// The rule changes while the streams are open: the events after the
	// change are decided under the new rule.
	admin.must(200, "PATCH", "/v1/collections/notes", `{"rules":{"get":"title = \"visible\""}}`)
	admin.must(200, "PATCH", "/v1/collections/notes/documents/a1", `{"title":"hidden now"}`)
	admin.must(201, "POST", "/v1/collections/notes/documents?id=v1", `{"owner":"nobody","title":"visible","secret":"s3"}`)
	// Alice's next event is v1: not the write to her own document that
	// the new rule hides, and no collection event.
	if e := sa.nextEvent("document.created", "v1"); strings.Contains(string(e.Payload), "s3") {
		t.Errorf("hidden field delivered: %s", e.Payload)
	}
	sb.nextEvent("document.created", "v1")
	// The admin gets everything, collection events included.
	for _, want := range []string{"collection.replaced", "document.patched", "document.created"} {
		if m := sadmin.next(); m.Event != want {
			t.Fatalf("admin got %s, want %s", m.Event, want)
		}
	}
	// Deletes reach the callers the stream showed the document to: not
	// a1's, which the rule hid since, to alice; v1's to both.
	admin.must(204, "DELETE", "/v1/collections/notes/documents/a1", "")
	admin.must(204, "DELETE", "/v1/collections/notes/documents/v1", "")
	sa.nextEvent("document.deleted", "v1")
	sb.nextEvent("document.deleted", "v1")

	// The list rule closes: the open streams of callers it refuses end.
	admin.must(200, "PATCH", "/v1/collections/notes", `{"rules":{"list":null}}`)
	for _, s := range []*sseStream{sa, sb} {
		if m := s.next(); m.Event != "revoked" {
			t.Fatalf("got %+v, want revoked", m)
		}
		s.ended()
	}

	// A deleted collection ends every stream, after its event.
	admin.must(204, "DELETE", "/v1/collections/notes", "")
	for _, want := range []string{"document.deleted", "document.deleted", "collection.replaced", "collection.deleted"} {
		if m := sadmin.next(); m.Event != want {
			t.Fatalf("admin got %s, want %s", m.Event, want)
		}
	}
	sadmin.ended()
}

// realtimeResume: a client that reconnects with Last-Event-ID receives
// exactly the events it missed, in order, then the live ones.
func realtimeResume(t *testing.T, admin *client) {
	admin.must(201, "POST", "/v1/collections", `{"name":"feed","schema":{"type":"object","properties":{"n":{"type":"integer"}}},"rules":{"list":"","get":""}}`)
	s := openStream(t, admin.base, "/v1/collections/feed/events", admin.token)
	admin.must(201, "POST", "/v1/collections/feed/documents?id=f1", `{"n":1}`)
	admin.must(201, "POST", "/v1/collections/feed/documents?id=f2", `{"n":2}`)
	s.nextEvent("document.created", "f1")
	last := s.nextEvent("document.created", "f2")
	s.close()
	for _, id := range []string{"f3", "f4"} {
		admin.must(201, "POST", "/v1/collections/feed/documents?id="+id, `{}`)
	}
	admin.must(200, "PATCH", "/v1/collections/feed/documents/f1", `{"n":10}`)
	// Anonymous callers may subscribe here (the rules are open).
	r := openStream(t, admin.base, "/v1/collections/feed/events", "", "Last-Event-ID", fmt.Sprint(last.Position))
	f3 := r.nextEvent("document.created", "f3")
	r.nextEvent("document.created", "f4")
	r.nextEvent("document.patched", "f1")
	admin.must(201, "POST", "/v1/collections/feed/documents?id=f5", `{}`)
	r.nextEvent("document.created", "f5")
	// And from the middle, with a filter.
	m := openStream(t, admin.base, "/v1/collections/feed/events?filter="+urlQuery("n >= 2"), "", "Last-Event-ID", fmt.Sprint(f3.Position))
	m.nextEvent("document.patched", "f1")
	admin.must(201, "POST", "/v1/collections/feed/documents?id=f6", `{"n":1}`)
	admin.must(201, "POST", "/v1/collections/feed/documents?id=f7", `{"n":7}`)
	m.nextEvent("document.created", "f7")
}

// realtimeDocumentStream: a document's stream carries that document's
// events only, and needs the document to be visible.
func realtimeDocumentStream(t *testing.T, admin *client) {
	admin.must(201, "POST", "/v1/collections", `{"name":"docs","schema":{"type":"object","properties":{"title":{"type":"string"},"n":{"type":"integer"}}},"rules":{"list":"","get":"title != \"private\""}}`)
	admin.must(201, "POST", "/v1/collections/docs/documents?id=x", `{"title":"public"}`)
	admin.must(201, "POST", "/v1/collections/docs/documents?id=p", `{"title":"private"}`)
	if _, status, body := tryStream(t, admin.base, "/v1/collections/docs/documents/p/events", "", nil); status != 404 {
		t.Fatalf("stream of a hidden document: %d %s", status, body)
	}
	if _, status, body := tryStream(t, admin.base, "/v1/collections/docs/documents/nope/events", "", nil); status != 404 {
		t.Fatalf("stream of a missing document: %d %s", status, body)
	}
	s := openStream(t, admin.base, "/v1/collections/docs/documents/x/events", "")
	admin.must(200, "PATCH", "/v1/collections/docs/documents/p", `{"n":1}`)
	admin.must(200, "PATCH", "/v1/collections/docs/documents/x", `{"n":2}`)
	s.nextEvent("document.patched", "x")
	admin.must(200, "PATCH", "/v1/collections/docs/documents/x", `{"title":"private"}`) // now hidden
	admin.must(200, "PATCH", "/v1/collections/docs/documents/x", `{"title":"public again"}`)
	if e := s.nextEvent("document.patched", "x"); !strings.Contains(string(e.Payload), "public again") {
		t.Errorf("got %s, want the write that made it public again", e.Payload)
	}
	admin.must(204, "DELETE", "/v1/collections/docs/documents/x", "")
	s.nextEvent("document.deleted", "x")
}

// realtimeRevoked: logging out ends the session's open streams.
func realtimeRevoked(t *testing.T, admin *client) {
	admin.must(201, "POST", "/v1/collections", `{"name":"chat","rules":{"list":"@auth.id != null","get":""}}`)
	anon := admin.anonymous()
	carol := anon.as(anon.signUp("carol.rt@basalt.test", realtimePassword).AccessToken)
	s := openStream(t, carol.base, "/v1/collections/chat/events", carol.token)
	admin.must(201, "POST", "/v1/collections/chat/documents?id=c1", `{}`)
	s.nextEvent("document.created", "c1")
	carol.must(204, "POST", "/v1/auth/logout", "")
	loggedOut := time.Now()
	m := s.next()
	if m.Event != "revoked" {
		t.Fatalf("got %+v, want revoked", m)
	}
	s.ended()
	if d := time.Since(loggedOut); d > 3*time.Second {
		t.Errorf("the stream ended %v after the logout", d)
	}
}

// realtimeBadRequests: mistakes are problems, before any stream opens.
func realtimeBadRequests(t *testing.T, admin *client) {
	admin.must(201, "POST", "/v1/collections", `{"name":"bad","schema":{"type":"object","properties":{"n":{"type":"integer"}}},"rules":{"list":"","get":""}}`)
	for _, tc := range []struct {
		path, lastEventID string
		status            int
		code              string
	}{
		{"/v1/collections/bad/events?filter=" + urlQuery("n = "), "", 400, "invalid"},
		{"/v1/collections/bad/events?filter=" + urlQuery("unknown = 1"), "", 400, "invalid"},
		{"/v1/collections/bad/events?sort=n", "", 400, "invalid"},
		// Credentials travel in Authorization, never in the URL.
		{"/v1/collections/bad/events?access_token=x", "", 400, "invalid"},
		{"/v1/collections/bad/events", "yesterday", 400, "invalid"},
		{"/v1/collections/missing/events", "", 404, "not_found"},
	} {
		headers := []string{}
		if tc.lastEventID != "" {
			headers = append(headers, "Last-Event-ID", tc.lastEventID)
		}
		r := admin.do("GET", tc.path, "", headers...)
		if r.Status != tc.status || r.Header.Get("Content-Type") != "application/problem+json" || r.JSON(t)["code"] != tc.code {
			t.Errorf("GET %s: %d %s %s, want %d %s", tc.path, r.Status, r.Header.Get("Content-Type"), r.Body, tc.status, tc.code)
		}
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "%20", "=", "%3D", ">", "%3E", "\"", "%22").Replace(s)
}

// TestRealtimeLimitsAndSlowClients: streams beyond the per-account limit
// are refused with 429; a client that does not read its stream is dropped
// without holding up the others, and ends with a dropped event; a client
// that reads gets a burst larger than its queue whole.
func TestRealtimeLimitsAndSlowClients(t *testing.T) {
	c, _, _ := serveApp(t, "sqlite", true, func(cfg *app.Config) {
		cfg.Realtime.MaxPerAccount = 2
		cfg.Realtime.Queue = 4
	})
	admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
	admin.must(201, "POST", "/v1/collections", `{"name":"big","rules":{"list":"","get":""}}`)
	// slow's reader takes nothing until gate closes: its sockets fill up.
	gate := make(chan struct{})
	slow, status, body := tryStream(t, admin.base, "/v1/collections/big/events", admin.token, gate)
	if status != 200 {
		t.Fatalf("slow stream: %d %s", status, body)
	}
	fast := openStream(t, admin.base, "/v1/collections/big/events", admin.token)
	r := admin.do("GET", "/v1/collections/big/events", "")
	if r.Status != 429 || r.JSON(t)["code"] != "too_many_requests" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream of one account: %d %s %s", r.Status, r.Header, r.Body)
	}

	// 12 MB of events: about 4 MB fill a loopback connection.
	big := strings.Repeat("x", 200<<10)
	const writes = 60
	for i := range writes {
		admin.must(201, "POST", fmt.Sprintf("/v1/collections/big/documents?id=b%03d", i), `{"text":"`+big+`"}`)
	}
	// slow makes no progress: it is dropped (after 5 s). Its reader takes
	// what is left as soon as it is: the stream's write has waited for it
	// since its connection filled, and gives up after 30 s.
	waitFor(t, 20*time.Second, "the slow stream to be dropped", func() bool {
		return strings.Contains(scrape(t, admin.base, metricsToken), "basalt_realtime_subscribers_dropped_total 1")
	})
	close(gate)
	var last sseMessage
	for m := range slow.messages {
		last = m
	}
	if last.Event != "dropped" {
		t.Fatalf("the slow stream ended with %s (id %s), want dropped", last.Event, last.ID)
	}
	// fast got every event, the burst beyond its queue read from the log.
	for i := range writes {
		fast.nextEvent("document.created", fmt.Sprintf("b%03d", i))
	}
	// Dropped, it no longer counts: a new stream may open.
	openStream(t, admin.base, "/v1/collections/big/events", admin.token)
}

// TestRealtimeShutdown: open streams end when the server drains, with a
// shutdown event, and do not hold the drain until its timeout.
func TestRealtimeShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startProcess(t, dir, "--drain-timeout", "60s")
	actAsAdmin(t, []string{"--data-dir", dir}, s)
	c := s.client(t)
	c.must(201, "POST", "/v1/collections", `{"name":"live","rules":{"list":"","get":""}}`)
	st := openStream(t, c.base, "/v1/collections/live/events", "")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if m := st.next(); m.Event != "shutdown" {
		t.Fatalf("got %+v, want shutdown", m)
	}
	st.ended()
	if code := s.exitCode(t); code != 0 {
		t.Fatalf("exit status %d\n%s", code, s.logs.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the drain took %v with a stream open", d)
	}
}

// TestRealtimeAcrossProcesses: two processes on one PostgreSQL database; a
// subscriber on B receives the writes acknowledged by A, within a bound,
// in order, and resumes on A where B's stream stopped.
func TestRealtimeAcrossProcesses(t *testing.T) {
	a, b, _ := twoProcesses(t)
	ca, cb := a.client(t), b.client(t)
	ca.must(201, "POST", "/v1/collections", `{"name":"shared","rules":{"list":"","get":""}}`)
	onB := openStream(t, cb.base, "/v1/collections/shared/events", cb.token)
	var last changeEvent
	for i := range 5 {
		id := fmt.Sprintf("s%d", i)
		ca.must(201, "POST", "/v1/collections/shared/documents?id="+id, `{}`)
		acked := time.Now()
		last = onB.nextEvent("document.created", id)
		if d := time.Since(acked); d > 2*time.Second {
			t.Errorf("%s reached B %v after A acknowledged it", id, d)
		}
	}
	onB.close()
	cb.must(201, "POST", "/v1/collections/shared/documents?id=missed", `{}`)
	onA := openStream(t, ca.base, "/v1/collections/shared/events", ca.token, "Last-Event-ID", fmt.Sprint(last.Position))
	onA.nextEvent("document.created", "missed")
}

// TestRealtimeGap: a client that resumes after events the log no longer
// keeps gets a gap event first (whose id is where the stream goes on),
// then the live events. A second server on the same PostgreSQL database
// trims the log with a very short retention.
func TestRealtimeGap(t *testing.T) {
	c, cfg, _ := serveApp(t, "postgres", true)
	admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
	admin.must(201, "POST", "/v1/collections", `{"name":"old","rules":{"list":"","get":""}}`)
	s := openStream(t, admin.base, "/v1/collections/old/events", "")
	admin.must(201, "POST", "/v1/collections/old/documents?id=o1", `{}`)
	first := s.nextEvent("document.created", "o1")
	admin.must(201, "POST", "/v1/collections/old/documents?id=o2", `{}`)
	s.nextEvent("document.created", "o2")
	s.close()

	trimmer, _, _ := serveApp(t, "postgres", false, func(c *app.Config) {
		c.DB = cfg.DB
		c.Events.Retention = time.Millisecond // trims every published event at start
	})
	waitFor(t, 20*time.Second, "the log to be trimmed", func() bool {
		return !strings.Contains(scrape(t, trimmer.base, metricsToken), "basalt_outbox_trimmed_total 0")
	})
	r := openStream(t, admin.base, "/v1/collections/old/events", "", "Last-Event-ID", fmt.Sprint(first.Position))
	m := r.next()
	var gap struct {
		Position int64  `json:"position"`
		Message  string `json:"message"`
	}
	if err := json.Unmarshal([]byte(m.Data), &gap); err != nil || m.Event != "gap" || m.ID == "" || m.ID != fmt.Sprint(gap.Position) ||
		gap.Position <= first.Position || gap.Message == "" {
		t.Fatalf("got %+v (%v), want a gap", m, err)
	}
	admin.must(201, "POST", "/v1/collections/old/documents?id=o3", `{}`)
	r.nextEvent("document.created", "o3")
}
