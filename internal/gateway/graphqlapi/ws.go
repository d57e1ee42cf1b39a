package graphqlapi

// GraphQL over WebSocket: the graphql-transport-ws protocol (the
// graphql-ws library's, which Apollo Client, urql and Relay use), on the
// GET /graphql that asks for the upgrade. One connection carries any
// number of operations, each by the id its client gives it:
//
//	client                               server
//	connection_init {authorization?}  →
//	                                  ←  connection_ack
//	subscribe {id, payload: request}  →
//	                                  ←  next {id, payload: result} …
//	                                  ←  complete {id} | error {id, payload: [errors]}
//	complete {id}                     →  (the client stops listening)
//	ping / pong                       ↔
//
// The caller is the Authorization header of the upgrade, or the
// authorization entry of connection_init's payload (browsers cannot set
// headers on a WebSocket). Their credential is checked again every second:
// a revoked or expired one closes the connection with 4403, and clients
// reconnect with a fresh one. Queries and mutations run as over HTTP, with
// one answer; subscriptions stream change events (subscriptions.go).
// Protocol errors close the connection with the protocol's codes (4400
// bad message, 4401 subscribe before the ack, 4408 no connection_init in
// time, 4409 an id in use, 4429 a second connection_init); a server that
// drains closes its connections with 1001, and clients reconnect, resuming
// their subscriptions with after.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/bearer"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway"
	"github.com/basaltdev/basalt/internal/gateway/authapi"
	"github.com/basaltdev/basalt/internal/gateway/restapi"
	"github.com/basaltdev/basalt/internal/realtime"
)

// wsProtocol is the WebSocket subprotocol served.
const wsProtocol = "graphql-transport-ws"

// routeSubscription is the route a subscription operation is limited as:
// the realtime class, as an event stream.
const routeSubscription = "GET /graphql#subscription"

// The close codes of graphql-transport-ws.
const (
	closeBadRequest       websocket.StatusCode = 4400
	closeUnauthorized     websocket.StatusCode = 4401
	closeForbidden        websocket.StatusCode = 4403
	closeInitTimeout      websocket.StatusCode = 4408
	closeSubscriberExists websocket.StatusCode = 4409
	closeTooManyInits     websocket.StatusCode = 4429
)

// Defaults of the WebSocket options.
const (
	DefaultInitTimeout         = 10 * time.Second
	DefaultHeartbeat           = 15 * time.Second
	DefaultMaxOperations       = 100
	DefaultMaxConnectionsPerIP = 128
)

// Connection timing.
const (
	// recheckEvery is how often a connection checks its caller's
	// credential again (revocation, expiry).
	recheckEvery = time.Second
	// wsWriteTimeout bounds one write: a client that takes longer to take
	// a message loses its connection.
	wsWriteTimeout = 30 * time.Second
	// pongTimeout is how long a ping waits for its pong before the
	// connection is taken as lost.
	pongTimeout = 30 * time.Second
)

// wsMessage is a message of the protocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// conns are the open WebSocket connections of an API, which Drain closes.
type conns struct {
	mu       sync.Mutex
	all      map[*wsConn]struct{}
	perIP    map[string]int
	draining bool
	wg       sync.WaitGroup
}

