package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// notesCollection lets each user see and change only the notes they own;
// "secret" is for admins' eyes only.
const notesCollection = `{
  "name": "notes",
  "schema": {
    "type": "object",
    "properties": {
      "title":  {"type": "string"},
      "owner":  {"type": "string"},
      "secret": {"type": "string"}
    },
    "required": ["title"],
    "additionalProperties": false
  },
  "rules": {
    "list":   "owner = @auth.id",
    "get":    "owner = @auth.id",
    "create": "owner = @auth.id",
    "update": "owner = @auth.id",
    "delete": "owner = @auth.id"
  },
  "hiddenFields": ["secret"]
}`

// TestOwnerRules drives per-collection access rules through HTTP: an admin
// makes a collection whose documents belong to their owner, two users and
// an anonymous caller use it, and only what the rules admit gets through.
func TestOwnerRules(t *testing.T) { forEachEngine(t, ownerRules) }

func ownerRules(t *testing.T, engine string) {
	admin, _ := startApp(t, engine)
	anon := admin.anonymous()
	r := admin.must(201, "POST", "/v1/collections", notesCollection)
	if rules, _ := r.JSON(t)["rules"].(map[string]any); rules["update"] != "owner = @auth.id" {
		t.Fatalf("created collection = %s", r.Body)
	}
	admin.must(201, "POST", "/v1/collections", `{"name":"private"}`) // no rules: admins only
	admin.must(201, "POST", "/v1/collections/private/documents?id=p1", `{"x":1}`)

	const password = "rules test password"
	ada := admin.as(admin.signUp("ada@basalt.test", password).AccessToken)
	bob := admin.as(admin.signUp("bob@basalt.test", password).AccessToken)
	adaID, bobID := ada.accountID(), bob.accountID()
	note := func(title, owner string) string {
		return fmt.Sprintf(`{"title":%q,"owner":%q,"secret":"for admins"}`, title, owner)
	}
	const notes = "/v1/collections/notes/documents"

	// Ada writes; the answers to her show no hidden field.
	for _, id := range []string{"a1", "a2"} {
		r := ada.must(201, "POST", notes+"?id="+id, note("Ada's "+id, adaID))
		assertShown(t, "Ada's create of "+id, r, adaID, false)
	}
	assertShown(t, "Ada's read", ada.must(200, "GET", notes+"/a1", ""), adaID, false)
	assertList(t, "Ada's list", ada, notes+"?total=true&sort=id", []string{"a1", "a2"}, false)
	// A hidden field is an unknown field to her.
	r = ada.must(400, "GET", notes+"?"+url.Values{"filter": {`secret = "for admins"`}}.Encode(), "")
	if r.JSON(t)["code"] != "invalid" {
		t.Errorf("filter on a hidden field: %s", r.Body)
	}
	ada.must(400, "GET", notes+"?fields=secret", "")

	// Bob can neither see nor touch Ada's notes.
	bob.must(404, "GET", notes+"/a1", "")
	assertList(t, "Bob's list", bob, notes+"?total=true", nil, false)
	assertList(t, "Bob's list filtered on Ada", bob, notes+"?"+url.Values{"filter": {fmt.Sprintf("owner = %q", adaID)}}.Encode(), nil, false)
	bob.must(404, "PATCH", notes+"/a1", `{"title":"mine now"}`, "Content-Type", "application/merge-patch+json")
	bob.must(404, "PUT", notes+"/a1", note("mine now", bobID))
	bob.must(404, "DELETE", notes+"/a1", "")
	bob.must(404, "DELETE", notes+"/a1", "", "If-Match", `"1"`) // the rules come before the version
	bob.must(403, "POST", notes+"?id=forged", note("forged", adaID))
	admin.must(404, "GET", notes+"/forged", "") // nothing was written
	assertShown(t, "Bob's create", bob.must(201, "POST", notes+"?id=b1", note("Bob's", bobID)), bobID, false)
	ada.must(404, "GET", notes+"/b1", "")
	// Bob gets 403 where no rule admits users at all.
	bob.must(403, "GET", "/v1/collections/private/documents/p1", "")
	bob.must(403, "POST", "/v1/collections", `{"name":"mine"}`)

	// Ada cannot hand her note over, but may change it and delete it.
	ada.must(403, "PATCH", notes+"/a1", fmt.Sprintf(`{"owner":%q}`, bobID), "Content-Type", "application/merge-patch+json")
	r = ada.must(200, "PATCH", notes+"/a1", `{"title":"Ada's, edited"}`, "Content-Type", "application/merge-patch+json", "If-Match", `"1"`)
	assertShown(t, "Ada's patch", r, adaID, false)
	ada.must(204, "DELETE", notes+"/a2", "")

	// Anonymous callers: 401 without rules, nothing with owner rules.
	r = anon.must(401, "GET", "/v1/collections/private/documents", "")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate: %v", r.Header)
	}
	anon.must(401, "GET", "/v1/collections/private/documents/p1", "")
	anon.must(401, "GET", "/v1/collections", "")
	assertList(t, "the anonymous list", anon, notes+"?total=true", nil, false)
	anon.must(404, "GET", notes+"/a1", "")
	anon.must(403, "POST", notes, note("anonymous", adaID))

	// The admin sees everything, hidden fields included, and may filter on them.
	assertShown(t, "the admin's read", admin.must(200, "GET", notes+"/a1", ""), adaID, true)
	assertList(t, "the admin's list", admin, notes+"?total=true&sort=id", []string{"a1", "b1"}, true)
	assertList(t, "the admin's filter on a hidden field", admin,
		notes+"?"+url.Values{"filter": {`secret = "for admins"`}, "sort": {"id"}}.Encode(), []string{"a1", "b1"}, true)
}

// assertShown checks a document answer: owned by owner, with the hidden
// field exactly when hidden is true.
func assertShown(t *testing.T, what string, r response, owner string, hidden bool) {
	t.Helper()
	d, err := decodeDoc(r.Body)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, r.Body)
	}
	if d.Data["owner"] != owner {
		t.Errorf("%s: owner %v, want %s", what, d.Data["owner"], owner)
	}
	if _, ok := d.Data["secret"]; ok != hidden {
		t.Errorf("%s: hidden field shown: %v, want %v\n%s", what, ok, hidden, r.Body)
	}
}

// assertList lists path as c and checks the IDs (in order) and, when the
// list asked for it, the total; hidden says whether the hidden field must
// be on every item.
func assertList(t *testing.T, what string, c *client, path string, ids []string, hidden bool) {
	t.Helper()
	r := c.must(200, "GET", path, "")
	var page struct {
		Items []doc `json:"items"`
		Total *int  `json:"total"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, r.Body)
	}
	var got []string
	for _, d := range page.Items {
		got = append(got, d.ID)
		if _, ok := d.Data["secret"]; ok != hidden {
			t.Errorf("%s: %s shows the hidden field: %v, want %v", what, d.ID, ok, hidden)
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("%s: %v, want %v\n%s", what, got, ids, r.Body)
	}
	switch {
	case page.Total == nil && strings.Contains(path, "total=true"):
		t.Errorf("%s: no total\n%s", what, r.Body)
	case page.Total != nil && *page.Total != len(ids):
		t.Errorf("%s: total %d, want %d", what, *page.Total, len(ids))
	}
}
