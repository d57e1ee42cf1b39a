package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// metricValue returns the value of an unlabelled metric in a scrape, or -1
// when the scrape does not have it.
func metricValue(body, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// TestRelayPublishesEveryWrite: serve runs the relay, which every write
// wakes, and publishes each event of the writes made through the API once
// (a collection, three documents, a batch of two and a delete), leaving no
// lag; a refused write publishes nothing.
func TestRelayPublishesEveryWrite(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		admin, _ := startApp(t, engine)
		admin.must(201, "POST", "/v1/collections", `{"name":"items","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}`)
		var ids []string
		for i := range 3 {
			r := admin.must(201, "POST", "/v1/collections/items/documents", fmt.Sprintf(`{"n":%d}`, i))
			id, _ := r.JSON(t)["id"].(string)
			ids = append(ids, id)
		}
		admin.must(200, "POST", "/v1/batch", fmt.Sprintf(`{"operations":[
			{"op":"create","collection":"items","id":"b1","data":{"n":10}},
			{"op":"patch","collection":"items","id":%q,"data":{"n":11}}]}`, ids[0]))
		admin.must(204, "DELETE", "/v1/collections/items/documents/"+ids[1], "")
		admin.must(400, "POST", "/v1/collections/items/documents", `{"n":"not a number"}`)
		const events = 1 + 3 + 2 + 1
		var body string
		// The relay counts a batch published before it stores its cursor
		// and sets the lag: a scrape in between shows the last batch's lag.
		waitFor(t, 20*time.Second, "the relay to publish every event and have no lag", func() bool {
			body = scrape(t, admin.base, metricsToken)
			return metricValue(body, "basalt_outbox_published_total") >= events &&
				metricValue(body, "basalt_outbox_relay_lag_events") == 0
		})
		if got := metricValue(body, "basalt_outbox_published_total"); got != events {
			t.Errorf("published %v events, want %d", got, events)
		}
		if got := metricValue(body, "basalt_outbox_publish_failures_total"); got != 0 {
			t.Errorf("publish failures = %v, want 0", got)
		}
		for _, name := range []string{"basalt_outbox_events", "basalt_outbox_bytes", "basalt_outbox_trimmed_total"} {
			if metricValue(body, name) < 0 {
				t.Errorf("the scrape has no %s", name)
			}
		}
	})
}

// TestRelaysOfTwoProcessesPublishEachEventOnce: two processes on one
// PostgreSQL database each run a relay; between them they publish every
// event of writes made through both exactly once.
func TestRelaysOfTwoProcessesPublishEachEventOnce(t *testing.T) {
	db := pgtest.URL(t)
	shared := func(cfg *app.Config) { cfg.DB = db }
	a, _, _ := serveApp(t, "postgres", true, shared)
	b, _, _ := serveApp(t, "postgres", false, shared)
	token := a.login(adminEmail, adminPassword).AccessToken
	a, b = a.as(token), b.as(token)
	a.must(201, "POST", "/v1/collections", `{"name":"items","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}`)
	const writes = 20
	for i := range writes {
		c := a
		if i%2 == 1 {
			c = b
		}
		c.must(201, "POST", "/v1/collections/items/documents", fmt.Sprintf(`{"n":%d}`, i))
	}
	const events = 1 + writes
	published := func() float64 {
		sa, sb := scrape(t, a.base, metricsToken), scrape(t, b.base, metricsToken)
		return metricValue(sa, "basalt_outbox_published_total") + metricValue(sb, "basalt_outbox_published_total")
	}
	waitFor(t, 30*time.Second, "the relays to publish every event", func() bool { return published() >= events })
	if total := published(); total != events {
		t.Errorf("the two relays published %v events, want each of the %d once", total, events)
	}
}