// isUpgrade reports whether r asks for a WebSocket.
func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header holds token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveWS upgrades r to a WebSocket speaking graphql-transport-ws, after
// the checks a refusal answers in HTTP (as GraphQL errors, like every
// answer of /graphql): the handshake's headers, the subprotocol, the
// origin, the limits and the caller of the Authorization header.
func (a *API) serveWS(w http.ResponseWriter, r *http.Request) {
	media, ok := negotiate(r.Header.Values("Accept"))
	if !ok {
		media = mediaJSON
	}
	refuse := func(status int, kind fault.Kind, msg string) { a.write(w, media, status, requestError(kind, msg)) }
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		refuse(http.StatusBadRequest, fault.Invalid, "a WebSocket handshake has Connection: Upgrade")
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		refuse(http.StatusUpgradeRequired, fault.Invalid, "the WebSocket version served is 13")
		return
	}
	if key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key")); err != nil || len(key) != 16 {
		refuse(http.StatusBadRequest, fault.Invalid, "Sec-WebSocket-Key must be 16 bytes in base64")
		return
	}
	if !headerHasToken(r.Header, "Sec-WebSocket-Protocol", wsProtocol) {
		refuse(http.StatusBadRequest, fault.Invalid, "the WebSocket subprotocol served is "+wsProtocol+" (ask for it in Sec-WebSocket-Protocol)")
		return
	}
	if !a.originAllowed(r) {
		refuse(http.StatusForbidden, fault.Forbidden, "WebSocket connections from this origin are not allowed (--cors-origins)")
		return
	}
	ip := a.clientIP(r)
	release, err := a.conns.enter(ip, a.opts.MaxConnectionsPerIP)
	if err != nil {
		if d := fault.RetryAfterOf(err); d > 0 {
			w.Header().Set("Retry-After", restapi.RetryAfterSeconds(d))
		}
		a.write(w, media, statusOf(err), Result{Errors: gqlerror.List{errorOf(err)}})
		return
	}
	defer release()
	p, err := a.admit(w, r)
	if err != nil {
		if c := restapi.Challenge(err); c != "" {
			w.Header().Set("WWW-Authenticate", c)
		}
		if d := fault.RetryAfterOf(err); d > 0 {
			w.Header().Set("Retry-After", restapi.RetryAfterSeconds(d))
		}
		a.write(w, media, statusOf(err), Result{Errors: gqlerror.List{errorOf(err)}})
		return
	}
	// The connection counts as an event stream in the metrics, and
	// outlives the server's timeouts, which would cut it.
	gateway.ClassRouteOf(w)(routeSubscription)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wsProtocol}, InsecureSkipVerify: true /* checked above */})
	if err != nil {
		return // Accept answered (the connection cannot be taken over: not HTTP/1.1)
	}
	ws.SetReadLimit(a.opts.MaxBodyBytes)
	c := &wsConn{a: a, ws: ws, r: r, ip: ip, userAgent: authapi.UserAgent(r), principal: p,
		credential: r.Header.Values("Authorization"), ops: map[string]*wsOp{}}
	if !a.conns.add(c) {
		_ = ws.Close(websocket.StatusGoingAway, "the server is shutting down")
		return
	}
	defer a.conns.remove(c)
	c.run()
}

// clientIP is r's client address.
func (a *API) clientIP(r *http.Request) string {
	if a.opts.ClientIP != nil {
		return a.opts.ClientIP(r)
	}
	return authapi.ClientIP(r, nil)
}

// originAllowed reports whether a browser on r's Origin may open a
// WebSocket: same host, or an origin --cors-origins allows. Requests
// without Origin come from other clients than browsers.
func (a *API) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || slices.Contains(a.opts.Origins, "*") || slices.Contains(a.opts.Origins, origin) {
		return true
	}
	host := r.Host
	if a.opts.Host != nil {
		host = a.opts.Host(r)
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, host)
}

// enter counts a connection of ip, refusing it beyond max per address or
// while draining; release uncounts it.
func (cs *conns) enter(ip string, limit int) (release func(), err error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.draining {
		return nil, &fault.Error{Kind: fault.Unavailable, Op: "graphqlapi.ws", Msg: "the server is shutting down", RetryAfter: time.Second}
	}
	if cs.perIP[ip] >= limit {
		return nil, &fault.Error{Kind: fault.TooManyRequests, Op: "graphqlapi.ws", RetryAfter: 5 * time.Second,
			Msg: "at most " + itoa(limit) + " GraphQL WebSocket connections per client address: close one first"}
	}
	if cs.perIP == nil {
		cs.perIP = map[string]int{}
	}
	cs.perIP[ip]++
	return func() {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.perIP[ip]--; cs.perIP[ip] <= 0 {
			delete(cs.perIP, ip)
		}
	}, nil
}

