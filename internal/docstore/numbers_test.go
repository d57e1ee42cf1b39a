package docstore_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
)

// TestRuleNumbersListCountGet gives a collection the list and get rule
// n <= 3 and stores numbers with more digits than a float64 keeps: a
// document is listed, counted and readable by id alike, on both engines.
// Numbers compare as the float64 they read as, so 3.0000000000000000001
// is 3 and passes the rule.
func TestRuleNumbersListCountGet(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		_, err := f.svc.CreateCollection(as(t, "admin"), docstore.CollectionSpec{Name: "vals",
			Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"number"}}}`),
			Rules:  docstore.Rules{List: rule(`n <= 3`), Get: rule(`n <= 3`)}})
		if err != nil {
			t.Fatal(err)
		}
		docs := []struct{ id, n string }{
			{"a", "3"}, {"b", "3.0000000000000000001"}, {"c", "2.9999999999999999999"}, {"d", "3e0"},
			{"e", "3.0000000000000004"}, {"f", "-0"}, {"g", "1e-400"}, {"h", "4"},
			{"i", "9007199254740993.0000000001"},
		}
		for _, d := range docs {
			_, err := f.svc.CreateDocument(as(t, "admin"), docstore.CreateRequest{Collection: "vals", ID: d.id,
				Data: data(t, `{"n":`+d.n+`}`)})
			if err != nil {
				t.Fatalf("create %s (n = %s): %v", d.id, d.n, err)
			}
		}
		want := []string{"a", "b", "c", "d", "f", "g"}

		ctx := as(t, "other")
		page, err := f.svc.ListDocuments(ctx, docstore.ListRequest{Collection: "vals", Limit: 100, Total: true})
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, d := range page.Items {
			listed = append(listed, d.ID)
		}
		var got []string
		for _, d := range docs {
			_, err := f.svc.GetDocument(ctx, "vals", d.id)
			switch outcome(err) {
			case "ok":
				got = append(got, d.id)
			case "not_found":
			default:
				t.Fatalf("get %s: %v", d.id, err)
			}
		}
		total := int64(-1)
		if page.Total != nil {
			total = *page.Total
		}
		if !slices.Equal(listed, want) || !slices.Equal(got, want) || total != int64(len(want)) {
			t.Fatalf("under n <= 3: listed %s, counted %d, got by id %s; want %s each",
				strings.Join(listed, ","), total, strings.Join(got, ","), strings.Join(want, ","))
		}
	})
}
