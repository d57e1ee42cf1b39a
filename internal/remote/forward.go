package remote

import (
	"net/http"
	"net/http/httputil"
	"strings"

	"connectrpc.com/connect/v2/connecthttp"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/gateway/rpcapi"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// ForwardOptions configures a Forwarder.
type ForwardOptions struct {
	// Options are the component's URL, HTTP client and internal token
	// (Timeout and Retries do not apply: a forwarded request is the
	// client's, and its stream lasts as long as the client keeps it).
	Options
	// ClientIP is the client address of a request, as this process
	// decided it (behind its trusted proxies).
	ClientIP func(*http.Request) string
	// Problem writes the answer of a REST request the component could not
	// be reached for (restapi.WriteStatusProblem's shape).
	Problem func(w http.ResponseWriter, r *http.Request, err error)
}

// internalHeaders are the metadata of calls between components: a
// client's own are dropped, never passed on.
var internalHeaders = []string{rpcapi.InternalTokenHeader, rpcapi.PrincipalHeader, rpcapi.ClientIPHeader, rpcapi.UserAgentHeader, rpcapi.HostHeader}

// Forwarder passes requests on to the component at o.URL as they came
// (method, path, query, body, credentials), adding the internal token and
// the client's address, which the component trusts only with the token;
// the component authenticates and limits them itself. It streams both
// ways (server-sent events, gRPC streams with their trailers). When the
// component cannot be reached, a REST request gets a 503 problem and an
// RPC a Connect, gRPC or gRPC-Web error, unavailable.
func Forwarder(o ForwardOptions) (http.Handler, error) {
	u, err := o.check()
	if err != nil {
		return nil, err
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = defaultClient()
	}
	rpcErrors := connecthttp.NewErrorWriter()
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
			for _, h := range internalHeaders {
				pr.Out.Header.Del(h)
			}
			pr.Out.Header.Set(rpcapi.InternalTokenHeader, o.Token)
			if o.ClientIP != nil {
				pr.Out.Header.Set(rpcapi.ClientIPHeader, o.ClientIP(pr.In))
			}
			if ua := pr.In.Header.Get("User-Agent"); ua != "" {
				pr.Out.Header.Set(rpcapi.UserAgentHeader, ua)
			}
			pr.Out.Header.Set(rpcapi.HostHeader, pr.In.Host)
		},
		Transport:     upgrading(transportOf(hc)),
		FlushInterval: -1, // streams: every write reaches the client at once
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			f := &fault.Error{Kind: fault.Unavailable, Op: "remote.Forward", Msg: "the documents component cannot be reached; try again", Err: err}
			if strings.HasPrefix(r.URL.Path, "/basalt.") || strings.HasPrefix(r.URL.Path, "/grpc.") {
				_ = rpcErrors.Write(w, r, rpcfault.Error(f))
				return
			}
			o.Problem(w, r, f)
		},
	}
	return p, nil
}

// upgrading is t, except that a request asking to switch protocols (a
// WebSocket's, GraphQL subscriptions') goes over HTTP/1.1, the only
// version with Upgrade: the internal client otherwise speaks HTTP/2 only.
func upgrading(t http.RoundTripper) http.RoundTripper {
	ht, ok := t.(*http.Transport)
	if !ok {
		return t
	}
	h1 := ht.Clone()
	p := new(http.Protocols)
	p.SetHTTP1(true)
	h1.Protocols = p
	h1.ForceAttemptHTTP2 = false
	return upgradeTransport{next: t, h1: h1}
}

type upgradeTransport struct{ next, h1 http.RoundTripper }

func (u upgradeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Upgrade") != "" {
		return u.h1.RoundTrip(r)
	}
	return u.next.RoundTrip(r)
}
