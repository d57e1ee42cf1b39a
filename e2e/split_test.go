package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	basalt "github.com/basaltdev/basalt/client"
	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/tlstest"
)

// split is a deployment of three processes on one PostgreSQL database:
// the accounts component, the documents component, and a gateway that
// reaches both over gRPC.
type split struct {
	accounts, documents, gateway *server
	db, token                    string
}

// startSplit starts the three processes, the components before the
// gateway that calls them, and creates the admin account, which the
// gateway's clients act as.
func startSplit(t *testing.T, extra ...string) *split {
	t.Helper()
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	s := &split{db: pgtest.URL(t), token: hex.EncodeToString(b)}
	dir := t.TempDir()
	common := append([]string{"--internal-token", s.token, "--metrics-token", metricsToken}, extra...)
	s.accounts = startProcess(t, filepath.Join(dir, "accounts"), append([]string{"--db", s.db, "--target=accounts"}, common...)...)
	s.documents = startProcess(t, filepath.Join(dir, "documents"), append([]string{"--db", s.db, "--target=documents",
		"--accounts-url", "http://" + s.accounts.addr}, common...)...)
	s.gateway = startProcess(t, filepath.Join(dir, "gateway"), append([]string{"--target=gateway",
		"--documents-url", "http://" + s.documents.addr, "--accounts-url", "http://" + s.accounts.addr}, common...)...)
	actAsAdmin(t, []string{"--data-dir", filepath.Join(dir, "admin"), "--db", s.db}, s.gateway)
	return s
}

// TestSplitDeployment runs the scenarios the monolith's tests run — the
// README walk-through over REST, the Go client over gRPC and Connect,
// accounts with rules and revocation, realtime streams over SSE and gRPC
// — against a gateway whose documents and accounts components are
// separate processes, and checks what only a split deployment has: the
// components refuse clients, the gateway's readiness follows theirs, and
// a component that goes away turns into 503s, not hangs or 500s.
func TestSplitDeployment(t *testing.T) {
	t.Parallel() // its own processes and databases
	s := startSplit(t)
	gw := s.gateway.client(t)

	t.Run("Walkthrough", func(t *testing.T) {
		walkthroughSteps(t, gw, "")
		// The documents component did the database's work.
		r := s.documents.client(t).must(200, "GET", "/metrics", "", "Authorization", "Bearer "+metricsToken)
		if !strings.Contains(string(r.Body), `basalt_db_duration_seconds_count{engine="postgres"`) {
			t.Error("the documents component's metrics lack the database's")
		}
	})

	t.Run("GoClient", func(t *testing.T) {
		for name, p := range map[string]basalt.Protocol{"grpc": basalt.ProtocolGRPC, "connect": basalt.ProtocolConnect} {
			t.Run(name, func(t *testing.T) {
				goClientScenario(t, "http://"+s.gateway.addr, basalt.Options{Protocol: p, HTTPClient: h2cClient(t)}, "split_"+name)
			})
		}
	})

	t.Run("RulesAndRevocation", func(t *testing.T) { rulesAndRevocation(t, gw) })
	t.Run("Realtime", func(t *testing.T) { realtimeStreams(t, gw) })

	t.Run("OpenAPIAndSearchArePassedOn", func(t *testing.T) {
		doc := gw.must(200, "GET", "/v1/openapi.json", "").JSON(t)
		paths, _ := doc["paths"].(map[string]any)
		if _, ok := paths["/v1/collections/posts/documents"]; !ok {
			t.Errorf("the OpenAPI document through the gateway lacks the posts collection: %v", keys(paths))
		}
		gw.must(404, "GET", "/v1/collections/nope/search?q=x", "")
	})

	t.Run("ComponentsRefuseClients", func(t *testing.T) {
		for _, c := range []*server{s.documents, s.accounts} {
			r := c.client(t).do("GET", "/v1/collections", "")
			if r.Status != 401 || !strings.Contains(string(r.Body), "other Basalt components only") {
				t.Errorf("a client's request to a component: %d %s", r.Status, r.Body)
			}
			// A wrong internal token is refused as well.
			r = c.client(t).do("GET", "/v1/collections", "", rpcapi.InternalTokenHeader, strings.Repeat("x", 48))
			if r.Status != 401 {
				t.Errorf("a request with a wrong internal token: %d %s", r.Status, r.Body)
			}
			c.client(t).must(200, "GET", "/readyz", "")
		}
		// Over gRPC: the accounts component answers only with the token.
		auth := basaltv1connect.NewAuthServiceClient(connect.NewClient(connecthttp.NewTransport(h2cClient(t), "http://"+s.accounts.addr, connecthttp.WithGRPC())))
		_, err := auth.Login(t.Context(), &basaltv1.LoginRequest{Email: adminEmail, Password: adminPassword})
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("a client's login at the accounts component: %v", err)
		}
		comp := basaltv1connect.NewComponentServiceClient(connect.NewClient(connecthttp.NewTransport(h2cClient(t), gw.base, connecthttp.WithGRPC())))
		if _, err := comp.Authenticate(t.Context(), &basaltv1.AuthenticateRequest{Credential: s.gateway.token}); err == nil {
			t.Error("the gateway answered ComponentService to a client")
		}
	})

	t.Run("ReadinessFollowsComponents", func(t *testing.T) {
		ready := gw.must(200, "GET", "/readyz", "").JSON(t)
		checks, _ := ready["checks"].(map[string]any)
		if checks["documents"] != "ok" || checks["accounts"] != "ok" {
			t.Errorf("gateway /readyz = %v", ready)
		}
		// The documents component goes away: the gateway is not ready,
		// says why, and answers document requests 503 (not 500, no
		// hang); account requests still work.
		if err := s.documents.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if exited, err := s.documents.wait(30 * time.Second); !exited || err != nil {
			t.Fatalf("the documents component did not stop: %v, %v", exited, err)
		}
		r := gw.do("GET", "/readyz", "")
		if r.Status != 503 || !strings.Contains(string(r.Body), `"documents"`) {
			t.Errorf("gateway /readyz without documents: %d %s", r.Status, r.Body)
		}
		for _, path := range []string{"/v1/collections/posts/documents", "/v1/collections/posts/events", "/v1/openapi.json"} {
			r := gw.do("GET", path, "")
			if r.Status != 503 || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("GET %s without documents: %d %s %s", path, r.Status, r.Header.Get("Content-Type"), r.Body)
			}
		}
		gw.must(200, "GET", "/v1/auth/me", "")
	})
}