// add registers an open connection; false while draining.
func (cs *conns) add(c *wsConn) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.draining {
		return false
	}
	if cs.all == nil {
		cs.all = map[*wsConn]struct{}{}
	}
	cs.all[c] = struct{}{}
	cs.wg.Add(1)
	return true
}

func (cs *conns) remove(c *wsConn) {
	cs.mu.Lock()
	delete(cs.all, c)
	cs.mu.Unlock()
	cs.wg.Done()
}

// Drain closes the API's WebSocket connections with 1001 (going away) and
// refuses new ones; it returns once their handlers have returned. Clients
// reconnect to another server, resuming their subscriptions with after.
func (a *API) Drain() {
	cs := &a.conns
	cs.mu.Lock()
	cs.draining = true
	open := make([]*wsConn, 0, len(cs.all))
	for c := range cs.all {
		open = append(open, c)
	}
	cs.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range open {
		wg.Go(func() { c.close(websocket.StatusGoingAway, "the server is shutting down") })
	}
	wg.Wait()
	cs.wg.Wait()
}

// wsConn is one WebSocket connection: its reader (run) owns it, and the
// goroutines of its operations and of its upkeep, which end before run
// returns.
type wsConn struct {
	a             *API
	ws            *websocket.Conn
	r             *http.Request // the upgrade: what the rate limits key on
	ip, userAgent string
	ctx           context.Context
	cancel        context.CancelFunc
	wg            sync.WaitGroup

	mu         sync.Mutex
	principal  auth.Principal // the caller, as last checked
	credential []string       // the Authorization values checked again
	inited     bool           // connection_init came
	acked      chan struct{}  // closed with connection_ack
	ops        map[string]*wsOp
}

// run reads the client's messages until the connection ends, then ends
// its operations.
func (c *wsConn) run() {
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(c.r.Context()))
	c.acked = make(chan struct{})
	c.wg.Go(c.keep)
	defer func() {
		c.cancel()
		c.wg.Wait()
		_ = c.ws.CloseNow()
	}()
	for {
		typ, b, err := c.ws.Read(context.Background()) // ends when the connection closes
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.close(closeBadRequest, "Invalid message received: messages are JSON text")
			return
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil || m.Type == "" {
			c.close(closeBadRequest, "Invalid message received")
			return
		}
		if !c.handle(m) {
			return
		}
	}
}

// handle acts on one message of the client; false when it closed the
// connection.
func (c *wsConn) handle(m wsMessage) bool {
	switch m.Type {
	case "connection_init":
		return c.init(m.Payload)
	case "ping":
		return c.send(wsMessage{Type: "pong"}) == nil
	case "pong":
		return true
	case "subscribe":
		return c.subscribe(m)
	case "complete":
		c.mu.Lock()
		if o, ok := c.ops[m.ID]; ok {
			o.cancel()
			delete(c.ops, m.ID)
		}
		c.mu.Unlock()
		return true
	}
	c.close(closeBadRequest, "Invalid message received: unknown type")
	return false
}

// init answers connection_init: the caller of its payload's authorization
// entry (when it has one) replaces the upgrade's.
func (c *wsConn) init(payload json.RawMessage) bool {
	c.mu.Lock()
	again := c.inited
	c.inited = true
	c.mu.Unlock()
	if again {
		c.close(closeTooManyInits, "Too many initialisation requests")
		return false
	}
	var params map[string]json.RawMessage
	if len(bytes.TrimSpace(payload)) > 0 && string(bytes.TrimSpace(payload)) != "null" {
		if err := json.Unmarshal(payload, &params); err != nil {
			c.close(closeBadRequest, "Invalid message received: the payload of connection_init is an object")
			return false
		}
	}
	for k, v := range params {
		if !strings.EqualFold(k, "authorization") {
			continue
		}
		var cred string
		if err := json.Unmarshal(v, &cred); err != nil {
			c.close(closeBadRequest, "Invalid message received: authorization is a string")
			return false
		}
		values := []string{cred}
		p, err := c.authenticate(values)
		if err != nil {
			c.close(closeForbidden, closeReason("Forbidden: "+fault.Message(err)))
			return false
		}
		c.mu.Lock()
		c.principal, c.credential = p, values
		c.mu.Unlock()
	}
	if err := c.send(wsMessage{Type: "connection_ack"}); err != nil {
		return false
	}
	close(c.acked)
	return true
}

