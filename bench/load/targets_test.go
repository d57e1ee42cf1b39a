package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func jsonDecode(resp *http.Response, v any) error {
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", resp.Request.URL, err)
	}
	return nil
}

func TestCollectionSpec(t *testing.T) {
	for _, tt := range []struct{ name, rule string }{{Collection, ""}, {OwnedCollection, OwnerRule}} {
		b, err := CollectionSpec(tt.name, tt.rule)
		if err != nil {
			t.Fatal(err)
		}
		var spec struct {
			Name   string `json:"name"`
			Schema struct {
				Properties map[string]any `json:"properties"`
			} `json:"schema"`
			Indexes []struct {
				Fields []string `json:"fields"`
			} `json:"indexes"`
			Rules map[string]*string `json:"rules"`
		}
		if err := json.Unmarshal(b, &spec); err != nil {
			t.Fatal(err)
		}
		if spec.Name != tt.name || len(spec.Schema.Properties) != 4 || len(spec.Indexes) != 1 || spec.Indexes[0].Fields[0] != "score" || len(spec.Rules) != 5 {
			t.Errorf("spec = %+v", spec)
		}
		// Every action has the rule, present even when "" (absent would mean admins only).
		for _, action := range []string{"list", "get", "create", "update", "delete"} {
			if r := spec.Rules[action]; r == nil || *r != tt.rule {
				t.Errorf("%s: rule of %s = %v, want %q", tt.name, action, r, tt.rule)
			}
		}
	}
}

