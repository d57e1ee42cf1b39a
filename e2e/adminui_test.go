package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/basaltdev/basalt/internal/app"
)

// axeSource is axe-core, from the admin console's pinned npm packages
// (make installs them).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "ui", "admin", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core: %v (run make ui-check, which installs the console's npm packages)", err)
	}
	return string(b)
}

// TestAdminConsole drives the admin console at /_/ in headless Chromium as
// an admin would: a user who is not an admin is turned away; the admin
// signs in, creates a collection with a schema, a rule (first one the
// server refuses, shown at the rule) and an index; adds documents (one the
// schema refuses, shown at its field), filters them (a misspelt filter
// shown with a caret), edits one while the API changes it (a conflict, not
// an overwrite), sees a change made elsewhere appear live, deletes one;
// creates an API key (shown once, and working) and revokes it; revokes
// another session of theirs; deletes the collection after typing its
// name; and signs out. Every page is screenshot and checked by axe-core;
// the page never requests another origin, never breaks its CSP, throws
// nothing, and keeps no token in storage or cookies.
func TestAdminConsole(t *testing.T) {
	// A webhook receiver that fails until told to succeed.
	var succeed, received atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		received.Add(1)
		if succeed.Load() == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	c, _, _ := serveApp(t, "sqlite", true, func(cfg *app.Config) {
		cfg.Webhooks.AllowNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		cfg.Webhooks.MaxAttempts = 1 // the first failure is final, until redelivered
	})
	admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
	adminID := admin.accountID()
	user := c.signUp("user@example.com", "a long user password")
	axe := axeSource(t)
	b := newChromium(t, c.base, "admin-ui")

	// The page and its headers.
	res := c.anonymous().must(200, "GET", "/_/", "")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the console's CSP is %q", csp)
	}
	// Through the gateway's compression middleware, which strips coding
	// suffixes from If-None-Match: the gzipped page revalidates with its
	// own tag.
	plain := c.anonymous().must(200, "GET", "/_/", "", "Accept-Encoding", "identity")
	zipped := c.anonymous().must(200, "GET", "/_/", "", "Accept-Encoding", "gzip")
	ztag := zipped.Header.Get("ETag")
	if zipped.Header.Get("Content-Encoding") != "gzip" || ztag != strings.TrimSuffix(plain.Header.Get("ETag"), `"`)+`-gzip"` {
		t.Errorf("the gzipped page: Content-Encoding %q, ETag %s (plain %s)", zipped.Header.Get("Content-Encoding"), ztag, plain.Header.Get("ETag"))
	}
	if r := c.anonymous().must(304, "GET", "/_/", "", "Accept-Encoding", "gzip", "If-None-Match", ztag); r.Header.Get("ETag") != ztag {
		t.Errorf("a 304 of the gzipped page has ETag %s, want %s", r.Header.Get("ETag"), ztag)
	}
	c.anonymous().must(304, "GET", "/_/", "", "Accept-Encoding", "identity", "If-None-Match", plain.Header.Get("ETag"))
	for _, r := range []response{c.anonymous().do("POST", "/_/", "{}"), c.anonymous().do("GET", "/_/nope.js", "")} {
		if r.Status != 405 && r.Status != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("a request the console does not serve answers %d %s", r.Status, r.Header.Get("Content-Type"))
		}
	}

	// Sign-in page.
	b.do("opening the console", chromedp.Navigate(c.base+"/_/"), chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)))
	b.screenshot("01-sign-in")
	b.checkAccessibility("sign-in", axe)

	// A user who is not an admin is turned away, and the session the
	// attempt opened is ended at once.
	b.fill(`input[name=email]`, "user@example.com")
	b.fill(`input[name=password]`, "a long user password")
	b.press("Sign in")
	b.waitText(`[role=alert]`, "not have the admin role")
	userID := c.as(user.AccessToken).accountID()
	for _, s := range admin.sessionsOf(t, userID) {
		if s.Device == "Basalt admin console" && s.RevokedAt == nil {
			t.Errorf("the console left the non-admin's session %s open", s.ID)
		}
	}

	// The admin signs in.
	b.fill(`input[name=email]`, adminEmail)
	b.fill(`input[name=password]`, adminPassword)
	b.press("Sign in")
	b.waitText(`main h1`, "Collections")
	b.screenshot("02-collections-empty")
	b.checkAccessibility("collections (empty)", axe)

	// A collection with a schema, a rule and an index. The first rule
	// names a field the schema does not have: the refusal shows at it.
	b.press("New collection")
	b.fill(`input[name=name]`, "notes")
	b.fill(`input[name=field-0-name]`, "title")
	b.click(`input[name=field-0-required]`)
	b.press("Add a field")
	b.fill(`input[name=field-1-name]`, "score")
	b.choose(`select[name=field-1-type]`, "integer")
	b.press("Add a field")
	b.fill(`input[name=field-2-name]`, "owner")
	b.click(`input[name=field-2-hidden]`)
	b.choose(`select[name=rule-list-mode]`, "everyone")
	b.choose(`select[name=rule-get-mode]`, "expression")
	b.fill(`input[name=rule-get]`, "ownr = @auth.id")
	b.press("Add an index")
	b.fill(`input[name=index-0]`, "score")
	b.press("Create collection")
	b.waitText(`#rule-get-errors`, "ownr")
	b.waitText(`#rule-get-errors .caret-line`, "^")
	if !eval[bool](b, "rule marked invalid", `document.querySelector("input[name=rule-get]").getAttribute("aria-invalid") === "true"`) {
		t.Error("the refused rule's input is not marked invalid")
	}
	b.screenshot("03-collection-rule-refused")
	b.checkAccessibility("collection editor with errors", axe)
	b.fill(`input[name=rule-get]`, "owner = @auth.id")
	b.press("Create collection")
	b.waitFor("the documents page", `location.hash === "#/collections/notes"`)
	b.waitText(`main h1`, "notes")

	var coll struct {
		Schema struct {
			Properties map[string]map[string]any `json:"properties"`
			Required   []string                  `json:"required"`
		} `json:"schema"`
		Indexes      []struct{ Fields []string } `json:"indexes"`
		Rules        map[string]*string          `json:"rules"`
		HiddenFields []string                    `json:"hiddenFields"`
	}
	mustDecode(t, admin.must(200, "GET", "/v1/collections/notes", ""), &coll)
	if coll.Schema.Properties["score"]["type"] != "integer" || len(coll.Schema.Required) != 1 || coll.Schema.Required[0] != "title" {
		t.Errorf("the collection's schema is %+v", coll.Schema)
	}
	if len(coll.Indexes) != 1 || strings.Join(coll.Indexes[0].Fields, ",") != "score" {
		t.Errorf("the collection's indexes are %+v", coll.Indexes)
	}
	if r := coll.Rules["get"]; r == nil || *r != "owner = @auth.id" || coll.Rules["list"] == nil || *coll.Rules["list"] != "" || coll.Rules["delete"] != nil {
		t.Errorf("the collection's rules are %v", coll.Rules)
	}
	if strings.Join(coll.HiddenFields, ",") != "owner" {
		t.Errorf("the collection's hidden fields are %v", coll.HiddenFields)
	}

	// Documents: the first lacks its required title, which the server
	// refuses and the form shows at the field.
	b.press("New document")
	b.fill(`input[name=id]`, "first")
	b.fill(`input[name=data-score]`, "3")
	b.press("Create")
	b.waitFor("the title's error", `!!document.querySelector("#data-title-errors")`)
	b.screenshot("04-document-refused")
	b.checkAccessibility("document editor with errors", axe)
	b.fill(`input[name=data-title]`, "First note")
	b.press("Create")
	b.waitText(`table.documents`, "First note")
	for _, d := range []struct{ id, title, score string }{{"second", "Second note", "7"}, {"third", "Third note", "9"}} {
		b.press("New document")
		b.fill(`input[name=id]`, d.id)
		b.fill(`input[name=data-title]`, d.title)
		b.fill(`input[name=data-score]`, d.score)
		b.press("Create")
		b.waitText(`table.documents`, d.title)
	}
	b.waitText(`#doc-count`, "3 documents")
	b.screenshot("05-documents")
	b.checkAccessibility("documents", axe)

	// Filtering: a misspelt field is shown with a caret at its offset,
	// then the right filter narrows the table.
	b.fill(`input[name=filter]`, "scroe > 5")
	b.press("Apply")
	b.waitText(`#filter-error`, "unknown field")
	b.waitText(`#filter-error`, "^")
	b.screenshot("06-filter-error")
	b.fill(`input[name=filter]`, "score > 5")
	b.fill(`input[name=sort]`, "-score")
	b.press("Apply")
	b.waitText(`#doc-count`, "2 documents match")
	if got := eval[string](b, "rows", `[...document.querySelectorAll("table.documents tbody th")].map((e) => e.textContent).join(",")`); got != "third,second" {
		t.Errorf("the filtered, sorted rows are %q, want third,second", got)
	}
	b.fill(`input[name=filter]`, "")
	b.fill(`input[name=sort]`, "")
	b.press("Apply")
	b.waitText(`#doc-count`, "3 documents")

	// A concurrent edit: the admin opens "first", someone changes it
	// through the API, the admin's save is refused as a conflict and
	// nothing is overwritten; the admin loads their version and saves
	// on top of it.
	b.press("first")
	b.waitFor("the editor", `!!document.querySelector("dialog[open] input[name=data-title]")`)
	admin.must(200, "PATCH", "/v1/collections/notes/documents/first", `{"score": 4}`, "Content-Type", "application/merge-patch+json")
	b.fill(`input[name=data-title]`, "First note, edited")
	b.press("Save")
	b.waitText(`.conflict`, "Someone saved version 2")
	b.screenshot("07-document-conflict")
	b.checkAccessibility("document conflict", axe)
	var doc struct {
		Version int `json:"version"`
		Data    struct {
			Title string `json:"title"`
			Score int    `json:"score"`
		} `json:"data"`
	}
	mustDecode(t, admin.must(200, "GET", "/v1/collections/notes/documents/first", ""), &doc)
	if doc.Version != 2 || doc.Data.Title != "First note" || doc.Data.Score != 4 {
		t.Fatalf("after the conflict the document is %+v: the console overwrote the concurrent change", doc)
	}
	b.press("Discard mine, load theirs")
	b.waitFor("their score", `document.querySelector("input[name=data-score]").value === "4"`)
	b.fill(`input[name=data-title]`, "First note, edited")
	b.press("Save")
	b.waitText(`table.documents`, "First note, edited")
	mustDecode(t, admin.must(200, "GET", "/v1/collections/notes/documents/first", ""), &doc)
	if doc.Version != 3 || doc.Data.Title != "First note, edited" || doc.Data.Score != 4 {
		t.Errorf("after the second save the document is %+v", doc)
	}

	// Live updates: a change made elsewhere shows in place, a new
	// document is announced (once the page's stream is open).
	b.waitFor("the live stream", `!!document.querySelector("#doc-count .live")`)
	admin.must(200, "PATCH", "/v1/collections/notes/documents/second", `{"title": "Second note, changed elsewhere"}`, "Content-Type", "application/merge-patch+json")
	b.waitText(`table.documents`, "Second note, changed elsewhere")
	admin.must(201, "POST", "/v1/collections/notes/documents?id=fourth", `{"title": "Fourth note"}`)
	b.waitText(`#live-changes`, "1 change since this page")
	b.press("Refresh")
	b.waitText(`table.documents`, "Fourth note")

	// Deleting asks first.
	b.click(`button[aria-label="Delete third"]`)
	b.waitText(`dialog[open]`, "Delete the document")
	b.screenshot("08-document-delete")
	b.press("Delete document")
	b.waitFor("third gone", `![...document.querySelectorAll("table.documents tbody th")].some((e) => e.textContent === "third")`)
	admin.must(404, "GET", "/v1/collections/notes/documents/third", "")

	// A webhook of the collection: its secret shown once; a delivery the
	// receiver refused, sent again from its page.
	b.click(`a[href="#/collections/notes/settings"]`)

	// Editing the collection: a save shows as saved; a save over another
	// admin's change is refused, and a reload shows their change.
	b.choose(`select[name=rule-delete-mode]`, "expression")
	b.fill(`input[name=rule-delete]`, "owner = @auth.id")
	b.press("Save changes")
	b.waitText(`[role=status]`, "Saved.")
	var rules struct {
		Rules   map[string]*string `json:"rules"`
		Version int                `json:"version"`
	}
	mustDecode(t, admin.must(200, "GET", "/v1/collections/notes", ""), &rules)
	if r := rules.Rules["delete"]; r == nil || *r != "owner = @auth.id" {
		t.Errorf("after the save the delete rule is %v", r)
	}
	admin.must(200, "PATCH", "/v1/collections/notes", `{"rules": {"update": "owner = @auth.id"}}`, "Content-Type", "application/merge-patch+json")
	b.choose(`select[name=rule-create-mode]`, "everyone")
	b.press("Save changes")
	b.waitText(`.notice`, "Someone changed this collection")
	mustDecode(t, admin.must(200, "GET", "/v1/collections/notes", ""), &rules)
	if r := rules.Rules["create"]; r != nil || rules.Version != 3 {
		t.Errorf("a save over another admin's change went through: create rule %v, version %d", r, rules.Version)
	}
	b.press("Reload it")
	b.waitFor("their update rule", `document.querySelector("input[name=rule-update]")?.value === "owner = @auth.id"`)
	b.click(`main a[href="#/webhooks/collection/notes"]`)
	b.waitText(`main h1`, "Webhooks of notes")
	b.press("New webhook")
	b.fill(`input[name=url]`, receiver.URL+"/hooks")
	b.click(`input[name="type-document.created"]`)
	b.fill(`input[name=description]`, "search indexer")
	b.press("Create webhook")
	b.waitFor("the secret", `(document.querySelector("input[name=secret]")?.value ?? "").startsWith("whsec_")`)
	b.screenshot("09-webhook-secret")
	b.press("Done")
	b.do("opening the webhook", chromedp.Click(`//a[normalize-space()="`+receiver.URL+`/hooks"]`, chromedp.NodeVisible))
	b.waitText(`main`, "No delivery yet")
	admin.must(201, "POST", "/v1/collections/notes/documents?id=fifth", `{"title": "Fifth note"}`)
	waitFor(t, 10*time.Second, "the receiver to refuse the delivery", func() bool { return received.Load() >= 1 })
	// Refreshed until the delivery, which may still be in flight, shows
	// as failed.
	b.waitFor("the failed delivery", `document.querySelector("table.deliveries")?.textContent.includes("failed") || document.querySelector("button.refresh-deliveries").click()`)
	b.screenshot("10-webhook-deliveries")
	b.checkAccessibility("webhook", axe)
	succeed.Store(1)
	b.click(`button[aria-label^=Redeliver]`)
	b.do("confirming the redelivery", chromedp.Click(`//dialog//button[normalize-space()="Redeliver"]`, chromedp.NodeVisible))
	waitFor(t, 10*time.Second, "the redelivery", func() bool { return received.Load() >= 2 })
	b.waitFor("the delivery succeeded", `document.querySelector("table.deliveries").textContent.includes("succeeded") || document.querySelector("button.refresh-deliveries").click()`)

	// An API key: created with a scope, shown once, working; then revoked.
	b.click(`a[href="#/api-keys"]`)
	b.waitText(`main h1`, "API keys")
	b.press("New API key")
	b.fill(`input[name=name]`, "reporting")
	b.fill(`input[name=scopes]`, "notes:read")
	b.press("Create key")
	b.waitFor("the new key", `(document.querySelector("input[name=secret]")?.value ?? "").startsWith("bsk_")`)
	key := eval[string](b, "the key", `document.querySelector("input[name=secret]").value`)
	b.screenshot("11-api-key-created")
	b.checkAccessibility("API key shown once", axe)
	c.as(key).must(200, "GET", "/v1/collections/notes/documents", "")
	c.as(key).must(403, "DELETE", "/v1/collections/notes/documents/first", "")
	b.press("Done")
	if eval[bool](b, "key still shown", `document.body.innerText.includes(`+js(key)+`)`) {
		t.Error("the key is still on the page after Done")
	}
	b.waitText(`main table`, "reporting")
	b.screenshot("12-api-keys")
	b.checkAccessibility("API keys", axe)
	b.click(`button[aria-label="Revoke reporting"]`)
	b.press("Revoke key")
	b.waitText(`main table`, "revoked")
	c.as(key).must(401, "GET", "/v1/collections/notes/documents", "")

	// Another session of the admin's, revoked from the account's page.
	other := c.anonymous().must(200, "POST", "/v1/auth/login",
		`{"email": "`+adminEmail+`", "password": "`+adminPassword+`", "device": "Laptop in the office"}`)
	otherToken := decodeTokens(t, other).AccessToken
	b.click(`a[href="#/accounts"]`)
	b.waitText(`main table`, adminEmail)
	b.screenshot("13-accounts")
	b.checkAccessibility("accounts", axe)

	// Finding an account by its address, and marking it verified.
	b.fill(`input[name=search]`, "USER@")
	b.press("Search")
	b.waitFor("the search's one account", `document.querySelectorAll("main tbody tr").length === 1 && document.querySelector("main tbody").textContent.includes("user@example.com")`)
	b.do("opening the user's account", chromedp.Click(`//a[normalize-space()="user@example.com"]`, chromedp.NodeVisible))
	b.press("Mark verified")
	b.waitText(`[role=status]`, "marked verified")
	var userAcct struct {
		Verified bool `json:"verified"`
	}
	mustDecode(t, admin.must(200, "GET", "/v1/admin/accounts/"+userID, ""), &userAcct)
	if !userAcct.Verified {
		t.Error("the account marked verified in the console is not verified")
	}
	b.click(`a[href="#/accounts"]`)
	b.waitText(`main table`, adminEmail)

	// An account made here, then deleted after typing its address; an
	// invitation sent.
	b.press("New account")
	b.fill(`input[name=new-email]`, "made@example.com")
	b.fill(`input[name=new-password]`, "short")
	b.press("Create account")
	b.waitFor("the password's error", `!!document.querySelector("#new-password-errors li")`)
	b.fill(`input[name=new-password]`, "a long enough password")
	b.fill(`input[name=new-roles]`, "editor")
	b.press("Create account")
	b.waitText(`main h1`, "made@example.com")
	var made struct {
		Items []struct {
			ID       string   `json:"id"`
			Roles    []string `json:"roles"`
			Verified bool     `json:"verified"`
		} `json:"items"`
	}
	mustDecode(t, admin.must(200, "GET", "/v1/admin/accounts?email=made@", ""), &made)
	if len(made.Items) != 1 || strings.Join(made.Items[0].Roles, ",") != "editor" || !made.Items[0].Verified {
		t.Fatalf("the account made in the console is %+v", made.Items)
	}
	b.press("Delete account")
	b.fill(`input[name=confirm]`, "made@example.com")
	b.do("confirming", chromedp.Click(`//dialog//button[normalize-space()="Delete account"]`, chromedp.NodeVisible))
	b.waitFor("the account list", `location.hash === "#/accounts"`)
	admin.must(404, "GET", "/v1/admin/accounts/"+made.Items[0].ID, "")
	b.press("Invite")
	b.fill(`input[name=new-email]`, "invited@example.com")
	b.press("Send invitation")
	b.waitText(`[role=status]`, "invitation is on its way to invited@example.com")
	b.do("opening the admin's account", chromedp.Click(`//a[normalize-space()="`+adminEmail+`"]`, chromedp.NodeVisible))
	b.waitText(`main`, "Laptop in the office")
	b.screenshot("14-account")
	b.checkAccessibility("account", axe)
	b.do("revoking the laptop's session", chromedp.Click(`//tr[th[normalize-space()="Laptop in the office"]]//button[normalize-space()="Revoke"]`, chromedp.NodeVisible))
	b.press("Revoke session")
	b.waitFor("the session ended", `[...document.querySelectorAll("main tr")].some((r) => r.textContent.includes("Laptop in the office") && r.textContent.includes("ended (admin)"))`)
	waitFor(t, 5*time.Second, "the revoked session's token to be refused", func() bool {
		return c.as(otherToken).do("GET", "/v1/auth/me", "").Status == http.StatusUnauthorized
	})

	// Status, and the signing keys.
	b.click(`a[href="#/status"]`)
	b.waitText(`main`, "ready")
	b.waitText(`main`, "Event consumers")
	// The metrics, read with the metrics token typed in (a wrong one is
	// refused).
	b.fill(`input[name=metrics-token]`, "not-the-metrics-token")
	b.press("Read metrics")
	b.waitText(`[role=status]`, "token was refused")
	b.fill(`input[name=metrics-token]`, metricsToken)
	b.press("Read metrics")
	b.waitText(`table.metrics`, "read")
	b.waitText(`main`, "Requests in flight")
	b.screenshot("15-status")
	b.checkAccessibility("status", axe)
	b.click(`a[href="#/signing-keys"]`)
	b.waitText(`main table`, "current")
	b.press("Rotate")
	b.do("confirming the rotation", chromedp.Click(`//dialog//button[normalize-space()="Rotate"]`, chromedp.NodeVisible))
	b.waitFor("two signing keys", `document.querySelectorAll("main tbody tr").length === 2`)
	b.screenshot("16-signing-keys")
	b.checkAccessibility("signing keys", axe)

	// On a phone: the pages fit the screen's width (wide tables scroll
	// inside their frame) and stay accessible.
	b.do("a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	for _, p := range []struct{ hash, shot, wait string }{
		{"#/collections/notes", "17-phone-documents", "table.documents"},
		{"#/collections/notes/settings", "18-phone-collection", "fieldset"},
	} {
		b.do("opening "+p.hash, chromedp.Evaluate[chromedp.Void](`location.hash = `+js(p.hash)), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		if w := eval[[]int](b, "widths", `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
			t.Errorf("%s on a phone is %d px wide, wider than the screen's %d", p.hash, w[0], w[1])
		}
		b.screenshot(p.shot)
		b.checkAccessibility(p.shot, axe)
	}
	b.do("a desktop's screen", chromedp.ResetViewport())

	// Deleting the collection needs its name typed.
	b.click(`a[href="#/collections"]`)
	b.waitText(`main table`, "notes")
	b.screenshot("19-collections")
	b.checkAccessibility("collections", axe)
	b.click(`a[aria-label="Settings of notes"]`)
	b.press("Delete collection")
	b.waitFor("the confirmation", `!!document.querySelector("dialog[open] input[name=confirm]")`)
	if !eval[bool](b, "delete disabled", `document.querySelector("dialog[open] button[type=submit]").disabled`) {
		t.Error("the collection could be deleted before its name was typed")
	}
	b.fill(`input[name=confirm]`, "note")
	if !eval[bool](b, "delete disabled", `document.querySelector("dialog[open] button[type=submit]").disabled`) {
		t.Error("the collection could be deleted with the wrong name typed")
	}
	b.fill(`input[name=confirm]`, "notes")
	b.screenshot("20-collection-delete")
	b.checkAccessibility("collection delete", axe)
	b.do("confirming", chromedp.Click(`//dialog//button[normalize-space()="Delete collection"]`, chromedp.NodeVisible))
	b.waitFor("the collection list", `location.hash === "#/collections"`)
	admin.must(404, "GET", "/v1/collections/notes", "")

	// No token ever reached storage or a cookie.
	if got := eval[string](b, "storage", `JSON.stringify([localStorage.length, sessionStorage.length, document.cookie])`); got != `[0,0,""]` {
		t.Errorf("the console stored something: %s", got)
	}

	// Signing out ends the console's session on the server.
	b.press("Sign out")
	b.waitText(`[role=status]`, "signed out")
	for _, s := range admin.sessionsOf(t, adminID) {
		if s.Device == "Basalt admin console" && s.RevokedAt == nil {
			t.Errorf("the console's session %s is still open after signing out", s.ID)
		}
	}
	b.checkClean()
}

// sessionOf is a session as the admin API lists it.
type sessionOf struct {
	ID        string  `json:"id"`
	Device    string  `json:"device"`
	RevokedAt *string `json:"revokedAt"`
}

// sessionsOf lists an account's sessions (the client is an admin's).
func (c *client) sessionsOf(t *testing.T, account string) []sessionOf {
	t.Helper()
	var page struct {
		Items []sessionOf `json:"items"`
	}
	mustDecode(t, c.must(200, "GET", "/v1/admin/accounts/"+account+"/sessions", ""), &page)
	return page.Items
}

// TestAdminConsoleOff: with --admin-ui=false nothing is served at /_/.
func TestAdminConsoleOff(t *testing.T) {
	c, _, logs := serveApp(t, "sqlite", false, func(cfg *app.Config) { cfg.AdminUI = false })
	r := c.must(404, "GET", "/_/", "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("GET /_/ with the console off answers %s", ct)
	}
	if strings.Contains(logs.String(), "admin_console") {
		t.Error("the start-up log names the console, which is off")
	}
}

// TestAdminConsoleSessionRevoked: when the console's session is revoked
// elsewhere, its next request is refused, its refresh token too, and the
// console returns to the sign-in page and says why.
func TestAdminConsoleSessionRevoked(t *testing.T) {
	c, _, _ := serveApp(t, "sqlite", true)
	admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
	adminID := admin.accountID()
	b := newChromium(t, c.base, "admin-ui-revoked")
	b.do("opening the console", chromedp.Navigate(c.base+"/_/"), chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)))
	b.fill(`input[name=email]`, adminEmail)
	b.fill(`input[name=password]`, adminPassword)
	b.press("Sign in")
	b.waitText(`main`, "No collection yet")
	for _, s := range admin.sessionsOf(t, adminID) {
		if s.Device == "Basalt admin console" && s.RevokedAt == nil {
			admin.must(204, "DELETE", "/v1/admin/sessions/"+s.ID, "")
		}
	}
	// The next request (the page's own, if one was in flight when the
	// session was revoked) is refused.
	b.do("opening the API keys", chromedp.Evaluate[chromedp.Void](`location.hash = "#/api-keys"`))
	b.waitText(`[role=status]`, "Your session ended")
	b.waitFor("the sign-in page", `!!document.querySelector("input[name=password]")`)
	b.screenshot("session-ended")
	b.checkClean()
}