// authenticate checks a credential.
func (c *wsConn) authenticate(values []string) (auth.Principal, error) {
	if c.a.opts.Authenticator == nil {
		return auth.Anonymous(), nil
	}
	return bearer.Authenticate(c.ctx, c.a.opts.Authenticator, values)
}

// caller is the connection's caller, as last checked.
func (c *wsConn) caller() auth.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.principal
}

// subscribe starts an operation.
func (c *wsConn) subscribe(m wsMessage) bool {
	select {
	case <-c.acked:
	default:
		c.close(closeUnauthorized, "Unauthorized")
		return false
	}
	if m.ID == "" {
		c.close(closeBadRequest, "Invalid message received: subscribe has an id")
		return false
	}
	var req request
	if err := decodeJSON(orNull(m.Payload), &req); err != nil {
		c.close(closeBadRequest, "Invalid message received: the payload of subscribe is a GraphQL request")
		return false
	}
	var ext extensions
	if err := decodeJSON(orNull(req.Extensions), &ext); err != nil {
		c.close(closeBadRequest, "Invalid message received: extensions is an object")
		return false
	}
	req.persisted = ext.PersistedQuery
	c.mu.Lock()
	if _, dup := c.ops[m.ID]; dup {
		c.mu.Unlock()
		c.close(closeSubscriberExists, closeReason("Subscriber for "+m.ID+" already exists"))
		return false
	}
	if len(c.ops) >= c.a.opts.MaxOperations {
		c.mu.Unlock()
		return c.fail(m.ID, gqlerror.List{errorOf(fault.New(fault.TooManyRequests, "graphqlapi.ws",
			"at most "+itoa(c.a.opts.MaxOperations)+" operations per connection: complete one first"))}) == nil
	}
	o := &wsOp{id: m.ID}
	o.ctx, o.cancel = context.WithCancel(c.ctx)
	c.ops[m.ID] = o
	c.mu.Unlock()
	// The operation starts before the next message is read, so that a
	// subscription is open before a mutation sent after it on the same
	// connection commits: it receives that mutation's event.
	run := c.start(o, req)
	if run == nil {
		c.release(o)
		o.cancel()
		return true
	}
	c.wg.Go(func() {
		defer o.cancel()
		defer c.release(o)
		run()
	})
	return true
}

// wsOp is one operation of a connection, by the id its client gave it.
type wsOp struct {
	id     string
	ctx    context.Context // ends when the client completes it, or the connection closes
	cancel context.CancelFunc
}

// release frees o's id, which the client may use again once it has the
// operation's last message; false when the client completed it (its id
// may be another operation's since).
func (c *wsConn) release(o *wsOp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops[o.id] != o {
		return false
	}
	delete(c.ops, o.id)
	return true
}

// complete ends o with complete, and failOp with errors, unless the
// client completed it.
func (c *wsConn) complete(o *wsOp) {
	if c.release(o) {
		_ = c.send(wsMessage{ID: o.id, Type: "complete"})
	}
}

func (c *wsConn) failOp(o *wsOp, errs gqlerror.List) {
	if c.release(o) {
		_ = c.fail(o.id, errs)
	}
}

