package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// revocationBound is how soon a revocation must take effect on every
// process (docs/auth.md).
const revocationBound = time.Second

// TestRevocationAcrossProcesses runs two basalt processes on one
// PostgreSQL database. Process B has verified (and cached) a credential;
// the credential is revoked through process A; B must refuse it within 1 s
// of A's answer. Each case logs the delay it measured.
func TestRevocationAcrossProcesses(t *testing.T) {
	a, b, _ := twoProcesses(t)
	const password = "revocation test password"

	t.Run("Logout", func(t *testing.T) {
		ca, cb := a.client(t).anonymous(), b.client(t).anonymous()
		tk := ca.signUp("logout@basalt.test", password)
		onB := cb.as(tk.AccessToken)
		onB.must(200, "GET", "/v1/auth/me", "")
		ca.as(tk.AccessToken).must(204, "POST", "/v1/auth/logout", "")
		answered := time.Now()
		awaitRefusal(t, "logout on A", answered, func() response { return onB.do("GET", "/v1/auth/me", "") })
		ca.as(tk.AccessToken).must(401, "GET", "/v1/auth/me", "")
		ca.must(401, "POST", "/v1/auth/refresh", refreshBody(t, tk.RefreshToken))
	})

	t.Run("AdminRevokesSession", func(t *testing.T) {
		admin, ca, cb := a.client(t), a.client(t).anonymous(), b.client(t).anonymous()
		tk := ca.signUp("revoked@basalt.test", password)
		onB := cb.as(tk.AccessToken)
		onB.must(200, "GET", "/v1/auth/me", "")
		admin.must(204, "DELETE", "/v1/admin/sessions/"+tk.Session.ID, "")
		answered := time.Now()
		awaitRefusal(t, "admin revocation of a session on A", answered, func() response { return onB.do("GET", "/v1/auth/me", "") })
		ca.as(tk.AccessToken).must(401, "GET", "/v1/auth/me", "")
		ca.must(401, "POST", "/v1/auth/refresh", refreshBody(t, tk.RefreshToken))
	})

	t.Run("APIKey", func(t *testing.T) {
		admin, cb := a.client(t), b.client(t).anonymous()
		// Any signed-in caller may list: a revoked key must be refused
		// (401), not served as an anonymous caller (an empty 200).
		admin.must(201, "POST", "/v1/collections", `{"name":"notes","rules":{"list":"@auth.id != null"}}`)
		admin.must(201, "POST", "/v1/collections/notes/documents?id=n1", `{"text":"hello"}`)
		r := admin.must(201, "POST", "/v1/admin/api-keys", `{"name":"revocation","scopes":["notes:read"]}`)
		var key struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		if err := json.Unmarshal(r.Body, &key); err != nil || key.ID == "" || key.Key == "" {
			t.Fatalf("new API key: %v %s", err, r.Body)
		}
		onB := cb.as(key.Key)
		list := func() response { return onB.do("GET", "/v1/collections/notes/documents", "") }
		if r := list(); r.Status != 200 || len(r.JSON(t)["items"].([]any)) != 1 {
			t.Fatalf("B lists with the key: %d %s", r.Status, r.Body)
		}
		admin.must(204, "DELETE", "/v1/admin/api-keys/"+key.ID, "")
		answered := time.Now()
		awaitRefusal(t, "API key revocation on A", answered, list)
		a.client(t).as(key.Key).must(401, "GET", "/v1/collections/notes/documents", "")
	})

	t.Run("RefreshTokenReuse", func(t *testing.T) {
		ca, cb := a.client(t).anonymous(), b.client(t).anonymous()
		first := ca.signUp("reuse@basalt.test", password)
		second := decodeTokens(t, ca.must(200, "POST", "/v1/auth/refresh", refreshBody(t, first.RefreshToken)))
		third := decodeTokens(t, ca.must(200, "POST", "/v1/auth/refresh", refreshBody(t, second.RefreshToken)))
		if third.Session.ID != first.Session.ID {
			t.Fatalf("refresh moved to session %s from %s", third.Session.ID, first.Session.ID)
		}
		onB := cb.as(third.AccessToken)
		onB.must(200, "GET", "/v1/auth/me", "")
		// The first token again, after its successor was used: a copy is
		// in someone else's hands, so the whole session ends.
		ca.must(401, "POST", "/v1/auth/refresh", refreshBody(t, first.RefreshToken))
		answered := time.Now()
		awaitRefusal(t, "refresh-token reuse on A", answered, func() response { return onB.do("GET", "/v1/auth/me", "") })
		ca.as(third.AccessToken).must(401, "GET", "/v1/auth/me", "")
		ca.must(401, "POST", "/v1/auth/refresh", refreshBody(t, third.RefreshToken))
	})
}

func refreshBody(t *testing.T, refreshToken string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"refreshToken": refreshToken})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// awaitRefusal sends probe every 10 ms until it answers 401, and fails
// the test unless that happens within revocationBound of since. Until then
// every answer must be 200. It keeps polling a while past the bound so
// that a failure reports the delay it measured.
func awaitRefusal(t *testing.T, what string, since time.Time, probe func() response) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	probes := 0
	for {
		r := probe()
		probes++
		delay := time.Since(since)
		switch r.Status {
		case http.StatusUnauthorized:
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", what)
			}
			t.Logf("%s: process B refused the credential %v after the answer (%d probes)", what, delay.Round(time.Millisecond), probes)
			if delay > revocationBound {
				t.Errorf("%s: process B took %v to refuse the credential, want ≤ %v", what, delay, revocationBound)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("%s: process B answered %d while the revocation spread, want 200 then 401\n%s", what, r.Status, r.Body)
		}
		if delay > 5*revocationBound {
			t.Fatalf("%s: process B still accepts the credential %v after the answer (%d probes)", what, delay, probes)
		}
		<-tick.C
	}
}
