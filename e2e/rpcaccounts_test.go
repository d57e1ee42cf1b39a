package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// bearerTransport sends every request with the Authorization header of
// *token ("" for none).
type bearerTransport struct {
	rt    http.RoundTripper
	token *string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if *b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+*b.token)
	}
	return b.rt.RoundTrip(r)
}

// TestAccountsOverRPC walks an account's life over the basalt.v1 account
// services, in the gRPC protocol over h2c, on both engines: sign-up,
// login, the account, sessions, refresh with rotation and reuse
// detection, an API key created, used and revoked, logout; errors carry
// the codes and Problem details REST's answers have.
func TestAccountsOverRPC(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		// A refresh token used again after the grace ends its session.
		c, _, _ := serveApp(t, engine, true, func(cfg *app.Config) { cfg.Auth.RefreshGrace = time.Millisecond })
		c = c.as(c.login(adminEmail, adminPassword).AccessToken)
		adminToken := c.token
		var token string
		hc := &http.Client{Transport: bearerTransport{rt: h2cClient(t).Transport, token: &token}, Timeout: 10 * time.Second}
		conn := connect.NewClient(connecthttp.NewTransport(hc, c.base, connecthttp.WithGRPC()))
		authSvc := basaltv1connect.NewAuthServiceClient(conn)
		keys := basaltv1connect.NewAPIKeyServiceClient(conn)
		docs := basaltv1connect.NewDocumentServiceClient(conn)
		ctx := context.Background()
		wantKind := func(what string, err error, kind fault.Kind) {
			t.Helper()
			if got := fault.KindOf(rpcfault.Fault(err)); got != kind {
				t.Errorf("%s: %v (kind %q), want %q", what, err, got, kind)
			}
		}

		token = "forged" // ignored by the public procedures
		if _, err := authSvc.SignUp(ctx, &basaltv1.SignUpRequest{Email: "rpc@example.com", Password: "rpc account password"}); err != nil {
			t.Fatal(err)
		}
		_, err := authSvc.Login(ctx, &basaltv1.LoginRequest{Email: "rpc@example.com", Password: "wrong password here"})
		wantKind("a wrong password", err, fault.Unauthenticated)
		login, err := authSvc.Login(ctx, &basaltv1.LoginRequest{Email: "rpc@example.com", Password: "rpc account password", Device: "test"})
		if err != nil {
			t.Fatal(err)
		}
		tk := login.GetTokens()
		if tk.GetTokenType() != "Bearer" || tk.GetAccessToken() == "" || tk.GetRefreshToken() == "" || tk.GetSession().GetDevice() != "test" {
			t.Fatalf("tokens %v", tk)
		}

		token = tk.GetAccessToken()
		me, err := authSvc.GetMe(ctx, &basaltv1.GetMeRequest{})
		if err != nil || me.GetAccount().GetEmail() != "rpc@example.com" || me.GetAccount().GetVerified() {
			t.Fatalf("GetMe: %v, %v", me, err)
		}
		sessions, err := authSvc.ListSessions(ctx, &basaltv1.ListSessionsRequest{})
		if err != nil || len(sessions.GetItems()) != 1 || !sessions.GetItems()[0].GetCurrent() {
			t.Fatalf("ListSessions: %v, %v", sessions, err)
		}

		token = ""
		next, err := authSvc.Refresh(ctx, &basaltv1.RefreshRequest{RefreshToken: tk.GetRefreshToken()})
		if err != nil || next.GetTokens().GetSession().GetId() != tk.GetSession().GetId() || next.GetTokens().GetRefreshToken() == tk.GetRefreshToken() {
			t.Fatalf("Refresh: %v, %v", next, err)
		}

		// A user may not manage API keys; an admin may.
		token = next.GetTokens().GetAccessToken()
		_, err = keys.CreateAPIKey(ctx, &basaltv1.CreateAPIKeyRequest{Name: "k", Scopes: []string{"posts:read"}})
		wantKind("a user creating an API key", err, fault.Forbidden)
		token = adminToken
		c.must(201, "POST", "/v1/collections", `{"name":"posts","rules":{"list":"","get":""}}`)
		made, err := keys.CreateAPIKey(ctx, &basaltv1.CreateAPIKeyRequest{Name: "reader", Scopes: []string{"posts:read"}})
		if err != nil || made.GetKey() == "" || made.GetApiKey().GetName() != "reader" {
			t.Fatalf("CreateAPIKey: %v, %v", made, err)
		}
		token = made.GetKey()
		if _, err := docs.ListDocuments(ctx, &basaltv1.ListDocumentsRequest{Collection: "posts"}); err != nil {
			t.Fatalf("the key's list: %v", err)
		}
		_, err = authSvc.GetMe(ctx, &basaltv1.GetMeRequest{})
		wantKind("an API key asking for its account", err, fault.Forbidden)
		token = adminToken
		if _, err := keys.RevokeAPIKey(ctx, &basaltv1.RevokeAPIKeyRequest{Id: made.GetApiKey().GetId()}); err != nil {
			t.Fatal(err)
		}
		token = made.GetKey()
		_, err = docs.ListDocuments(ctx, &basaltv1.ListDocumentsRequest{Collection: "posts"})
		wantKind("a revoked key", err, fault.Unauthenticated)

		// The first refresh token again: reuse ends the session.
		token = ""
		_, err = authSvc.Refresh(ctx, &basaltv1.RefreshRequest{RefreshToken: tk.GetRefreshToken()})
		wantKind("a refresh token used twice", err, fault.Unauthenticated)
		token = next.GetTokens().GetAccessToken()
		_, err = authSvc.GetMe(ctx, &basaltv1.GetMeRequest{})
		wantKind("the session after a reused refresh token", err, fault.Unauthenticated)

		again, err := authSvc.Login(ctx, &basaltv1.LoginRequest{Email: "rpc@example.com", Password: "rpc account password"})
		if err != nil {
			t.Fatal(err)
		}
		token = again.GetTokens().GetAccessToken()
		if _, err := authSvc.Logout(ctx, &basaltv1.LogoutRequest{}); err != nil {
			t.Fatal(err)
		}
		_, err = authSvc.GetMe(ctx, &basaltv1.GetMeRequest{})
		wantKind("after logout", err, fault.Unauthenticated)
	})
}