// start prepares one operation and returns what runs it: a query or a
// mutation answered once, or a subscription, opened here, streamed until
// it ends, the client completes it or the connection closes. It returns
// nil when the operation ended with an error before running.
func (c *wsConn) start(o *wsOp, req request) func() {
	a := c.a
	p := c.caller()
	ctx := withClient(auth.WithPrincipal(o.ctx, p), client{ip: c.ip, userAgent: c.userAgent})
	fail := func(errs gqlerror.List) func() {
		c.failOp(o, errs)
		return nil
	}
	query, refused, ok := a.queryOf(req)
	if !ok {
		return fail(refused.Errors)
	}
	s, err := a.schema(ctx)
	if err != nil {
		return fail(gqlerror.List{errorOf(err)})
	}
	doc, errs := a.document(s, query)
	if len(errs) > 0 {
		return fail(errs)
	}
	name := ""
	if req.OperationName != nil {
		name = *req.OperationName
	}
	opDef := doc.Operations.ForName(name)
	if opDef == nil || opDef.Operation != ast.Subscription {
		if err := c.limit(routePost, p); err != nil {
			return fail(gqlerror.List{errorOf(err)})
		}
		return func() {
			res, _ := a.one(ctx, http.MethodPost, req, func(route string) error { return c.limit(route, p) })
			if !res.executed {
				c.failOp(o, res.Errors)
				return
			}
			if c.next(o, res) == nil {
				c.complete(o)
			}
		}
	}
	if err := c.limit(routeSubscription, p); err != nil {
		return fail(gqlerror.List{errorOf(err)})
	}
	if pq := req.persisted; pq != nil && req.Query != nil {
		a.persisted.Add(strings.ToLower(pq.SHA256Hash), query) // as one does for queries and mutations
	}
	st, errs := a.openStream(ctx, s, doc, opDef, req.Variables, realtime.AccountOf(p), c.ip)
	if len(errs) > 0 {
		return fail(errs)
	}
	return func() {
		defer st.close()
		c.stream(ctx, o, st)
	}
}

// stream sends the subscription's answers until it ends.
func (c *wsConn) stream(ctx context.Context, o *wsOp, st *stream) {
	const op = "graphqlapi.subscription"
	for {
		// The caller is the connection's as last checked (every second):
		// the Delivery decides each event for them.
		cctx := auth.WithPrincipal(ctx, c.caller())
		nctx, cancel := context.WithTimeout(cctx, recheckEvery)
		m, err := st.sub.Next(nctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return // completed by the client, or the connection closed
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded):
			continue
		case errors.Is(err, realtime.ErrEnded):
			c.complete(o)
			return
		default:
			// The stream cannot go on (the database does not answer): the
			// client subscribes again with after.
			c.failOp(o, gqlerror.List{errorOf(fault.New(fault.Unavailable, op,
				"the subscription failed: "+fault.Message(err)+"; subscribe again with after: \""+strconv.FormatInt(st.last, 10)+"\""))})
			return
		}
		switch m.Kind {
		case realtime.KindEvent, realtime.KindGap:
			if c.next(o, st.answer(cctx, m)) != nil {
				return
			}
		case realtime.KindDropped:
			c.failOp(o, gqlerror.List{errorOf(fault.New(fault.TooManyRequests, op,
				"this subscription did not keep up with its events and was ended; subscribe again with after: \""+strconv.FormatInt(st.last, 10)+"\""))})
			return
		case realtime.KindShutdown:
			c.close(websocket.StatusGoingAway, "the server is shutting down")
			return
		case realtime.KindEnd:
			if m.End == docstore.EndDeleted {
				c.complete(o) // its COLLECTION_DELETED event said it
				return
			}
			c.failOp(o, gqlerror.List{errorOf(fault.New(fault.Forbidden, op, "the collection's access rules no longer admit this subscription ("+string(m.End)+")"))})
			return
		}
	}
}