func TestTargeters(t *testing.T) {
	get, err := GetTargeter("http://h", Collection, "tok", []string{"a", "b/c"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 200 {
		var tg vegeta.Target
		if err := get(&tg); err != nil {
			t.Fatal(err)
		}
		if tg.Method != http.MethodGet || tg.Header.Get("Authorization") != "Bearer tok" {
			t.Fatalf("get target %+v", tg)
		}
		seen[tg.URL] = true
	}
	if want := []string{"http://h/v1/collections/bench/documents/a", "http://h/v1/collections/bench/documents/b%2Fc"}; len(seen) != 2 || !seen[want[0]] || !seen[want[1]] {
		t.Errorf("get URLs = %v, want %v", seen, want)
	}
	if _, err := GetTargeter("http://h", Collection, "", nil); err == nil {
		t.Error("GetTargeter accepted no ids")
	}
	owned, err := GetTargeter("http://h", OwnedCollection, "", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	var ot vegeta.Target
	if err := owned(&ot); err != nil || ot.URL != "http://h/v1/collections/bench_owned/documents/a" || ot.Header.Get("Authorization") != "" {
		t.Errorf("anonymous get target %+v, %v", ot, err)
	}

	u, err := url.Parse(ListURL("http://h", 500))
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); u.Path != "/v1/collections/bench/documents" || q.Get("filter") != "score >= 500" || q.Get("sort") != "-score" || q.Get("limit") != "20" || q.Has("total") {
		t.Errorf("list URL = %s", u)
	}
	if !strings.Contains(u.RawQuery, "filter=score+%3E%3D+500") {
		t.Errorf("list filter not URL-encoded: %s", u.RawQuery)
	}
	list, err := ListTargeter("http://h")
	if err != nil {
		t.Fatal(err)
	}
	var lt vegeta.Target
	if err := list(&lt); err != nil || !strings.HasPrefix(lt.URL, "http://h/v1/collections/bench/documents?") || lt.Header.Get("Authorization") != "" {
		t.Errorf("list target %+v, %v", lt, err)
	}

	create, err := CreateTargeter("http://h", 7, 16)
	if err != nil {
		t.Fatal(err)
	}
	var ct vegeta.Target
	if err := create(&ct); err != nil {
		t.Fatal(err)
	}
	var doc Doc
	if err := json.Unmarshal(ct.Body, &doc); err != nil || ct.Method != http.MethodPost || ct.URL != "http://h/v1/collections/bench/documents" ||
		ct.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(doc.Title, "new ") || len(doc.Tags) == 0 {
		t.Errorf("create target %s %s %s: %+v (%v)", ct.Method, ct.URL, ct.Body, doc, err)
	}
	if _, err := CreateTargeter("http://h", 7, 0); err == nil {
		t.Error("CreateTargeter accepted no bodies")
	}

	acct := Account{Email: "user@bench.invalid", Password: "0123456789abcdef"}
	login, err := LoginTargeter("http://h", acct.WrongPassword())
	if err != nil {
		t.Fatal(err)
	}
	var lg vegeta.Target
	if err := login(&lg); err != nil {
		t.Fatal(err)
	}
	var creds map[string]string
	if err := json.Unmarshal(lg.Body, &creds); err != nil || lg.Method != http.MethodPost || lg.URL != "http://h/v1/auth/login" ||
		lg.Header.Get("Content-Type") != "application/json" || creds["email"] != acct.Email || creds["password"] == acct.Password || len(creds["password"]) < 8 {
		t.Errorf("login target %s %s %s (%v)", lg.Method, lg.URL, lg.Body, err)
	}
}

// TestRotateTargeter checks that the groups are taken in turn, so that
// any run of len(groups) requests holds one of each, and that every URL
// of a group is drawn.
func TestRotateTargeter(t *testing.T) {
	groups := [][]string{{"http://h/a1", "http://h/a2"}, {"http://h/b1"}, {"http://h/c1", "http://h/c2", "http://h/c3"}}
	tr, err := rotateTargeter(groups, jsonHeader(""))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := range 300 {
		var tg vegeta.Target
		if err := tr(&tg); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(groups[i%len(groups)], tg.URL) || tg.Method != http.MethodGet {
			t.Fatalf("request %d: %s %s, want one of %v", i, tg.Method, tg.URL, groups[i%len(groups)])
		}
		seen[tg.URL]++
	}
	for _, g := range groups {
		for _, u := range g {
			if seen[u] == 0 {
				t.Errorf("%s never drawn in 300 requests: %v", u, seen)
			}
		}
	}
	for _, bad := range [][][]string{nil, {{"http://h/a"}, {}}} {
		if _, err := rotateTargeter(bad, nil); err == nil {
			t.Errorf("rotateTargeter(%v) = nil error", bad)
		}
	}
}

func TestTargetersDoNotAllocate(t *testing.T) {
	get, _ := GetTargeter("http://h", Collection, "", []string{"a", "b", "c"})
	create, _ := CreateTargeter("http://h", 1, 8)
	login, _ := LoginTargeter("http://h", Account{Email: "a@b.invalid", Password: "wrong-password"})
	for name, tr := range map[string]vegeta.Targeter{"get": get, "create": create, "login": login} {
		var tg vegeta.Target
		if n := testing.AllocsPerRun(100, func() { _ = tr(&tg) }); n != 0 {
			t.Errorf("%s targeter: %v allocations per call", name, n)
		}
	}
}

func TestNewDoc(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		d := NewDoc(r, "doc", i)
		if d.Title != fmt.Sprintf("doc %d", i) || d.Score < 0 || d.Score > 999 || len(d.Tags) < 1 || len(d.Tags) > 3 || !strings.HasPrefix(d.Owner, "u") {
			t.Fatalf("doc %d = %+v", i, d)
		}
	}
}

func TestBatchIDs(t *testing.T) {
	tests := []struct {
		answer string
		want   []string
	}{
		{`{"results":[{"op":"create","id":"a"},{"op":"create","id":"b"}]}`, []string{"a", "b"}},
		{`{"results":[{"op":"create","document":{"id":"a"}}]}`, []string{"a"}},
		{`[{"id":"x"}]`, []string{"x"}},
		{`{"operations":[{"id":"y"}]}`, []string{"y"}},
		{`{"results":[{"op":"create"}]}`, nil},
		{`{"results":[]}`, nil},
		{`not json`, nil},
	}
	for _, tt := range tests {
		got, err := batchIDs([]byte(tt.answer))
		if (err != nil) != (tt.want == nil) || !slices.Equal(got, tt.want) {
			t.Errorf("batchIDs(%s) = %v, %v; want %v", tt.answer, got, err, tt.want)
		}
	}
}

// fakeClient is a Client of an in-process fake Basalt whose admin was
// made by the fake "admin create" (the test binary, see TestMain).
func fakeClient(t *testing.T, opts fakeOptions) (Client, Account) {
	t.Helper()
	opts.dataDir = t.TempDir()
	srv := httptest.NewServer(newFakeBasalt(opts))
	t.Cleanup(srv.Close)
	admin, err := NewAccount("admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateAdmin(context.Background(), os.Args[0], []string{"--data-dir", opts.dataDir}, admin); err != nil {
		t.Fatal(err)
	}
	return Client{BaseURL: srv.URL, HTTP: srv.Client()}, admin
}

func TestClientAccounts(t *testing.T) {
	ctx := context.Background()
	c, admin := fakeClient(t, defaultFakeOptions())
	start := time.Now()
	s, err := c.Login(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if s.AccountID != "admin-1" || !strings.HasPrefix(s.Token, "tok-") || s.Expires.Before(start.Add(10*time.Minute-time.Second)) || s.Expires.After(time.Now().Add(10*time.Minute)) {
		t.Errorf("admin session %+v", s)
	}

	user, err := NewAccount("user")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewAccount("user")
	if user.Email != "user@bench.invalid" || len(user.Password) != 32 || user.Password == other.Password || user.WrongPassword().Password == user.Password {
		t.Errorf("accounts %+v %+v", user, other)
	}
	if _, err := c.Login(ctx, user); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("login before sign-up: %v, want a 401", err)
	}
	if err := c.SignUp(ctx, user); err != nil {
		t.Fatal(err)
	}
	us, err := c.Login(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if us.AccountID == "" || us.AccountID == s.AccountID || us.Token == s.Token {
		t.Errorf("user session %+v, admin %+v", us, s)
	}
	if _, err := c.Login(ctx, user.WrongPassword()); err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), user.Password) {
		t.Errorf("wrong password: %v, want a 401 without the password", err)
	}

	if err := CreateAdmin(ctx, os.Args[0], []string{"--data-dir", filepath.Join(t.TempDir(), "missing")}, admin); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("admin create on a missing directory: %v, want its output", err)
	}
}

