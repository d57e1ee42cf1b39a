package authapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// apiKey is the decoded API key view.
type apiKey struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Prefix    string   `json:"prefix"`
	Roles     []string `json:"roles"`
	Scopes    []string `json:"scopes"`
	CreatedBy *string  `json:"createdBy"`
	// CreatedByKey is the key that created this one.
	CreatedByKey *string `json:"createdByKey"`
	CreatedAt    string  `json:"createdAt"`
	ExpiresAt    *string `json:"expiresAt"`
	LastUsedAt   *string `json:"lastUsedAt"`
	RevokedAt    *string `json:"revokedAt"`
	Key          string  `json:"key"`
}

type signingKey struct {
	KID       string  `json:"kid"`
	CreatedAt string  `json:"createdAt"`
	NotAfter  *string `json:"notAfter"`
}

func TestAdminAccounts(t *testing.T) {
	s := newStack(t)
	root := s.admin()
	as := root.AccessToken

	// Create: 201 with Location; the email is taken afterwards.
	rec := s.expect(request{method: "POST", path: "/v1/admin/accounts", bearer: as,
		body: `{"email":"ada@example.com","password":"` + testPassword + `","roles":["editor"],"verified":true}`}, 201)
	ada := decodeJSON[account](t, rec)
	if loc := rec.Header().Get("Location"); loc != "/v1/admin/accounts/"+ada.ID {
		t.Errorf("Location = %q", loc)
	}
	if ada.Email != "ada@example.com" || !ada.Verified || strings.Join(ada.Roles, ",") != "editor" {
		t.Fatalf("created = %+v", ada)
	}
	s.expect(request{method: "POST", path: "/v1/admin/accounts", bearer: as,
		body: `{"email":"ada@example.com","password":"` + testPassword + `"}`}, 409)
	s.expect(request{method: "POST", path: "/v1/admin/accounts", bearer: as,
		body: `{"email":"bob@example.com","password":"` + testPassword + `","roles":["Not A Role"]}`}, 400)
	for _, e := range []string{"bob", "cid", "dan"} {
		s.expect(request{method: "POST", path: "/v1/admin/accounts", bearer: as,
			body: `{"email":"` + e + `@example.com","password":"` + testPassword + `"}`}, 201)
	}

	// Get.
	got := decodeJSON[account](t, s.expect(request{method: "GET", path: "/v1/admin/accounts/" + ada.ID, bearer: as}, 200))
	if got.ID != ada.ID || got.Email != ada.Email {
		t.Fatalf("get = %+v", got)
	}
	s.expect(request{method: "GET", path: "/v1/admin/accounts/nope", bearer: as}, 404)

	// List in pages of two: five accounts (root included) in three pages.
	var seen []string
	path := "/v1/admin/accounts?limit=2"
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		page := decodeJSON[items[account]](t, s.expect(request{method: "GET", path: path, bearer: as}, 200))
		for _, a := range page.Items {
			seen = append(seen, a.Email)
		}
		if page.NextCursor == nil {
			if len(page.Items) != 1 {
				t.Errorf("last page has %d items", len(page.Items))
			}
			break
		}
		path = "/v1/admin/accounts?limit=2&cursor=" + *page.NextCursor
	}
	if want := "ada@example.com,bob@example.com,cid@example.com,dan@example.com,root@example.com"; strings.Join(sortedCopy(seen), ",") != want {
		t.Fatalf("listed %v", seen)
	}
	all := decodeJSON[items[account]](t, s.expect(request{method: "GET", path: "/v1/admin/accounts", bearer: as}, 200))
	if len(all.Items) != 5 || all.NextCursor != nil {
		t.Fatalf("default page: %d items, nextCursor %v", len(all.Items), all.NextCursor)
	}
	// An email search, ignoring case, in pages.
	found := decodeJSON[items[account]](t, s.expect(request{method: "GET", path: "/v1/admin/accounts?email=%20D%40Example.COM", bearer: as}, 200))
	if len(found.Items) != 1 || found.Items[0].Email != "cid@example.com" {
		t.Fatalf("email=d@example.com found %+v", found.Items)
	}
	found = decodeJSON[items[account]](t, s.expect(request{method: "GET", path: "/v1/admin/accounts?email=example&limit=4", bearer: as}, 200))
	if len(found.Items) != 4 || found.NextCursor == nil {
		t.Fatalf("email=example&limit=4: %d items, nextCursor %v", len(found.Items), found.NextCursor)
	}
	found = decodeJSON[items[account]](t, s.expect(request{method: "GET", path: "/v1/admin/accounts?email=example&limit=4&cursor=" + *found.NextCursor, bearer: as}, 200))
	if len(found.Items) != 1 || found.NextCursor != nil {
		t.Fatalf("email=example, second page: %d items, nextCursor %v", len(found.Items), found.NextCursor)
	}
	for _, q := range []string{"limit=0", "limit=-1", "limit=x", "cursor=", "limit=1&limit=2", "after=x", "email=" + strings.Repeat("x", 255), "email=%ff"} {
		s.expect(request{method: "GET", path: "/v1/admin/accounts?" + q, bearer: as}, 400)
	}

	// Sessions of an account, and an admin revoking one.
	adaTok := s.login("ada@example.com", testPassword)
	list := decodeJSON[items[session]](t, s.expect(request{method: "GET", path: "/v1/admin/accounts/" + ada.ID + "/sessions", bearer: as}, 200))
	if len(list.Items) != 1 || list.Items[0].ID != adaTok.Session.ID || list.Items[0].Current {
		t.Fatalf("account sessions = %+v", list)
	}
	s.expect(request{method: "DELETE", path: "/v1/admin/sessions/" + adaTok.Session.ID, bearer: as}, 204)
	s.expect(request{method: "GET", path: "/v1/auth/me", bearer: adaTok.AccessToken}, 401)

	// Patch: roles and disabled; absent members stay.
	adaTok = s.login("ada@example.com", testPassword)
	patched := decodeJSON[account](t, s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as,
		body: `{"roles":["editor","viewer"]}`, headers: map[string]string{"Content-Type": "application/merge-patch+json"}}, 200))
	if strings.Join(patched.Roles, ",") != "editor,viewer" || patched.Disabled {
		t.Fatalf("patched = %+v", patched)
	}
	patched = decodeJSON[account](t, s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as,
		body: `{"disabled":true}`}, 200))
	if !patched.Disabled || strings.Join(patched.Roles, ",") != "editor,viewer" {
		t.Fatalf("disabled = %+v", patched)
	}
	s.expect(request{method: "GET", path: "/v1/auth/me", bearer: adaTok.AccessToken}, 401)
	s.expect(request{method: "POST", path: "/v1/auth/login", body: `{"email":"ada@example.com","password":"` + testPassword + `"}`}, 403)
	// Verified: set now, kept by another true, cleared by false.
	verified := decodeJSON[account](t, s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as,
		body: `{"verified":true}`}, 200))
	if !verified.Verified || verified.VerifiedAt == nil || !verified.Disabled {
		t.Fatalf("verified = %+v", verified)
	}
	again := decodeJSON[account](t, s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as,
		body: `{"verified":true}`}, 200))
	if again.VerifiedAt == nil || *again.VerifiedAt != *verified.VerifiedAt {
		t.Fatalf("verifying again moved verifiedAt from %v to %v", verified.VerifiedAt, again.VerifiedAt)
	}
	unverified := decodeJSON[account](t, s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as,
		body: `{"verified":false}`}, 200))
	if unverified.Verified || unverified.VerifiedAt != nil {
		t.Fatalf("unverified = %+v", unverified)
	}
	s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as, body: `{"verified":"yes"}`}, 400)
	s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as, body: `{"disabled":"yes"}`}, 400)
	s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as, body: `{"roles":null}`}, 400)
	s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + ada.ID, bearer: as, body: `{"email":"x@example.com"}`}, 400)
	s.expect(request{method: "PATCH", path: "/v1/admin/accounts/nope", bearer: as, body: `{"disabled":false}`}, 404)

	// Delete.
	s.expect(request{method: "DELETE", path: "/v1/admin/accounts/" + ada.ID, bearer: as, body: `{}`}, 400) // takes no body
	s.expect(request{method: "DELETE", path: "/v1/admin/accounts/" + ada.ID, bearer: as}, 204)
	s.expect(request{method: "GET", path: "/v1/admin/accounts/" + ada.ID, bearer: as}, 404)
}