// limit admits one operation of the connection's caller p under route's
// rate limits.
func (c *wsConn) limit(route string, p auth.Principal) error {
	if c.a.opts.RateLimits == nil {
		return nil
	}
	_, err := c.a.opts.RateLimits.Admit(discardHeaders{}, c.r.WithContext(c.ctx), route,
		func() (auth.Principal, bool) { return p, true }, func() (auth.Principal, error) { return p, nil })
	return err
}

// discardHeaders is the ResponseWriter of a rate limit decided on an
// upgraded connection: its headers go nowhere.
type discardHeaders struct{}

func (discardHeaders) Header() http.Header         { return http.Header{} }
func (discardHeaders) Write(b []byte) (int, error) { return len(b), nil }
func (discardHeaders) WriteHeader(int)             {}

// next sends one answer of operation o, unless the client completed it.
func (c *wsConn) next(o *wsOp, res Result) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	b, err := appendResult(make([]byte, 0, 512), res)
	if err != nil {
		b, _ = appendResult(nil, requestError(fault.Internal, "the answer could not be encoded"))
	}
	return c.send(wsMessage{ID: o.id, Type: "next", Payload: b})
}

// fail ends operation id with errors.
func (c *wsConn) fail(id string, errs gqlerror.List) error {
	b, err := json.Marshal(errs)
	if err != nil {
		return err
	}
	return c.send(wsMessage{ID: id, Type: "error", Payload: b})
}

// send writes one message.
func (c *wsConn) send(m wsMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, wsWriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// close closes the connection with code and reason (the close handshake,
// at most a few seconds).
func (c *wsConn) close(code websocket.StatusCode, reason string) {
	_ = c.ws.Close(code, reason)
}

// closeReason is s cut to what a close frame holds (123 bytes).
func closeReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	s = s[:123]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// keep is the connection's upkeep: the connection_init deadline, the
// credential's recheck every second, and a ping every heartbeat to find
// connections that died.
func (c *wsConn) keep() {
	init := time.NewTimer(c.a.opts.InitTimeout)
	defer init.Stop()
	select {
	case <-c.acked:
	case <-c.ctx.Done():
		return
	case <-init.C:
		c.close(closeInitTimeout, "Connection initialisation timeout")
		return
	}
	tick := time.NewTicker(recheckEvery)
	defer tick.Stop()
	nextPing := time.Now().Add(c.a.opts.Heartbeat)
	pinging := make(chan struct{}, 1)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		if !c.recheck() {
			return
		}
		if time.Now().Before(nextPing) {
			continue
		}
		nextPing = time.Now().Add(c.a.opts.Heartbeat)
		select {
		case pinging <- struct{}{}:
			c.wg.Go(func() {
				defer func() { <-pinging }()
				ctx, cancel := context.WithTimeout(c.ctx, pongTimeout)
				defer cancel()
				if err := c.ws.Ping(ctx); err != nil && c.ctx.Err() == nil {
					_ = c.ws.CloseNow() // no pong: the connection is gone
				}
			})
		default: // the last ping still waits
		}
	}
}

// recheck authenticates the connection's credential again; false when it
// closed the connection: 4403 for a credential revoked or expired (the
// client reconnects with a fresh one), 1013 when it could not be checked
// (fail closed).
func (c *wsConn) recheck() bool {
	c.mu.Lock()
	p, values := c.principal, c.credential
	c.mu.Unlock()
	if !p.Authenticated() {
		return true
	}
	now, err := c.authenticate(values)
	if err == nil && !now.Authenticated() {
		err = fault.New(fault.Unauthenticated, "graphqlapi.ws", "the credentials were removed")
	}
	if err != nil {
		if fault.KindOf(err) != fault.Unauthenticated {
			c.close(websocket.StatusTryAgainLater, "the credentials could not be checked again")
			return false
		}
		c.close(closeForbidden, closeReason("Forbidden: "+fault.Message(err)))
		return false
	}
	c.mu.Lock()
	c.principal = now
	c.mu.Unlock()
	return true
}
