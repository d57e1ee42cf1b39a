package rpcapi

// Calls between Basalt's components. In a split deployment the gateway
// authenticates and rate-limits each client request once, then calls the
// component that serves it (documents, accounts) with the same basalt.v1
// procedures, adding who the caller is. The component trusts that only
// from a peer that proves it is a Basalt component: the shared internal
// token.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
)

// The metadata of calls between components.
const (
	// InternalTokenHeader carries the shared internal token.
	InternalTokenHeader = "Basalt-Internal-Token"
	// PrincipalHeader carries the caller the gateway authenticated
	// (EncodePrincipal).
	PrincipalHeader = "Basalt-Principal"
	// ClientIPHeader carries the client's address (throttles, session
	// records).
	ClientIPHeader = "Basalt-Client-Ip"
	// UserAgentHeader carries the client's User-Agent (session records).
	UserAgentHeader = "Basalt-User-Agent"
	// HostHeader carries the host the client asked for (the origin
	// check of WebSocket connections).
	HostHeader = "Basalt-Host"
)

// MinInternalTokenBytes is the shortest internal token accepted.
const MinInternalTokenBytes = 32

// Internal makes the API serve other Basalt components: a call that
// carries the internal token is made as the principal of its metadata,
// with its client address and User-Agent, and without rate limits (the
// gateway applied them); a call with another token is refused.
type Internal struct {
	// Token is the shared secret of the deployment's components (at least
	// MinInternalTokenBytes).
	Token string
	// Only refuses calls without the token: the component serves other
	// components, never clients directly.
	Only bool
}

// principalJSON is a principal as it travels between components.
type principalJSON struct {
	Kind    string   `json:"k"`
	ID      string   `json:"id,omitempty"`
	Session string   `json:"s,omitempty"`
	Roles   []string `json:"r,omitempty"`
	Scopes  []string `json:"sc,omitempty"`
	Account string   `json:"a,omitempty"`
}

var kindNames = map[string]auth.Kind{
	auth.KindAnonymous.String(): auth.KindAnonymous,
	auth.KindUser.String():      auth.KindUser,
	auth.KindAPIKey.String():    auth.KindAPIKey,
	auth.KindSystem.String():    auth.KindSystem,
}

// EncodePrincipal is p as the value of PrincipalHeader.
func EncodePrincipal(p auth.Principal) string {
	b, _ := json.Marshal(principalJSON{Kind: p.Kind.String(), ID: p.ID, Session: p.SessionID, Roles: p.Roles, Scopes: p.Scopes, Account: p.Account})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodePrincipal reads a value of PrincipalHeader.
func DecodePrincipal(v string) (auth.Principal, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return auth.Principal{}, err
	}
	var pj principalJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return auth.Principal{}, err
	}
	kind, ok := kindNames[pj.Kind]
	if !ok {
		return auth.Principal{}, errors.New("unknown principal kind " + pj.Kind)
	}
	return auth.Principal{Kind: kind, ID: pj.ID, SessionID: pj.Session, Roles: pj.Roles, Scopes: pj.Scopes, Account: pj.Account}, nil
}

// headers are a call's request metadata (*connect.Header).
type headers interface {
	Values(key string) []string
	Get(key string) string
}

// origin is where a call comes from.
type origin int

const (
	// fromClient: a client's call, or a component's that carries no
	// token.
	fromClient origin = iota
	// fromComponent: a component's call made as the principal of its
	// metadata (the gateway authenticated and limited the client).
	fromComponent
	// forwardedByGateway: a client's call the gateway passed on as it
	// came (a stream): it is authenticated and limited here, from the
	// client address and User-Agent of its metadata.
	forwardedByGateway
)

// internalCall tells where a call with headers h comes from, as whom when
// from a component, and the client address and User-Agent a component
// vouches for; an error refuses the call.
func (i *Internal) internalCall(h headers) (p auth.Principal, ip, userAgent string, from origin, err error) {
	const op = "rpcapi.internal"
	if i == nil {
		return auth.Principal{}, "", "", fromClient, nil
	}
	vs := h.Values(InternalTokenHeader)
	if len(vs) == 0 {
		if i.Only {
			return auth.Principal{}, "", "", fromClient, fault.New(fault.Unauthenticated, op, "this component serves other Basalt components only")
		}
		return auth.Principal{}, "", "", fromClient, nil
	}
	if len(vs) != 1 || !i.Valid(vs[0]) {
		return auth.Principal{}, "", "", fromClient, fault.New(fault.Unauthenticated, op, "the internal token is not this deployment's")
	}
	if len(h.Values(PrincipalHeader)) == 0 {
		return auth.Principal{}, h.Get(ClientIPHeader), h.Get(UserAgentHeader), forwardedByGateway, nil
	}
	p, err = DecodePrincipal(h.Get(PrincipalHeader))
	if err != nil {
		return auth.Principal{}, "", "", fromClient, fault.New(fault.Invalid, op, "the principal of an internal call is malformed")
	}
	return p, h.Get(ClientIPHeader), h.Get(UserAgentHeader), fromComponent, nil
}

// Valid reports whether token is the deployment's internal token, in
// constant time.
func (i *Internal) Valid(token string) bool {
	if i == nil || i.Token == "" {
		return false
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(i.Token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// forwarded puts the client address and User-Agent of an internal call in
// ctx, where callerOf finds them.
func forwarded(ctx context.Context, ip, userAgent string) context.Context {
	call := *callOf(ctx)
	call.ip, call.userAgent, call.forwarded = ip, userAgent, true
	return context.WithValue(ctx, httpCallKey{}, &call)
}
