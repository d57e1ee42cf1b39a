package auth_test

import (
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
)

func key(roles []string, scopes ...string) auth.Principal {
	return auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Roles: roles, Scopes: scopes}
}

var admin = []string{auth.RoleAdmin}

func TestManage(t *testing.T) {
	user := auth.Principal{Kind: auth.KindUser, ID: "u1"}
	adminUser := auth.Principal{Kind: auth.KindUser, ID: "u2", Roles: admin}
	cases := []struct {
		name  string
		p     auth.Principal
		scope string
		want  fault.Kind // "": admitted
	}{
		{"anonymous", auth.Anonymous(), auth.ScopeAdminAccounts, fault.Unauthenticated},
		{"user", user, auth.ScopeAdminAccounts, fault.Forbidden},
		{"admin user", adminUser, auth.ScopeAdminAccounts, ""},
		{"system", auth.System(), auth.ScopeAdminSigningKeys, ""},
		{"admin key with the scope", key(admin, auth.ScopeAdminAccounts), auth.ScopeAdminAccounts, ""},
		{"admin key with a document scope", key(admin, "posts:read"), auth.ScopeAdminAccounts, fault.Forbidden},
		{"admin key with every document scope", key(admin, "*:*"), auth.ScopeAdminAccounts, fault.Forbidden},
		{"admin key with another area", key(admin, auth.ScopeAdminSessions), auth.ScopeAdminAccounts, fault.Forbidden},
		{"key with the scope but no admin role", key(nil, auth.ScopeAdminAccounts), auth.ScopeAdminAccounts, fault.Forbidden},
		{"manage includes view", key(admin, auth.ScopeCollectionsManage), auth.ScopeCollectionsView, ""},
		{"view does not include manage", key(admin, auth.ScopeCollectionsView), auth.ScopeCollectionsManage, fault.Forbidden},
		{"a collection named admin", key(admin, "admin:*"), auth.ScopeAdminAccounts, fault.Forbidden},
		{"a collection named collections", key(admin, "collections:*"), auth.ScopeCollectionsView, fault.Forbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Manage("op", c.scope)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Manage(%q) = %v, want nil", c.scope, err)
			case c.want != "" && fault.KindOf(err) != c.want:
				t.Fatalf("Manage(%q) = %v, want %v", c.scope, err, c.want)
			}
		})
	}
}

func TestManagementScopesAreNoDocumentScope(t *testing.T) {
	for _, s := range auth.ManagementScopes() {
		if !auth.ValidScope(s) {
			t.Errorf("ValidScope(%q) = false", s)
		}
		// A key with every document scope on the collections the scope's
		// left side names is not let into the area.
		for _, doc := range []string{"*:*", "admin:*", "collections:*", "collections:read"} {
			if key(admin, doc).Permits(s) {
				t.Errorf("%q permits %q", doc, s)
			}
		}
		// And a key with the management scope reads no document.
		if key(admin, s).Allows("admin", auth.ActionGet) || key(admin, s).Allows("collections", auth.ActionGet) {
			t.Errorf("%q allows reading documents", s)
		}
	}
	for _, s := range []string{"admin:everything", "collections:edit", "admin", ":read"} {
		if auth.ValidScope(s) {
			t.Errorf("ValidScope(%q) = true", s)
		}
	}
}

func TestCovers(t *testing.T) {
	cases := []struct {
		have, want []string
		ok         bool
	}{
		{[]string{"posts:read"}, []string{"posts:read"}, true},
		{[]string{"posts:read"}, []string{"posts:get"}, true},
		{[]string{"posts:list", "posts:get"}, []string{"posts:read"}, true},
		{[]string{"posts:read"}, []string{"posts:write"}, false},
		{[]string{"posts:read"}, []string{"posts:*"}, false},
		{[]string{"posts:read"}, []string{"*:read"}, false},
		{[]string{"posts:read"}, []string{"*:*"}, false},
		{[]string{"posts:*"}, []string{"posts:read", "posts:delete"}, true},
		{[]string{"*:read"}, []string{"posts:get", "tags:list"}, true},
		{[]string{"*:*"}, []string{"posts:*", "*:write"}, true},
		{[]string{"*:*"}, []string{auth.ScopeAdminAPIKeys}, false},
		{[]string{auth.ScopeAdminAPIKeys}, []string{auth.ScopeAdminAPIKeys}, true},
		{[]string{auth.ScopeAdminAPIKeys}, []string{auth.ScopeAdminAccounts}, false},
		{[]string{auth.ScopeCollectionsManage}, []string{auth.ScopeCollectionsView}, true},
		{[]string{auth.ScopeCollectionsView}, []string{auth.ScopeCollectionsManage}, false},
		{nil, nil, true},
	}
	for _, c := range cases {
		if got := key(admin, c.have...).Covers(c.want); got != c.ok {
			t.Errorf("%v covers %v = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
	if !(auth.Principal{Kind: auth.KindUser, Roles: admin}).Covers([]string{"*:*", auth.ScopeAdminAccounts}) {
		t.Error("an admin user does not cover every scope")
	}
}

func TestMayGrantRoles(t *testing.T) {
	all := append([]string{"*:*"}, auth.ManagementScopes()...)
	cases := []struct {
		name    string
		p       auth.Principal
		roles   []string
		account bool
		ok      bool
	}{
		{"admin user gives admin", auth.Principal{Kind: auth.KindUser, Roles: admin}, admin, true, true},
		{"no roles", key(nil, "posts:read"), nil, true, true},
		{"key gives its role to a key", key([]string{"editor"}, "posts:read"), []string{"editor"}, false, true},
		{"key gives a role it lacks to a key", key([]string{"editor"}, "posts:read"), []string{"moderator"}, false, false},
		{"narrow admin key gives admin to a key", key(admin, auth.ScopeAdminAPIKeys), admin, false, true},
		{"narrow admin key gives admin to an account", key(admin, auth.ScopeAdminAccounts), admin, true, false},
		{"narrow key gives its role to an account", key([]string{"editor"}, "posts:read", auth.ScopeAdminAccounts), []string{"editor"}, true, false},
		{"unbounded key gives its role to an account", key([]string{"editor"}, "*:*"), []string{"editor"}, true, true},
		{"document-unbounded admin key gives admin to an account", key(admin, "*:*", auth.ScopeAdminAccounts), admin, true, false},
		{"fully unbounded admin key gives admin to an account", key(admin, all...), admin, true, true},
	}
	for _, c := range cases {
		if got := c.p.MayGrantRoles(c.roles, c.account); got != c.ok {
			t.Errorf("%s: MayGrantRoles = %v, want %v", c.name, got, c.ok)
		}
	}
}