func TestAdminAPIKeys(t *testing.T) {
	s := newStack(t)
	root := s.admin()
	as := root.AccessToken
	expires := s.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)

	rec := s.expect(request{method: "POST", path: "/v1/admin/api-keys", bearer: as,
		body: `{"name":"ci","scopes":["posts:read","admin:api-keys"],"roles":["admin"],"expiresAt":"` + expires + `"}`}, 201)
	created := decodeJSON[apiKey](t, rec)
	if !strings.HasPrefix(created.Key, "bsk_") || !strings.HasPrefix(created.Key, created.Prefix) || created.Prefix == created.Key ||
		created.Name != "ci" || created.ExpiresAt == nil || created.RevokedAt != nil || created.LastUsedAt != nil {
		t.Fatalf("created = %s", rec.Body.String())
	}
	me := decodeJSON[account](t, s.expect(request{method: "GET", path: "/v1/auth/me", bearer: as}, 200))
	if created.CreatedBy == nil || *created.CreatedBy != me.ID {
		t.Errorf("createdBy = %v, want %s", created.CreatedBy, me.ID)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if exp := parseStamp(t, "expiresAt", *created.ExpiresAt); !exp.Equal(s.clock.Now().Add(48 * time.Hour)) {
		t.Errorf("expiresAt = %v", exp)
	}
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["hash"]; ok {
		t.Errorf("creation answer shows the hash: %s", rec.Body.String())
	}

	if created.CreatedByKey != nil {
		t.Errorf("createdByKey = %v, want null for a key an account created", *created.CreatedByKey)
	}

	// The key authenticates (it has the admin role and the admin:api-keys scope).
	list := decodeJSON[items[apiKey]](t, s.expect(request{method: "GET", path: "/v1/admin/api-keys", bearer: created.Key}, 200))
	if len(list.Items) != 1 || list.Items[0].ID != created.ID || list.Items[0].Key != "" || list.Items[0].Prefix != created.Prefix {
		t.Fatalf("list = %+v", list)
	}

	s.expect(request{method: "POST", path: "/v1/admin/api-keys", bearer: as, body: `{"name":"x","scopes":[]}`}, 400)
	s.expect(request{method: "POST", path: "/v1/admin/api-keys", bearer: as, body: `{"name":"x","scopes":["posts:fly"]}`}, 400)
	s.expect(request{method: "POST", path: "/v1/admin/api-keys", bearer: as, body: `{"name":"x","scopes":["*:*"],"expiresAt":"soon"}`}, 400)
	s.expect(request{method: "POST", path: "/v1/admin/api-keys", bearer: as, body: `{"name":"x","scopes":"*:*"}`}, 400)

	s.expect(request{method: "DELETE", path: "/v1/admin/api-keys/" + created.ID, bearer: as}, 204)
	s.expect(request{method: "GET", path: "/v1/admin/api-keys", bearer: created.Key}, 401)
	list = decodeJSON[items[apiKey]](t, s.expect(request{method: "GET", path: "/v1/admin/api-keys", bearer: as}, 200))
	if len(list.Items) != 1 || list.Items[0].RevokedAt == nil {
		t.Fatalf("after revocation = %+v", list)
	}
	s.expect(request{method: "DELETE", path: "/v1/admin/api-keys/nope", bearer: as}, 404)

	if leaks := s.leaked(created.Key, func(e exchange) bool { return e.method == "POST" && e.path == "/v1/admin/api-keys" }); len(leaks) > 0 {
		t.Fatalf("the API key secret appears in other answers: %+v", leaks)
	}
}

