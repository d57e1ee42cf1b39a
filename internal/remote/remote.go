// Package remote reaches the services of another Basalt process (a
// component of a split deployment) through the basalt.v1 API, behind the
// same Go interfaces as the local services: docstore.Documents and
// docstore.Collections. A call carries the caller the gateway
// authenticated, proved by the deployment's internal token; it has a
// deadline; a read is retried when the component could not be reached;
// and an error comes back as the *fault.Error the service returned.
package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// Options configures the connection to a component.
type Options struct {
	// URL is the component's base URL (http:// for cleartext HTTP/2,
	// https:// for TLS).
	URL string
	// HTTPClient sends the calls; it must speak HTTP/2 (with
	// http.Protocols.SetUnencryptedHTTP2 for http://). Nil is a pooled
	// client of cleartext HTTP/2.
	HTTPClient *http.Client
	// Token is the deployment's internal token.
	Token string
	// Timeout bounds a call whose context has no deadline (10 s when
	// zero).
	Timeout time.Duration
	// Retries is how many times a read is tried again when the component
	// could not be reached (2 when zero; negative for none). Writes are
	// never retried: their outcome is unknown.
	Retries int
}

// conn is a connection to one component.
type conn struct {
	client  *connect.Client
	timeout time.Duration
	retries int
}

// check returns the component's URL, or why o cannot reach it.
func (o Options) check() (*url.URL, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote: %q is not a component's URL (http:// or https://host:port)", o.URL)
	}
	if len(o.Token) < rpcapi.MinInternalTokenBytes {
		return nil, fmt.Errorf("remote: the internal token must have at least %d bytes", rpcapi.MinInternalTokenBytes)
	}
	return u, nil
}

func newConn(o Options) (*conn, error) {
	if _, err := o.check(); err != nil {
		return nil, err
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = defaultClient()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	switch {
	case o.Retries == 0:
		o.Retries = 2
	case o.Retries < 0:
		o.Retries = 0
	}
	tr := &http.Client{Transport: metadata{token: o.Token, next: transportOf(hc)}, Jar: hc.Jar}
	// Components talk on a private network, where compressing a message
	// costs more than sending it: the calls ask for none.
	client := connect.NewClient(connecthttp.NewTransport(tr, strings.TrimRight(o.URL, "/"), connecthttp.WithGRPC(), connecthttp.WithCompressors()))
	return &conn{client: client, timeout: o.Timeout, retries: o.Retries}, nil
}

// defaultClient is a pooled client of cleartext HTTP/2.
func defaultClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}}
}

func transportOf(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}

// metadata adds the internal token and the caller to every call.
type metadata struct {
	token string
	next  http.RoundTripper
}

func (m metadata) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(rpcapi.InternalTokenHeader, m.token)
	r.Header.Set(rpcapi.PrincipalHeader, rpcapi.EncodePrincipal(auth.FromContext(r.Context())))
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		if c.ip != "" {
			r.Header.Set(rpcapi.ClientIPHeader, c.ip)
		}
		if c.userAgent != "" {
			r.Header.Set(rpcapi.UserAgentHeader, c.userAgent)
		}
	}
	return m.next.RoundTrip(r)
}

// client is the address and User-Agent of the client a call is made for,
// which the account service records and throttles by.
type client struct{ ip, userAgent string }

type clientKey struct{}

// withClient makes the calls in ctx carry the client's address and
// User-Agent.
func withClient(ctx context.Context, ip, userAgent string) context.Context {
	return context.WithValue(ctx, clientKey{}, client{ip: ip, userAgent: userAgent})
}

// call runs f with a deadline, retrying a read (idempotent) while the
// component cannot be reached, and returns the service's error.
func call[T any](ctx context.Context, c *conn, idempotent bool, f func(context.Context) (T, error)) (T, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	backoff := 25 * time.Millisecond
	for attempt := 0; ; attempt++ {
		out, err := f(ctx)
		if err == nil {
			return out, nil
		}
		if !idempotent || attempt >= c.retries || connect.CodeOf(err) != connect.CodeUnavailable || ctx.Err() != nil {
			var zero T
			return zero, rpcfault.Fault(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			var zero T
			return zero, rpcfault.Fault(errors.Join(err, ctx.Err()))
		case <-t.C:
		}
		backoff *= 4
	}
}
