package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/basaltdev/basalt/client"
	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
)

// h2c is an HTTP client that speaks HTTP/2 without TLS, as gRPC needs.
func h2c(t *testing.T) *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestDocumentsAndErrors: an admin makes a collection with a schema and
// rules, a user signs up and writes through the client, in each protocol;
// the errors are *client.Error values with Basalt's codes.
func TestDocumentsAndErrors(t *testing.T) {
	base := startServer(t)
	for name, protocol := range map[string]client.Protocol{"connect": client.ProtocolConnect, "grpc": client.ProtocolGRPC, "grpc-web": client.ProtocolGRPCWeb} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			opts := client.Options{Protocol: protocol, HTTPClient: h2c(t)}
			admin, err := client.New(base, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := admin.Login(ctx, adminEmail, adminPassword); err != nil {
				t.Fatal(err)
			}
			coll := "notes_" + strings.ReplaceAll(name, "-", "_")
			err = admin.CreateCollection(ctx, client.CollectionSpec{Name: coll,
				Schema: map[string]any{"type": "object", "required": []string{"title"},
					"properties": map[string]any{"title": map[string]any{"type": "string"}, "owner": map[string]any{"type": "string"}}},
				Indexes: [][]string{{"title"}},
				Rules: client.Rules{List: client.Rule("owner = @auth.id"), Get: client.Rule("owner = @auth.id"),
					Create: client.Rule("owner = @auth.id"), Update: client.Rule("owner = @auth.id"), Delete: client.Rule("owner = @auth.id")}})
			if err != nil {
				t.Fatal(err)
			}

			user, err := client.New(base, opts)
			if err != nil {
				t.Fatal(err)
			}
			email := name + "@example.com"
			if err := user.SignUp(ctx, email, "a user password"); err != nil {
				t.Fatal(err)
			}
			if err := user.Login(ctx, email, "a wrong password"); !client.IsUnauthenticated(err) {
				t.Errorf("a wrong password: %v", err)
			}
			if err := user.Login(ctx, email, "a user password"); err != nil {
				t.Fatal(err)
			}
			me, err := user.Me(ctx)
			if err != nil || me.Email != email {
				t.Fatalf("Me: %+v, %v", me, err)
			}
			notes := user.Documents(coll)
			d, err := notes.Create(ctx, map[string]any{"title": "first", "owner": me.ID})
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ Title string }
			if err := d.Decode(&got); err != nil || got.Title != "first" || d.Version != 1 || d.Collection != coll {
				t.Fatalf("created %+v (%v)", d, err)
			}
			_, err = notes.Create(ctx, map[string]any{"owner": me.ID})
			var e *client.Error
			if !errors.As(err, &e) || e.Code != client.CodeValidation || len(e.Fields) == 0 || e.Fields[0].Pointer != "/data" {
				t.Errorf("a document without its title: %#v", err)
			}
			_, err = notes.Create(ctx, map[string]any{"title": "someone else's", "owner": "another"})
			if !client.IsForbidden(err) {
				t.Errorf("a document for another owner: %v", err)
			}
			if _, err := notes.Patch(ctx, d.ID, map[string]any{"title": "second"}, client.WriteOptions{ExpectedVersion: 1}); err != nil {
				t.Fatal(err)
			}
			_, err = notes.Patch(ctx, d.ID, map[string]any{"title": "third"}, client.WriteOptions{ExpectedVersion: 1})
			if !client.IsPreconditionFailed(err) {
				t.Errorf("a patch at an old version: %v", err)
			}
			page, err := notes.List(ctx, client.ListOptions{Filter: `title = "second"`, Total: true})
			if err != nil || len(page.Items) != 1 || page.Total != 1 || page.Items[0].Version != 2 {
				t.Fatalf("list: %+v, %v", page, err)
			}
			// The admin's documents are not the user's to read.
			mine, err := admin.Documents(coll).Create(ctx, map[string]any{"title": "admin's"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := notes.Get(ctx, mine.ID); !client.IsNotFound(err) {
				t.Errorf("another owner's document: %v", err)
			}
			// A batch get leaves out what a get would refuse.
			many, err := notes.GetMany(ctx, mine.ID, d.ID, "missing", d.ID)
			if err != nil || len(many) != 1 || many[0].ID != d.ID || many[0].Version != 2 {
				t.Errorf("GetMany: %+v, %v", many, err)
			}
			if err := notes.Delete(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := notes.Get(ctx, d.ID); !client.IsNotFound(err) {
				t.Errorf("a deleted document: %v", err)
			}
			if err := user.Logout(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := user.Me(ctx); !client.IsUnauthenticated(err) || user.Tokens().AccessToken != "" {
				t.Errorf("after logout: %v, tokens %+v", err, user.Tokens())
			}
		})
	}
}

// TestTokensStayFresh: an access token near its end is refreshed before
// the call, once for all the goroutines that need it at the same time; an
// access token the server refuses is refreshed and the call made again.
func TestTokensStayFresh(t *testing.T) {
	base := startServer(t)
	ctx := context.Background()
	var refreshes atomic.Int32
	var last client.Tokens
	var mu sync.Mutex
	c, err := client.New(base, client.Options{
		// Every token is near its end: the server's live an hour at least.
		RefreshBefore: 24 * time.Hour,
		OnTokens: func(tk client.Tokens) {
			refreshes.Add(1)
			mu.Lock()
			last = tk
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	first := c.Tokens()
	refreshes.Store(0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.Me(ctx)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Me: %v", err)
		}
	}
	// Each caller saw the same near-end token; the first refreshed it and
	// the others took its result, then the new tokens were near their end
	// too, but a refresh waits for none of the callers that came before.
	if n := refreshes.Load(); n < 1 || n > 8 {
		t.Errorf("%d refreshes for 8 concurrent calls", n)
	}
	now := c.Tokens()
	mu.Lock()
	if now.RefreshToken == first.RefreshToken || now != last || now.SessionID != first.SessionID {
		t.Errorf("tokens after refreshing: %+v, reported %+v, first %+v", now, last, first)
	}
	mu.Unlock()

	// A token the server refuses: refreshed once, and the call retried.
	c2, err := client.New(base, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Login(ctx, adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	good := c2.Tokens()
	forged := good
	forged.AccessToken = "forged"
	c2.SetTokens(forged)
	if me, err := c2.Me(ctx); err != nil || me.Email != adminEmail {
		t.Fatalf("Me with a refused access token: %+v, %v", me, err)
	}
	if c2.Tokens().AccessToken == "forged" || c2.Tokens().RefreshToken == good.RefreshToken {
		t.Errorf("the tokens were not refreshed: %+v", c2.Tokens())
	}

	// An API key is sent as it is.
	key, err := c2.Services.APIKeys.CreateAPIKey(ctx, apiKeyRequest())
	if err != nil {
		t.Fatal(err)
	}
	k, err := client.New(base, client.Options{APIKey: key.GetKey()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Me(ctx); !client.IsForbidden(err) {
		t.Errorf("an API key's Me: %v (a key has no account)", err)
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://x", "http://", "http://x/api"} {
		if _, err := client.New(u, client.Options{}); err == nil {
			t.Errorf("%q: no error", u)
		}
	}
}

func apiKeyRequest() *basaltv1.CreateAPIKeyRequest {
	return &basaltv1.CreateAPIKeyRequest{Name: "client test", Scopes: []string{"collections:view"}}
}

// recorded is a RoundTripper that records the method, path and answer's
// Cache-Control of each request it passes on.
type recorded struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (r *recorded) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.seen = append(r.seen, req.Method+" "+req.URL.Path+" "+res.Header.Get("Cache-Control"))
		r.mu.Unlock()
	}
	return res, err
}

func (r *recorded) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen
	r.seen = nil
	return seen
}

// TestConnectReadsAreGETs: in the Connect protocol, the reads that change
// nothing are GETs, unless their URL would pass client.MaxGetURLBytes;
// writes are POSTs; the account service's answers are never cached.
func TestConnectReadsAreGETs(t *testing.T) {
	base := startServer(t)
	ctx := context.Background()
	rec := &recorded{next: h2c(t).Transport}
	c, err := client.New(base, client.Options{HTTPClient: &http.Client{Transport: rec, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateCollection(ctx, client.CollectionSpec{Name: "gets",
		Schema: map[string]any{"type": "object", "properties": map[string]any{"title": map[string]any{"type": "string"}}}}); err != nil {
		t.Fatal(err)
	}
	docs := c.Documents("gets")
	rec.take()
	d, err := docs.Create(ctx, map[string]any{"title": "one"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := docs.Get(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := docs.List(ctx, client.ListOptions{Filter: `title = "one"`}); err != nil {
		t.Fatal(err)
	}
	// Within the longest filter (4 KiB), but past the longest GET URL once
	// in base64.
	long := strings.Repeat(`title = "`+strings.Repeat("x", 1000)+`" || `, 3) + `title = "y"`
	if page, err := docs.List(ctx, client.ListOptions{Filter: long}); err != nil || len(page.Items) != 0 {
		t.Fatalf("a list with a %d-byte filter: %+v, %v", len(long), page, err)
	}
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /basalt.v1.DocumentService/CreateDocument ",
		"GET /basalt.v1.DocumentService/GetDocument ",
		"GET /basalt.v1.DocumentService/ListDocuments ",
		"POST /basalt.v1.DocumentService/ListDocuments ",
		"GET /basalt.v1.AuthService/GetMe no-store",
	}
	if got := rec.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