// TestTargetsCommand: basalt targets lists each component with what it
// needs, and serve refuses a split that lacks what it needs.
func TestTargetsCommand(t *testing.T) {
	t.Parallel() // its own processes and databases
	out, err := exec.Command(basaltBinary(t), "targets").CombinedOutput()
	if err != nil {
		t.Fatalf("basalt targets: %v\n%s", err, out)
	}
	for _, want := range []string{"gateway", "documents", "accounts", "all", "--documents-url", "--accounts-url"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("basalt targets does not mention %s:\n%s", want, out)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--target=gateway", "--internal-token", strings.Repeat("t", 32)}, "--documents-url is needed"},
		{[]string{"--target=gateway", "--documents-url", "http://127.0.0.1:1", "--accounts-url", "http://127.0.0.1:1"}, "--internal-token"},
		{[]string{"--target=documents", "--internal-token", strings.Repeat("t", 32), "--accounts-url", "http://127.0.0.1:1"}, "with the embedded SQLite database"},
		{[]string{"--target=search"}, "unknown component"},
		{[]string{"--documents-url", "http://127.0.0.1:1"}, "leaves those components out"},
	} {
		out, err := exec.Command(basaltBinary(t), append([]string{"serve", "--data-dir", t.TempDir()}, c.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("serve %v: %v\n%s\nwant it to say %q", c.args, err, out, c.want)
		}
	}
}

// keys are m's keys.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// rulesAndRevocation: per-owner rules as users see them, a refresh, and a
// logout that stops the access token within a second.
func rulesAndRevocation(t *testing.T, gw *client) {
	gw.must(201, "POST", "/v1/collections", `{"name":"diary","schema":{"type":"object","properties":{"owner":{"type":"string"},"text":{"type":"string"}}},
		"rules":{"list":"owner = @auth.id","get":"owner = @auth.id","create":"owner = @auth.id","update":"owner = @auth.id","delete":"owner = @auth.id"}}`)
	ada := gw.signUp("ada@example.com", "correct horse battery")
	bob := gw.signUp("bob@example.com", "correct horse battery")
	var me struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(gw.as(ada.AccessToken).must(200, "GET", "/v1/auth/me", "").Body, &me); err != nil {
		t.Fatal(err)
	}
	gw.as(ada.AccessToken).must(201, "POST", "/v1/collections/diary/documents?id=d1", `{"owner":"`+me.ID+`","text":"mine"}`)
	gw.as(ada.AccessToken).must(403, "POST", "/v1/collections/diary/documents?id=d2", `{"owner":"someone-else","text":"not mine"}`)
	gw.as(bob.AccessToken).must(404, "GET", "/v1/collections/diary/documents/d1", "")
	gw.anonymous().must(404, "GET", "/v1/collections/diary/documents/d1", "")
	list := gw.as(bob.AccessToken).must(200, "GET", "/v1/collections/diary/documents", "").JSON(t)
	if items, _ := list["items"].([]any); len(items) != 0 {
		t.Errorf("bob lists %v", list)
	}
	// A refresh rotates; a logout revokes the session, and the access
	// token stops working through the gateway within a second.
	next := decodeTokens(t, gw.anonymous().must(200, "POST", "/v1/auth/refresh", `{"refreshToken":"`+ada.RefreshToken+`"}`))
	gw.as(next.AccessToken).must(200, "GET", "/v1/collections/diary/documents/d1", "")
	gw.as(next.AccessToken).must(204, "POST", "/v1/auth/logout", "")
	if !waitUntil(time.Second, func() bool {
		return gw.as(next.AccessToken).do("GET", "/v1/collections/diary/documents/d1", "").Status == 401
	}) {
		t.Fatal("a revoked access token still works through the gateway after 1 s")
	}
}

// realtimeStreams: a write reaches an SSE stream and a WatchDocuments
// stream opened before it.
func realtimeStreams(t *testing.T, gw *client) {
	gw.must(201, "POST", "/v1/collections", `{"name":"feed","schema":{"type":"object","properties":{"n":{"type":"integer"}}},"rules":{"list":"","get":""}}`)
	sse := openStream(t, gw.base, "/v1/collections/feed/events", "")
	var token string
	hc := &http.Client{Transport: bearerTransport{rt: h2cClient(t).Transport, token: &token}}
	docs := basaltv1connect.NewDocumentServiceClient(connect.NewClient(connecthttp.NewTransport(hc, gw.base, connecthttp.WithGRPC())))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// From the start of the log, so that the write below reaches the
	// stream however late the server subscribes.
	zero := int64(0)
	watch, err := docs.WatchDocuments(ctx, &basaltv1.WatchDocumentsRequest{Collection: "feed", After: &zero})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	gw.must(201, "POST", "/v1/collections/feed/documents?id=f1", `{"n":1}`)
	if m := sse.next(); m.Event != "document.created" || !strings.Contains(m.Data, `"f1"`) {
		t.Fatalf("SSE through the gateway: %+v", m)
	}
	m, err := watch.Receive()
	for err == nil && m.GetEvent() != nil && m.GetEvent().GetDocumentId() == "" { // the collection's events
		m, err = watch.Receive()
	}
	if err != nil || m.GetEvent().GetDocumentId() != "f1" {
		t.Fatalf("WatchDocuments through the gateway: %v, %v", m, err)
	}
}

// TestMonolithSameScenarios runs the split deployment's own scenarios on
// one process with every component, on PostgreSQL: both answer alike.
func TestMonolithSameScenarios(t *testing.T) {
	t.Parallel() // its own processes and databases
	db := pgtest.URL(t)
	dir := t.TempDir()
	p := startProcess(t, filepath.Join(dir, "all"), "--db", db)
	actAsAdmin(t, []string{"--data-dir", filepath.Join(dir, "admin"), "--db", db}, p)
	c := p.client(t)
	t.Run("RulesAndRevocation", func(t *testing.T) { rulesAndRevocation(t, c) })
	t.Run("Realtime", func(t *testing.T) { realtimeStreams(t, c) })
}

// TestSplitDeploymentMutualTLS: components served over TLS with
// --internal-ca-file ask their callers for a certificate the CA signed.
// The gateway and the documents component present theirs and the
// deployment works; a caller without one is refused at the handshake, and
// one with a certificate but without the internal token is refused by
// Basalt.
func TestSplitDeploymentMutualTLS(t *testing.T) {
	t.Parallel() // its own processes and databases
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	ca.WriteCert(t, caFile)
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Auth.PasswordIPShare = 1
	cfg.DB = pgtest.URL(t)
	cfg.Logs = &syncBuffer{}
	admin := cfg
	admin.DataDir = filepath.Join(dir, "admin")
	admin.Admin = app.AdminAccount{Email: adminEmail, Password: adminPassword}
	if err := app.CreateAdmin(t.Context(), admin); err != nil {
		t.Fatal(err)
	}
	cfg.Split.InternalToken = strings.Repeat("mutual-tls-token-", 2)
	cfg.Split.InternalCAFile = caFile
	cfg.Split.InternalCert, cfg.Split.InternalKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	ca.Issue(t, 2, cfg.Split.InternalCert, cfg.Split.InternalKey)
	component := func(target string, serial int64, configure func(*app.Config)) string {
		c := cfg
		c.DataDir = filepath.Join(dir, target)
		c.Split.Targets = []string{target}
		if serial > 0 {
			c.TLSCert, c.TLSKey = filepath.Join(dir, target+".pem"), filepath.Join(dir, target+"-key.pem")
			ca.Issue(t, serial, c.TLSCert, c.TLSKey)
			c.TLS.HTTP3 = false
		}
		configure(&c)
		return runApp(t, c)
	}
	acc := component(app.TargetAccounts, 3, func(*app.Config) {})
	docs := component(app.TargetDocuments, 4, func(c *app.Config) { c.Split.AccountsURL = "https://" + acc })
	gw := component(app.TargetGateway, 0, func(c *app.Config) {
		c.Split.DocumentsURL, c.Split.AccountsURL = "https://"+docs, "https://"+acc
	})
	c := &client{t: t, base: "http://" + gw, http: &http.Client{Timeout: 10 * time.Second}}
	c = c.as(c.login(adminEmail, adminPassword).AccessToken)
	c.must(201, "POST", "/v1/collections", `{"name":"notes","schema":{"type":"object"}}`)
	c.must(201, "POST", "/v1/collections/notes/documents?id=n1", `{"text":"over mutual TLS"}`)
	c.must(200, "GET", "/v1/collections/notes/documents/n1", "")
	c.must(200, "GET", "/readyz", "")
	// A GraphQL subscription: the gateway passes the WebSocket on over
	// HTTP/1.1 with TLS.
	ws, res := dialGraphQL(t, c)
	if ws == nil {
		t.Fatalf("the WebSocket handshake through the gateway: %d %s", res.Status, res.Body)
	}
	ws.subscribe("s", `subscription { notesChanges { type documentId } }`)
	ws.subscribe("q", "{ __typename }")
	if m := ws.recv(); m.ID != "q" || m.Type != "next" {
		t.Fatalf("got %+v", m)
	}
	ws.recv() // q's complete
	c.must(201, "POST", "/v1/collections/notes/documents?id=n2", `{"text":"watched over mutual TLS"}`)
	if m := ws.recv(); m.ID != "s" || string(m.Payload) != `{"data":{"notesChanges":{"type":"CREATED","documentId":"n2"}}}` {
		t.Fatalf("got %s %s %s", m.ID, m.Type, m.Payload)
	}

	for _, addr := range []string{acc, docs} {
		// No client certificate: the handshake fails.
		noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}, Timeout: 10 * time.Second}
		if res, err := noCert.Get("https://" + addr + "/v1/collections"); err == nil {
			_ = res.Body.Close()
			t.Errorf("%s answered a caller without a client certificate: %d", addr, res.StatusCode)
		}
		// A certificate but no internal token: 401.
		cert, err := tls.LoadX509KeyPair(cfg.Split.InternalCert, cfg.Split.InternalKey)
		if err != nil {
			t.Fatal(err)
		}
		withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{cert}}},
			Timeout: 10 * time.Second}
		res, err := withCert.Get("https://" + addr + "/v1/collections")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s answered a caller without the internal token: %d", addr, res.StatusCode)
		}
	}
}
