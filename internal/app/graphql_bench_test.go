package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/app"
)

// BenchmarkGraphQLList measures the load generator's graphql scenario one
// request at a time, on one `basalt serve` over plain HTTP: the first page
// of 20 documents with a score at least a threshold, highest first,
// through REST and through GraphQL (every field of the nodes), each
// iteration both in alternating order. It reports each API's median time
// per request and graphql/rest-%, how much longer GraphQL's is; the
// sub-benchmarks run one API each, for a CPU profile:
//
//	go test -run '^$' -bench BenchmarkGraphQLList -count 6 ./internal/app/
//	go test -run '^$' -bench 'BenchmarkGraphQLList/graphql$' -cpuprofile cpu.out ./internal/app/
func BenchmarkGraphQLList(b *testing.B) {
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	cfg.Logs = io.Discard
	cfg.LogLevel = "error"
	cfg.RateLimits.Disabled = true
	base := "http://" + serveForBenchmark(b, cfg)
	tr := &http.Transport{DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	call := func(method, path, token string, body []byte) []byte {
		b.Helper()
		res, out := benchDo(b, hc, method, base+path, token, body, "Accept", "application/json")
		if res.StatusCode/100 != 2 || bytes.Contains(out, []byte(`"errors"`)) {
			b.Fatalf("%s %s: %d %s", method, path, res.StatusCode, out)
		}
		return out
	}
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(call("POST", "/v1/auth/login", "", []byte(`{"email":"admin@basalt.test","password":"a password of the admin"}`)), &login); err != nil {
		b.Fatal(err)
	}
	call("POST", "/v1/collections", login.AccessToken, []byte(`{"name":"bench","indexes":[{"fields":["score"]}],"rules":{"list":"","get":""},
		"schema":{"type":"object","properties":{"title":{"type":"string"},"score":{"type":"integer","minimum":0,"maximum":999},"tags":{"type":"array","items":{"type":"string"}},"owner":{"type":"string"}}}}`))
	const n = 200
	for i := range n {
		call("POST", "/v1/collections/bench/documents", login.AccessToken,
			fmt.Appendf(nil, `{"title":"bench document %d","score":%d,"tags":["rock","lava"],"owner":"u%d"}`, i, (i*37)%1000, i%10))
	}
	rest := func(i int) {
		call("GET", "/v1/collections/bench/documents?filter=score+%3E%3D+"+strconv.Itoa(i%100)+"&sort=-score&limit=20", "", nil)
	}
	graphql := func(i int) {
		q := `{ bench(filter: {score: {gte: ` + strconv.Itoa(i%100) + `}}, orderBy: [{score: DESC}], first: 20) ` +
			`{ nodes { id collection version createdAt updatedAt title score tags owner } pageInfo { hasNextPage } } }`
		body, err := json.Marshal(map[string]string{"query": q})
		if err != nil {
			b.Fatal(err)
		}
		call("POST", "/graphql", "", body)
	}
	timed := func(f func(int), i int) time.Duration {
		start := time.Now()
		f(i)
		return time.Since(start)
	}
	b.Run("paired", func(b *testing.B) {
		var restTimes, gqlTimes []time.Duration
		i := 0
		for b.Loop() {
			if i%2 == 0 {
				restTimes = append(restTimes, timed(rest, i))
				gqlTimes = append(gqlTimes, timed(graphql, i))
			} else {
				gqlTimes = append(gqlTimes, timed(graphql, i))
				restTimes = append(restTimes, timed(rest, i))
			}
			i++
		}
		tRest, tGQL := median(restTimes), median(gqlTimes)
		b.ReportMetric(float64(tRest.Nanoseconds()), "rest-ns/op")
		b.ReportMetric(float64(tGQL.Nanoseconds()), "graphql-ns/op")
		b.ReportMetric(100*(float64(tGQL)/float64(tRest)-1), "graphql/rest-%")
	})
	for name, f := range map[string]func(int){"rest": rest, "graphql": graphql} {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				f(i)
				i++
			}
		})
	}
}
