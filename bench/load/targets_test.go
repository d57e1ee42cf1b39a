package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func jsonDecode(resp *http.Response, v any) error {
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", resp.Request.URL, err)
	}
	return nil
}

func TestCollectionSpecIsValidJSON(t *testing.T) {
	var spec struct {
		Name   string `json:"name"`
		Schema struct {
			Properties map[string]any `json:"properties"`
		} `json:"schema"`
		Indexes []struct {
			Fields []string `json:"fields"`
		} `json:"indexes"`
	}
	if err := json.Unmarshal([]byte(CollectionSpec), &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Name != Collection || len(spec.Schema.Properties) != 4 || len(spec.Indexes) != 1 || spec.Indexes[0].Fields[0] != "score" {
		t.Errorf("spec = %+v", spec)
	}
}

func TestTargeters(t *testing.T) {
	get, err := GetTargeter("http://h", "tok", []string{"a", "b/c"})
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
	if _, err := GetTargeter("http://h", "", nil); err == nil {
		t.Error("GetTargeter accepted no ids")
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
	list, err := ListTargeter("http://h", "")
	if err != nil {
		t.Fatal(err)
	}
	var lt vegeta.Target
	if err := list(&lt); err != nil || !strings.HasPrefix(lt.URL, "http://h/v1/collections/bench/documents?") || lt.Header.Get("Authorization") != "" {
		t.Errorf("list target %+v, %v", lt, err)
	}

	create, err := CreateTargeter("http://h", "", 7, 16)
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
	if _, err := CreateTargeter("http://h", "", 7, 0); err == nil {
		t.Error("CreateTargeter accepted no bodies")
	}
}

func TestTargetersDoNotAllocate(t *testing.T) {
	get, _ := GetTargeter("http://h", "", []string{"a", "b", "c"})
	create, _ := CreateTargeter("http://h", "", 1, 8)
	for name, tr := range map[string]vegeta.Targeter{"get": get, "create": create} {
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

func TestSeeder(t *testing.T) {
	srv := httptest.NewServer(newFakeBasalt())
	defer srv.Close()
	s := Seeder{BaseURL: srv.URL, Client: srv.Client()}
	ctx := context.Background()
	if err := s.CreateCollection(ctx); err != nil {
		t.Fatal(err)
	}
	var last atomic.Int64
	ids, err := s.Seed(ctx, 250, 100, 3, 1, func(done int) { last.Store(int64(done)) })
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 250 || last.Load() != 250 || slices.Contains(ids, "") {
		t.Fatalf("%d ids (progress %d): %v", len(ids), last.Load(), ids)
	}
	// Every id names a document that exists with the content seeded for it.
	resp, err := srv.Client().Get(srv.URL + "/v1/collections/bench/documents/" + ids[42])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var got struct {
		Data Doc `json:"data"`
	}
	if err := jsonDecode(resp, &got); err != nil || got.Data.Title == "" {
		t.Errorf("document %s: %+v, %v", ids[42], got, err)
	}

	if _, err := s.Seed(ctx, 10, 101, 1, 1, nil); err == nil {
		t.Error("Seed accepted 101 operations per batch")
	}
	bad := Seeder{BaseURL: srv.URL + "/nowhere", Client: srv.Client()}
	if _, err := bad.Seed(ctx, 10, 5, 2, 1, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("seeding a missing endpoint: err = %v, want a 404", err)
	}
}