func TestAdminSigningKeys(t *testing.T) {
	s := newStack(t)
	as := s.admin().AccessToken
	before := decodeJSON[items[signingKey]](t, s.expect(request{method: "GET", path: "/v1/admin/keys", bearer: as}, 200))
	if len(before.Items) != 1 || before.Items[0].KID == "" || before.Items[0].NotAfter != nil {
		t.Fatalf("keys = %+v", before)
	}
	s.clock.Advance(time.Minute)
	rec := s.expect(request{method: "POST", path: "/v1/admin/keys/rotate", bearer: as}, 201)
	rotated := decodeJSON[signingKey](t, rec)
	if rotated.KID == "" || rotated.KID == before.Items[0].KID || rotated.NotAfter != nil {
		t.Fatalf("rotated = %s", rec.Body.String())
	}
	after := decodeJSON[items[signingKey]](t, s.expect(request{method: "GET", path: "/v1/admin/keys", bearer: as}, 200))
	if len(after.Items) != 2 || after.Items[0].KID != before.Items[0].KID || after.Items[0].NotAfter == nil ||
		after.Items[1].KID != rotated.KID || after.Items[1].NotAfter != nil {
		t.Fatalf("keys after rotation = %+v", after)
	}
	jwks := s.expect(request{method: "GET", path: "/.well-known/jwks.json"}, 200).Body.String()
	if !strings.Contains(jwks, before.Items[0].KID) || !strings.Contains(jwks, rotated.KID) {
		t.Fatalf("JWKS after rotation = %s", jwks)
	}
	s.expect(request{method: "POST", path: "/v1/admin/keys/rotate", bearer: as, body: `{"now":true}`}, 400)
}

