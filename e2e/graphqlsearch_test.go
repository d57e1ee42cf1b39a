package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestGraphQLSearch: a search through GraphQL finds what REST's search
// finds, in the same order with the same scores, for every kind of caller
// (the list rule and hidden fields applied to each hit), pages the same
// way, and is refused to a caller who may not list.
func TestGraphQLSearch(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		admin, _ := startApp(t, engine)
		admin.must(201, "POST", "/v1/collections", `{"name": "notes", "hiddenFields": ["secret"],
			"schema": {"type": "object", "properties": {"title": {"type": "string"}, "owner": {"type": "string"}, "public": {"type": "boolean"},
				"secret": {"type": "string"}, "emb": {"type": "array", "items": {"type": "number"}}}},
			"rules": {"list": "public = true || owner = @auth.id", "get": "public = true || owner = @auth.id"},
			"search": {"text": {"fields": {"title": 2}}, "vectors": {"emb": {"dimensions": 3, "metric": "l2"}}}}`)
		admin.must(201, "POST", "/v1/admin/accounts", `{"email": "finder@example.com", "password": "a long password of finder"}`)
		user := admin.anonymous().as(admin.login("finder@example.com", "a long password of finder").AccessToken)
		me := user.must(200, "GET", "/v1/auth/me", "").JSON(t)["id"].(string)
		for i, n := range []struct {
			title, owner string
			public       bool
		}{
			{"raft consensus in distributed systems", "someone", true},
			{"consensus on sourdough bread", me, false},
			{"paxos consensus, a private note", "someone", false},
			{"garbage collection tuning", "someone", true},
			{"consensus and quorum reads", "someone", true},
		} {
			admin.must(201, "POST", "/v1/collections/notes/documents?id=n"+fmt.Sprint(i), fmt.Sprintf(`{"title": %q, "owner": %q, "public": %v, "secret": "s%d", "emb": [%d, 0, 0]}`,
				n.title, n.owner, n.public, i, i))
		}

		type hit struct {
			ID    string
			Score float64
			Rank  int
		}
		rest := func(c *client, params url.Values) ([]hit, string) {
			t.Helper()
			r := c.must(200, "GET", "/v1/collections/notes/search?"+params.Encode(), "")
			var page struct {
				Items []struct {
					Document struct{ ID string }
					Score    float64
					Text     *struct{ Rank int }
					Vector   *struct{ Rank int }
				}
				NextCursor string
			}
			if err := json.Unmarshal(r.Body, &page); err != nil {
				t.Fatal(err)
			}
			var out []hit
			for _, it := range page.Items {
				h := hit{ID: it.Document.ID, Score: it.Score}
				if it.Text != nil {
					h.Rank = it.Text.Rank
				} else if it.Vector != nil {
					h.Rank = it.Vector.Rank
				}
				out = append(out, h)
			}
			return out, page.NextCursor
		}
		graph := func(c *client, args string) ([]hit, string, map[string]any) {
			t.Helper()
			status, r := gql(t, c, `{ notesSearch(`+args+`) { mode items { document { id title } score text { rank } vector { rank }
				highlights { field snippet } } pageInfo { hasNextPage endCursor } } }`, nil)
			data, _ := r["data"].(map[string]any)
			res, _ := data["notesSearch"].(map[string]any)
			if status != 200 || res == nil {
				t.Fatalf("notesSearch(%s): %d %v", args, status, r)
			}
			var out []hit
			for _, it := range res["items"].([]any) {
				it := it.(map[string]any)
				h := hit{ID: it["document"].(map[string]any)["id"].(string), Score: it["score"].(float64)}
				for _, side := range []string{"text", "vector"} {
					if s, ok := it[side].(map[string]any); ok && h.Rank == 0 {
						h.Rank = int(s["rank"].(float64))
					}
				}
				out = append(out, h)
			}
			end, _ := res["pageInfo"].(map[string]any)["endCursor"].(string)
			return out, end, res
		}
		for _, c := range []struct {
			who    string
			caller *client
		}{{"admin", admin}, {"user", user}, {"anonymous", admin.anonymous()}} {
			for _, q := range []struct {
				rest url.Values
				args string
			}{
				{url.Values{"q": {"consensus"}}, `q: "consensus"`},
				{url.Values{"q": {"consensus"}, "filter": {`title ~ "raft" || title ~ "quorum"`}}, `q: "consensus", filter: {or: [{title: {contains: "raft"}}, {title: {contains: "quorum"}}]}`},
				{url.Values{"q": {"consensus"}, "sort": {"-title"}}, `q: "consensus", orderBy: [{title: DESC}]`},
				{url.Values{"q": {"consensus"}, "limit": {"1"}}, `q: "consensus", first: 1`},
			} {
				want, wantNext := rest(c.caller, q.rest)
				got, gotNext, _ := graph(c.caller, q.args)
				if fmt.Sprint(got) != fmt.Sprint(want) || (wantNext == "") != (gotNext == "") {
					t.Errorf("%s: notesSearch(%s) = %v (next %q), REST %v (next %q)", c.who, q.args, got, gotNext, want, wantNext)
				}
				if wantNext != "" {
					q.rest.Set("cursor", wantNext)
					want, _ = rest(c.caller, q.rest)
					got, _, _ = graph(c.caller, q.args+`, after: "`+gotNext+`"`)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s: the next page of notesSearch(%s) = %v, REST %v", c.who, q.args, got, want)
					}
				}
			}
		}
		// The user finds their own private note, never another's.
		got, _, res := graph(user, `q: "consensus"`)
		if ids := fmt.Sprint(got); !strings.Contains(ids, "n1") || strings.Contains(ids, "n2") || res["mode"] != "TEXT" {
			t.Errorf("the user's search: %v", res)
		}
		if !strings.Contains(fmt.Sprint(res["items"]), "<mark>") {
			t.Errorf("no highlight: %v", res["items"])
		}
		// A raw vector, as REST's POST …/search.
		got, _, res = graph(admin, `mode: VECTOR, vector: [3.2, 0, 0], first: 2`)
		if len(got) != 2 || got[0].ID != "n3" || res["mode"] != "VECTOR" {
			t.Errorf("vector search: %v", res)
		}
		// The search service's own checks, as REST's.
		for _, bad := range []string{`q: "x", first: 101`, `mode: HYBRID, q: "x", weight: 2`} {
			status, r := gql(t, admin, `{ notesSearch(`+bad+`) { mode } }`, nil)
			if status != 200 || !strings.Contains(fmt.Sprint(r["errors"]), "code:invalid") {
				t.Errorf("notesSearch(%s): %d %v", bad, status, r)
			}
		}
		// A hidden field is not a field of a user's results.
		if status, r := gql(t, user, `{ notesSearch(q: "consensus") { nodes { secret } } }`, nil, "Accept", "application/graphql-response+json"); status != 400 {
			t.Errorf("a hidden field: %d %v", status, r)
		}
		// Without a list rule that admits them, a caller has no search field.
		admin.must(200, "PATCH", "/v1/collections/notes", `{"rules": {"list": "@auth.id != null && owner = @auth.id"}}`)
		if status, r := gql(t, admin.anonymous(), `{ notesSearch(q: "consensus") { nodes { id } } }`, nil, "Accept", "application/graphql-response+json"); status != 400 ||
			!strings.Contains(fmt.Sprint(r["errors"]), "notesSearch") {
			t.Errorf("an anonymous search without a list rule: %d %v", status, r)
		}
	})
}
