package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// relationsFixture makes the collections users (each user reads only
// their own document, by the rule owner = @auth.id; admins read all) and
// posts, whose author and reviewers refer to users, with three users and
// two posts.
func relationsFixture(t *testing.T, admin *client) {
	t.Helper()
	admin.must(201, "POST", "/v1/collections", `{"name": "users", "rules": {"list": "owner = @auth.id", "get": "owner = @auth.id"},
		"schema": {"type": "object", "properties": {"name": {"type": "string"}, "owner": {"type": "string"}}}}`)
	admin.must(201, "POST", "/v1/collections", `{"name": "posts", "rules": {"list": "", "get": ""},
		"references": {"author": "users", "reviewers": "users"},
		"schema": {"type": "object", "properties": {"title": {"type": "string"}, "author": {"type": "string"},
			"reviewers": {"type": "array", "items": {"type": "string"}}}}}`)
	for _, u := range []string{`u1?id=u1`, `u2?id=u2`, `u3?id=u3`} {
		id := strings.Split(u, "=")[1]
		admin.must(201, "POST", "/v1/collections/users/documents?id="+id, `{"name": "user `+id+`", "owner": "`+id+`"}`)
	}
	admin.must(201, "POST", "/v1/collections/posts/documents?id=p1", `{"title": "one", "author": "u1", "reviewers": ["u2", "gone", "u3"]}`)
	admin.must(201, "POST", "/v1/collections/posts/documents?id=p2", `{"title": "two", "author": "gone"}`)
}

// expandedNames renders each post of a list answer as
// "id:author>reviewer,reviewer".
func expandedNames(t *testing.T, body []byte) string {
	t.Helper()
	var page struct {
		Items []struct {
			ID     string
			Expand struct {
				Author    *struct{ ID string }
				Reviewers []struct{ ID string }
			}
		}
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, p := range page.Items {
		s := p.ID + ":"
		if p.Expand.Author != nil {
			s += p.Expand.Author.ID
		}
		s += ">"
		var rs []string
		for _, r := range p.Expand.Reviewers {
			rs = append(rs, r.ID)
		}
		out = append(out, s+strings.Join(rs, ","))
	}
	return strings.Join(out, " ")
}

// TestExpandReferences: a list or a get expands references into the
// documents they refer to, each shown only if the caller may get it (the
// referenced collection's get rule), missing ones left out; a field that
// is no reference is a 400. On both engines, and through the gateway of a
// split deployment, which passes expanding reads to the documents
// component.
func TestExpandReferences(t *testing.T) {
	run := func(t *testing.T, admin *client) {
		relationsFixture(t, admin)
		for who, want := range map[string]string{
			"admin": "p1:u1>u2,u3 p2:>",
			"u2":    "p1:>u2 p2:>",
			"":      "p1:> p2:>",
		} {
			c := admin.anonymous()
			switch who {
			case "admin":
				c = admin
			case "u2":
				admin.must(201, "POST", "/v1/admin/accounts", `{"email": "u2@example.com", "password": "a long password of u2"}`)
				tok := c.login("u2@example.com", "a long password of u2").AccessToken
				// The user's account id is the owner their document names.
				var me struct{ ID string }
				if err := json.Unmarshal(c.as(tok).must(200, "GET", "/v1/auth/me", "").Body, &me); err != nil {
					t.Fatal(err)
				}
				admin.must(200, "PATCH", "/v1/collections/users/documents/u2", `{"owner": "`+me.ID+`"}`, "Content-Type", "application/merge-patch+json")
				c = c.as(tok)
			}
			got := expandedNames(t, c.must(200, "GET", "/v1/collections/posts/documents?sort=id&expand=author,reviewers", "").Body)
			if got != want {
				t.Errorf("%q: %s, want %s", who, got, want)
			}
		}
		one := admin.must(200, "GET", "/v1/collections/posts/documents/p1?expand=author", "")
		if one.Header.Get("ETag") != "" || !strings.Contains(string(one.Body), `"expand":{"author":{"id":"u1","collection":"users"`) {
			t.Errorf("a get with expand: %v %s", one.Header, one.Body)
		}
		two := admin.must(200, "GET", "/v1/collections/posts/documents/p2?expand=author", "")
		if !strings.Contains(string(two.Body), `"expand":{"author":null}`) {
			t.Errorf("a missing reference: %s", two.Body)
		}
		for _, q := range []string{"expand=title", "expand=nope", "expand=author,a,b,c,d,e,f,g,h"} {
			r := admin.do("GET", "/v1/collections/posts/documents?"+q, "")
			if r.Status != 400 || !strings.Contains(r.Header.Get("Content-Type"), "problem+json") {
				t.Errorf("%s: %d %s", q, r.Status, r.Body)
			}
		}
	}
	forEachEngine(t, func(t *testing.T, engine string) {
		admin, _ := startApp(t, engine)
		run(t, admin)
	})
	t.Run("split", func(t *testing.T) {
		c := serveSplitApp(t)
		run(t, c.as(c.login(adminEmail, adminPassword).AccessToken))
	})
}