// TestAdminRoutesNeedAnAdmin: anonymous callers get 401 with
// WWW-Authenticate, users and scoped keys without the admin role 403.
func TestAdminRoutesNeedAnAdmin(t *testing.T) {
	s := newStack(t)
	as := s.admin().AccessToken
	user := s.user("ada@example.com").AccessToken
	key := decodeJSON[apiKey](t, s.expect(request{method: "POST", path: "/v1/admin/api-keys", bearer: as,
		body: `{"name":"reader","scopes":["*:read"]}`}, 201)).Key
	routes := []request{
		{method: "GET", path: "/v1/admin/accounts"},
		{method: "POST", path: "/v1/admin/accounts", body: `{"email":"x@example.com","password":"` + testPassword + `"}`},
		{method: "GET", path: "/v1/admin/accounts/x"},
		{method: "PATCH", path: "/v1/admin/accounts/x", body: `{"disabled":true}`},
		{method: "DELETE", path: "/v1/admin/accounts/x"},
		{method: "GET", path: "/v1/admin/accounts/x/sessions"},
		{method: "GET", path: "/v1/admin/api-keys"},
		{method: "POST", path: "/v1/admin/api-keys", body: `{"name":"x","scopes":["*:*"]}`},
		{method: "DELETE", path: "/v1/admin/api-keys/x"},
		{method: "GET", path: "/v1/admin/keys"},
		{method: "POST", path: "/v1/admin/keys/rotate"},
	}
	for _, rt := range routes {
		rec := s.expect(rt, 401)
		if rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", rt.method, rt.path)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: 401 without Cache-Control: no-store", rt.method, rt.path)
		}
		rt.bearer = "not-a-token"
		s.expect(rt, 401)
		rt.bearer = user
		s.expect(rt, 403)
		rt.bearer = key
		s.expect(rt, 403)
	}
	// A user's routes refuse anonymous callers (401) and API keys (403: they
	// have no account of their own).
	for _, rt := range []request{
		{method: "POST", path: "/v1/auth/logout"},
		{method: "GET", path: "/v1/auth/me"},
		{method: "DELETE", path: "/v1/auth/me", body: `{"password":"` + testPassword + `"}`},
		{method: "GET", path: "/v1/auth/sessions"},
		{method: "DELETE", path: "/v1/auth/sessions/x"},
		{method: "POST", path: "/v1/auth/password", body: `{"currentPassword":"` + testPassword + `","newPassword":"a new password"}`},
		{method: "POST", path: "/v1/auth/verify/request"},
	} {
		rec := s.expect(rt, 401)
		if rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", rt.method, rt.path)
		}
		rt.bearer = "bsk_forged"
		s.expect(rt, 401)
		rt.bearer = key
		s.expect(rt, 403)
	}
}