func TestClientSeed(t *testing.T) {
	ctx := context.Background()
	c, admin := fakeClient(t, defaultFakeOptions())
	as, err := c.Login(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := NewAccount("user")
	if err := c.SignUp(ctx, user); err != nil {
		t.Fatal(err)
	}
	us, err := c.Login(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	open, _ := CollectionSpec(Collection, "")
	owned, _ := CollectionSpec(OwnedCollection, OwnerRule)
	if err := c.CreateCollection(ctx, us.Token, open); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("collection created by a user: %v, want a 403", err)
	}
	for _, spec := range [][]byte{open, owned} {
		if err := c.CreateCollection(ctx, as.Token, spec); err != nil {
			t.Fatal(err)
		}
	}

	var last atomic.Int64
	spec := SeedSpec{Collection: OwnedCollection, Owner: us.AccountID, Docs: 250, BatchSize: 100, Workers: 3, Seed: 1}
	ids, err := c.Seed(ctx, as.Token, spec, func(done int) { last.Store(int64(done)) })
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 250 || last.Load() != 250 || slices.Contains(ids, "") {
		t.Fatalf("%d ids (progress %d): %v", len(ids), last.Load(), ids)
	}
	// Every id names a document with the content seeded for it, which only
	// its owner (and admins) may read.
	r := rand.New(rand.NewPCG(1, 0x5eed))
	var want Doc
	for i := range 43 {
		want = NewDoc(r, "doc", i)
	}
	want.Owner = us.AccountID
	for token, status := range map[string]int{"": http.StatusNotFound, us.Token: http.StatusOK, as.Token: http.StatusOK} {
		req, _ := http.NewRequest(http.MethodGet, c.BaseURL+"/v1/collections/bench_owned/documents/"+ids[42], nil)
		req.Header = jsonHeader(token)
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Data Doc `json:"data"`
		}
		if resp.StatusCode == http.StatusOK {
			if err := jsonDecode(resp, &got); err != nil || !reflect.DeepEqual(got.Data, want) {
				t.Errorf("document %s: %+v, %v; want %+v", ids[42], got.Data, err, want)
			}
		}
		_ = resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("GET with token %q: %d, want %d", token, resp.StatusCode, status)
		}
	}

	bad := spec
	bad.BatchSize = MaxBatch + 1
	if _, err := c.Seed(ctx, as.Token, bad, nil); err == nil {
		t.Error("Seed accepted 101 operations per batch")
	}
	spec.Docs = 10
	if _, err := c.Seed(ctx, us.Token, spec, nil); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("seeding as a user: err = %v, want a 403", err)
	}
	spec.Collection = "missing"
	if _, err := c.Seed(ctx, as.Token, spec, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("seeding a missing collection: err = %v, want a 404", err)
	}
}
