// Package client is the Go client of Basalt's gRPC/Connect API (package
// basalt.v1): typed calls for documents, collections and the caller's
// account, with the access token kept fresh by the client itself.
//
//	c, err := client.New("https://api.example.com", client.Options{})
//	err = c.Login(ctx, "ada@example.com", "her password")
//	doc, err := c.Documents("posts").Create(ctx, map[string]any{"title": "Hello"})
//
// After Login the client sends the access token with every call and, a
// little before it expires (or when the server says it has), exchanges
// the refresh token for new ones, once for all the goroutines that share
// the client. With Options.APIKey it sends the key instead. Errors are
// *Error values carrying Basalt's error code (the same as REST's problem
// "code"), so that errors.As and the Is… helpers tell them apart.
//
// The generated clients of every service are in Services, sharing the
// client's connection and credentials, for the calls this package does
// not wrap (administration, API keys).
package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
)

// Protocol is the wire protocol of the calls.
type Protocol int

const (
	// ProtocolConnect is the Connect protocol, plain HTTP over HTTP/1.1,
	// HTTP/2 or HTTP/3 (the default). Reads that change nothing (Get,
	// List, Me, …) are GETs, whose request is one frame on HTTP/2 and
	// which HTTP caches understand; a read whose URL would pass
	// MaxGetURLBytes, and every other call, is a POST.
	ProtocolConnect Protocol = iota
	// ProtocolGRPC is gRPC, which needs HTTP/2: TLS (https://), or an
	// HTTPClient whose transport speaks HTTP/2 without TLS.
	ProtocolGRPC
	// ProtocolGRPCWeb is gRPC-Web.
	ProtocolGRPCWeb
)

// MaxGetURLBytes is the longest URL of a read sent as a GET in the
// Connect protocol: 4 KiB passes the proxies and CDNs in common use.
const MaxGetURLBytes = 4096

// Options configures a client.
type Options struct {
	// HTTPClient sends the calls; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// Protocol is the wire protocol (ProtocolConnect when zero).
	Protocol Protocol
	// APIKey, when set, authenticates every call (instead of a login).
	APIKey string
	// RefreshBefore is how long before the access token expires the
	// client refreshes it (30 s when zero).
	RefreshBefore time.Duration
	// OnTokens, when set, is called with the tokens after every login and
	// refresh, for the caller to keep them (see SetTokens).
	OnTokens func(Tokens)
}

// Services are the generated clients of Basalt's services, sharing the
// client's connection and credentials.
type Services struct {
	Documents   basaltv1connect.DocumentServiceClient
	Collections basaltv1connect.CollectionServiceClient
	Auth        basaltv1connect.AuthServiceClient
	Admin       basaltv1connect.AdminServiceClient
	APIKeys     basaltv1connect.APIKeyServiceClient
}

// Client calls one Basalt server. It is safe for concurrent use.
type Client struct {
	Services Services

	opts Options
	now  func() time.Time

	mu     sync.Mutex // guards tokens
	tokens Tokens

	refreshMu sync.Mutex // one refresh at a time
}

// Tokens are an access token and the refresh token of its session.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	// SessionID is the session the tokens belong to.
	SessionID string
}

// New returns a client of the Basalt server at baseURL
// (http://host:port or https://host:port, with no path).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("client: %q is not a server's base URL (http:// or https://host[:port])", baseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.RefreshBefore <= 0 {
		opts.RefreshBefore = 30 * time.Second
	}
	c := &Client{opts: opts, now: time.Now}
	hc := &http.Client{Transport: credentials{c: c, next: transportOf(opts.HTTPClient)}, Timeout: opts.HTTPClient.Timeout,
		Jar: opts.HTTPClient.Jar, CheckRedirect: opts.HTTPClient.CheckRedirect}
	tropts := []connecthttp.Option{connecthttp.WithHTTPGet(), connecthttp.WithHTTPGetMaxURLSize(MaxGetURLBytes, true)}
	switch opts.Protocol {
	case ProtocolGRPC:
		tropts = append(tropts, connecthttp.WithGRPC())
	case ProtocolGRPCWeb:
		tropts = append(tropts, connecthttp.WithGRPCWeb())
	}
	conn := connect.NewClient(connecthttp.NewTransport(hc, strings.TrimRight(baseURL, "/"), tropts...))
	c.Services = Services{
		Documents:   basaltv1connect.NewDocumentServiceClient(conn),
		Collections: basaltv1connect.NewCollectionServiceClient(conn),
		Auth:        basaltv1connect.NewAuthServiceClient(conn),
		Admin:       basaltv1connect.NewAdminServiceClient(conn),
		APIKeys:     basaltv1connect.NewAPIKeyServiceClient(conn),
	}
	return c, nil
}

func transportOf(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}

// anonymousKey marks a context whose call sends no credential (the
// public procedures: a login, a refresh).
type anonymousKey struct{}

// credentials adds the client's credential to every request.
type credentials struct {
	c    *Client
	next http.RoundTripper
}

func (cr credentials) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Context().Value(anonymousKey{}) != nil {
		return cr.next.RoundTrip(r)
	}
	bearer, err := cr.c.bearer(r.Context())
	if err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, err
	}
	if bearer != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	return cr.next.RoundTrip(r)
}