// TestAPIKeysCannotEscalate: a key hands on at most its own scopes and
// roles, gives accounts roles only when its own scopes are unbounded, and
// the keys it makes record the account behind it and its own ID.
func TestAPIKeysCannotEscalate(t *testing.T) {
	s := newStack(t)
	as := s.admin().AccessToken
	adminID := decodeJSON[account](t, s.expect(request{method: "GET", path: "/v1/auth/me", bearer: as}, 200)).ID
	newKey := func(bearer, body string, want int) apiKey {
		t.Helper()
		rec := s.expect(request{method: "POST", path: "/v1/admin/api-keys", bearer: bearer, body: body}, want)
		if want != 201 {
			return apiKey{}
		}
		return decodeJSON[apiKey](t, rec)
	}
	narrow := newKey(as, `{"name":"narrow","scopes":["posts:read","admin:api-keys"],"roles":["admin","editor"]}`, 201)

	// Within its own scopes and roles: allowed, and recorded.
	child := newKey(narrow.Key, `{"name":"child","scopes":["posts:get"],"roles":["editor"]}`, 201)
	if child.CreatedBy == nil || *child.CreatedBy != adminID {
		t.Errorf("child createdBy = %v, want the account behind the key %s", child.CreatedBy, adminID)
	}
	if child.CreatedByKey == nil || *child.CreatedByKey != narrow.ID {
		t.Errorf("child createdByKey = %v, want %s", child.CreatedByKey, narrow.ID)
	}
	// A grandchild still names the account.
	grand := newKey(narrow.Key, `{"name":"grand","scopes":["admin:api-keys"],"roles":["admin"]}`, 201)
	grandchild := newKey(grand.Key, `{"name":"grandchild","scopes":["admin:api-keys"]}`, 201)
	if grandchild.CreatedBy == nil || *grandchild.CreatedBy != adminID || *grandchild.CreatedByKey != grand.ID {
		t.Errorf("grandchild created by %v / %v", grandchild.CreatedBy, grandchild.CreatedByKey)
	}

	// Beyond its scopes or roles: 403, and nothing is created.
	before := len(decodeJSON[items[apiKey]](t, s.expect(request{method: "GET", path: "/v1/admin/api-keys", bearer: as}, 200)).Items)
	for _, body := range []string{
		`{"name":"x","scopes":["*:*"]}`,
		`{"name":"x","scopes":["posts:write"]}`,
		`{"name":"x","scopes":["*:read"]}`,
		`{"name":"x","scopes":["posts:read","admin:accounts"]}`,
		`{"name":"x","scopes":["collections:manage"]}`,
		`{"name":"x","scopes":["posts:read"],"roles":["moderator"]}`,
	} {
		newKey(narrow.Key, body, 403)
	}
	// A key without the admin role cannot even try.
	newKey(child.Key, `{"name":"x","scopes":["posts:get"]}`, 403)
	after := len(decodeJSON[items[apiKey]](t, s.expect(request{method: "GET", path: "/v1/admin/api-keys", bearer: as}, 200)).Items)
	if after != before {
		t.Errorf("refused creations made keys: %d → %d", before, after)
	}

	// Accounts: a key with admin:accounts but bounded scopes may create
	// plain accounts, not admins or accounts with roles.
	accountsKey := newKey(as, `{"name":"hr","scopes":["admin:accounts"],"roles":["admin","editor"]}`, 201)
	create := func(bearer, body string, want int) {
		t.Helper()
		s.expect(request{method: "POST", path: "/v1/admin/accounts", bearer: bearer, body: body}, want)
	}
	create(accountsKey.Key, `{"email":"plain@example.com","password":"`+testPassword+`"}`, 201)
	create(accountsKey.Key, `{"email":"boss@example.com","password":"`+testPassword+`","roles":["admin"]}`, 403)
	create(accountsKey.Key, `{"email":"ed@example.com","password":"`+testPassword+`","roles":["editor"]}`, 403)
	s.expect(request{method: "POST", path: "/v1/auth/login", body: `{"email":"boss@example.com","password":"` + testPassword + `"}`}, 401)
	plain := decodeJSON[items[account]](t, s.expect(request{method: "GET", path: "/v1/admin/accounts", bearer: accountsKey.Key}, 200))
	var plainID string
	for _, a := range plain.Items {
		if a.Email == "plain@example.com" {
			plainID = a.ID
		}
	}
	if plainID == "" {
		t.Fatalf("plain@example.com not listed: %+v", plain)
	}
	s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + plainID, bearer: accountsKey.Key, body: `{"roles":["admin"]}`}, 403)
	s.expect(request{method: "PATCH", path: "/v1/admin/accounts/" + plainID, bearer: accountsKey.Key, body: `{"disabled":true}`}, 200)

	// An unbounded admin key may.
	full := newKey(as, `{"name":"root","roles":["admin"],"scopes":["*:*","collections:manage","admin:accounts","admin:sessions","admin:api-keys","admin:signing-keys","admin:events","admin:webhooks"]}`, 201)
	create(full.Key, `{"email":"boss@example.com","password":"`+testPassword+`","roles":["admin"]}`, 201)
}
