package rpcapi

import (
	"context"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/rpcfault"
)

// Component is what an accounts component answers other components
// beyond the public services (basalt.v1.ComponentService).
type Component interface {
	auth.Authenticator
	JWKS(ctx context.Context) ([]byte, error)
}

// componentService serves basalt.v1.ComponentService. The guard lets
// only internal calls reach it (componentProcedures).
type componentService struct {
	svc   Component
	ready func(context.Context) error
}

func (s componentService) Authenticate(ctx context.Context, r *basaltv1.AuthenticateRequest) (*basaltv1.AuthenticateResponse, error) {
	if s.svc == nil {
		return nil, rpcfault.Error(fault.New(fault.Unavailable, op, "this component has no account service"))
	}
	p, err := s.svc.Authenticate(ctx, r.GetCredential())
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.AuthenticateResponse{Principal: PrincipalMessage(p)}, nil
}

func (s componentService) GetJWKS(ctx context.Context, _ *basaltv1.GetJWKSRequest) (*basaltv1.GetJWKSResponse, error) {
	if s.svc == nil {
		return nil, rpcfault.Error(fault.New(fault.Unavailable, op, "this component has no account service"))
	}
	b, err := s.svc.JWKS(ctx)
	if err != nil {
		return nil, rpcfault.Error(err)
	}
	return &basaltv1.GetJWKSResponse{Jwks: b}, nil
}

func (s componentService) Ready(ctx context.Context, _ *basaltv1.ReadyRequest) (*basaltv1.ReadyResponse, error) {
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			return nil, rpcfault.Error(&fault.Error{Kind: fault.Unavailable, Op: op, Msg: "not ready: " + err.Error()})
		}
	}
	return &basaltv1.ReadyResponse{}, nil
}

// componentProcedures answer internal calls only.
var componentProcedures = map[string]bool{
	basaltv1connect.ComponentServiceAuthenticateProcedure: true,
	basaltv1connect.ComponentServiceGetJWKSProcedure:      true,
	basaltv1connect.ComponentServiceReadyProcedure:        true,
}

// PrincipalMessage is p as ComponentService returns it.
func PrincipalMessage(p auth.Principal) *basaltv1.Principal {
	return &basaltv1.Principal{Kind: p.Kind.String(), Id: p.ID, SessionId: p.SessionID, Roles: p.Roles, Scopes: p.Scopes, Account: p.Account}
}

// PrincipalOf is the principal of m; an unknown kind is an error.
func PrincipalOf(m *basaltv1.Principal) (auth.Principal, error) {
	kind, ok := kindNames[m.GetKind()]
	if !ok {
		return auth.Principal{}, fault.Newf(fault.Internal, op, "unknown principal kind %q", m.GetKind())
	}
	return auth.Principal{Kind: kind, ID: m.GetId(), SessionID: m.GetSessionId(), Roles: m.GetRoles(), Scopes: m.GetScopes(), Account: m.GetAccount()}, nil
}