// bearer is the credential to send: the API key, or an access token fresh
// for RefreshBefore at least (refreshing it first if need be), or "" for
// an anonymous call.
func (c *Client) bearer(ctx context.Context) (string, error) {
	if c.opts.APIKey != "" {
		return c.opts.APIKey, nil
	}
	t := c.Tokens()
	if t.AccessToken == "" {
		return "", nil
	}
	if c.now().Add(c.opts.RefreshBefore).Before(t.AccessExpiresAt) {
		return t.AccessToken, nil
	}
	t, err := c.refresh(ctx, t.RefreshToken)
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// Tokens returns the client's current tokens (zero before a login).
func (c *Client) Tokens() Tokens {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens
}

// SetTokens makes the client use t, such as tokens kept from an earlier
// run (Options.OnTokens).
func (c *Client) SetTokens(t Tokens) {
	c.mu.Lock()
	c.tokens = t
	c.mu.Unlock()
}

func (c *Client) setTokens(t *basaltv1.Tokens) Tokens {
	out := Tokens{AccessToken: t.GetAccessToken(), RefreshToken: t.GetRefreshToken(), SessionID: t.GetSession().GetId()}
	if ts := t.GetAccessTokenExpiresAt(); ts != nil {
		out.AccessExpiresAt = ts.AsTime()
	}
	if ts := t.GetRefreshTokenExpiresAt(); ts != nil {
		out.RefreshExpiresAt = ts.AsTime()
	}
	c.SetTokens(out)
	if c.opts.OnTokens != nil {
		c.opts.OnTokens(out)
	}
	return out
}

// refresh exchanges used, the refresh token the caller saw, for new
// tokens, unless another goroutine did meanwhile: then it returns those.
func (c *Client) refresh(ctx context.Context, used string) (Tokens, error) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if t := c.Tokens(); t.RefreshToken != used {
		return t, nil
	}
	if used == "" {
		return Tokens{}, &Error{Code: CodeUnauthenticated, Message: "not logged in"}
	}
	res, err := c.Services.Auth.Refresh(context.WithValue(ctx, anonymousKey{}, true), &basaltv1.RefreshRequest{RefreshToken: used})
	if err != nil {
		err = errorOf(err)
		if IsUnauthenticated(err) {
			// The session ended: the tokens are of no use any more.
			c.SetTokens(Tokens{})
		}
		return Tokens{}, err
	}
	return c.setTokens(res.GetTokens()), nil
}

// Refresh exchanges the refresh token for new tokens now.
func (c *Client) Refresh(ctx context.Context) error {
	_, err := c.refresh(ctx, c.Tokens().RefreshToken)
	return err
}

// call runs f with the client's credential, and once more after a
// refresh when the server refused the access token (expired early, or
// its signing key rotated): a refused credential means nothing was done,
// so the retry is safe for any call.
func call[T any](ctx context.Context, c *Client, f func(context.Context) (T, error)) (T, error) {
	sent := c.Tokens()
	out, err := f(ctx)
	if err == nil {
		return out, nil
	}
	if c.opts.APIKey == "" && sent.RefreshToken != "" && connect.CodeOf(err) == connect.CodeUnauthenticated {
		if _, rerr := c.refresh(ctx, sent.RefreshToken); rerr == nil {
			out, err = f(ctx)
			if err == nil {
				return out, nil
			}
		}
	}
	var zero T
	return zero, errorOf(err)
}

// SignUp creates an account. The answer does not tell whether the
// address already had one (its owner is notified instead).
func (c *Client) SignUp(ctx context.Context, email, password string) error {
	_, err := c.Services.Auth.SignUp(context.WithValue(ctx, anonymousKey{}, true), &basaltv1.SignUpRequest{Email: email, Password: password})
	return errorOf(err)
}

// Login starts a session; the client then sends its access token with
// every call and keeps it fresh.
func (c *Client) Login(ctx context.Context, email, password string) error {
	return c.LoginDevice(ctx, email, password, "")
}

// LoginDevice is Login with a label for the session ("Ada's phone").
func (c *Client) LoginDevice(ctx context.Context, email, password, device string) error {
	res, err := c.Services.Auth.Login(context.WithValue(ctx, anonymousKey{}, true),
		&basaltv1.LoginRequest{Email: email, Password: password, Device: device})
	if err != nil {
		return errorOf(err)
	}
	c.setTokens(res.GetTokens())
	return nil
}

// Logout ends the session and forgets its tokens.
func (c *Client) Logout(ctx context.Context) error {
	_, err := call(ctx, c, func(ctx context.Context) (*basaltv1.LogoutResponse, error) {
		return c.Services.Auth.Logout(ctx, &basaltv1.LogoutRequest{})
	})
	if err == nil || IsUnauthenticated(err) {
		c.SetTokens(Tokens{})
	}
	return err
}

// Account is an account.
type Account struct {
	ID        string
	Email     string
	Roles     []string
	Verified  bool
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Me returns the caller's account.
func (c *Client) Me(ctx context.Context) (Account, error) {
	res, err := call(ctx, c, func(ctx context.Context) (*basaltv1.GetMeResponse, error) {
		return c.Services.Auth.GetMe(ctx, &basaltv1.GetMeRequest{})
	})
	if err != nil {
		return Account{}, err
	}
	a := res.GetAccount()
	return Account{ID: a.GetId(), Email: a.GetEmail(), Roles: a.GetRoles(), Verified: a.GetVerified(), Disabled: a.GetDisabled(),
		CreatedAt: a.GetCreatedAt().AsTime(), UpdatedAt: a.GetUpdatedAt().AsTime()}, nil
}

// errNoCollection is the error of a call on Documents("").
var errNoCollection = errors.New("client: no collection named")
