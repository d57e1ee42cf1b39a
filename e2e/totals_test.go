package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/app"
)

// TestListTotalCap: a server started with --list-total-cap 3 counts at most
// three matches: exact totals up to the cap, the cap and totalCapped beyond,
// the same on every page, through the caller's list rule; on both engines.
func TestListTotalCap(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		c, _, _ := serveApp(t, engine, true, func(cfg *app.Config) { cfg.ListTotalCap = 3 })
		admin := c.as(c.login(adminEmail, adminPassword).AccessToken)
		admin.must(201, "POST", "/v1/collections", `{"name":"marks","schema":{"type":"object","properties":{"n":{"type":"integer"}}},
			"indexes":[{"fields":["n"]}],"rules":{"list":"n >= 2"}}`)
		var ops []string
		for i := 1; i <= 5; i++ {
			ops = append(ops, fmt.Sprintf(`{"op":"create","collection":"marks","id":"m%d","data":{"n":%d}}`, i, i))
		}
		admin.must(200, "POST", "/v1/batch", `{"operations":[`+strings.Join(ops, ",")+`]}`)
		type page struct {
			Items       []json.RawMessage `json:"items"`
			NextCursor  *string           `json:"nextCursor"`
			Total       *int              `json:"total"`
			TotalCapped *bool             `json:"totalCapped"`
		}
		list := func(who *client, query url.Values) page {
			t.Helper()
			var p page
			r := who.must(200, "GET", "/v1/collections/marks/documents?"+query.Encode(), "")
			if err := json.Unmarshal(r.Body, &p); err != nil {
				t.Fatalf("%s: %v", r.Body, err)
			}
			return p
		}
		for _, tc := range []struct {
			who    *client
			filter string
			total  int
			capped bool
		}{
			{admin, "n >= 3", 3, false}, // exactly the cap
			{admin, "n >= 2", 3, true},  // more
			{admin, "n >= 4", 2, false},
			{c, "", 3, true}, // anonymous, through the rule n >= 2: four match
			{c, "n >= 3", 3, false},
		} {
			q := url.Values{"filter": {tc.filter}, "limit": {"1"}, "total": {"true"}}
			for pages := 0; ; pages++ {
				p := list(tc.who, q)
				if p.Total == nil || p.TotalCapped == nil || *p.Total != tc.total || *p.TotalCapped != tc.capped {
					t.Errorf("filter %q, page %d: total %v capped %v, want %d %v", tc.filter, pages+1, p.Total, p.TotalCapped, tc.total, tc.capped)
				}
				if p.NextCursor == nil {
					break
				}
				q.Set("cursor", *p.NextCursor)
			}
		}
		if p := list(admin, url.Values{"limit": {"1"}}); p.Total != nil || p.TotalCapped != nil {
			t.Errorf("without total=true: total %v capped %v", p.Total, p.TotalCapped)
		}
	})
}
