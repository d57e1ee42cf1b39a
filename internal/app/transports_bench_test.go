package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/internal/app"
)

// BenchmarkTransportsGet measures a get by id through REST and through
// the Connect protocol (binary protobuf) on one `basalt serve` with its
// self-signed certificate, over one HTTP/2 connection, as the load
// generator's transports scenario does but one request at a time: each
// iteration sends the same document's two requests, in alternating order,
// so a machine busy with other work slows both alike. It reports each
// transport's median time per request and connect/rest-%, how much longer
// Connect's median is than REST's. The time includes the client's work;
// a CPU profile shows the server's:
//
//	go test -run '^$' -bench BenchmarkTransportsGet -count 6 -cpuprofile cpu.out ./internal/app/
func BenchmarkTransportsGet(b *testing.B) {
	cfg := app.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	cfg.TLS.SelfSigned = true
	cfg.Logs = io.Discard
	cfg.LogLevel = "error"
	cfg.RateLimits.Disabled = true // as the load generator runs it: its one address stands for many clients
	base := "https://" + serveForBenchmark(b, cfg)
	pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "cert.pem"))
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	call := func(method, path, token string, body []byte, header ...string) []byte {
		b.Helper()
		res, out := benchDo(b, hc, method, base+path, token, body, header...)
		if res.StatusCode/100 != 2 {
			b.Fatalf("%s %s: %d %s", method, path, res.StatusCode, out)
		}
		if res.ProtoMajor != 2 {
			b.Fatalf("%s %s: answered over %s, not HTTP/2", method, path, res.Proto)
		}
		return out
	}
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(call("POST", "/v1/auth/login", "", []byte(`{"email":"admin@basalt.test","password":"a password of the admin"}`)), &login); err != nil {
		b.Fatal(err)
	}
	call("POST", "/v1/collections", login.AccessToken, []byte(`{"name":"bench","schema":{"type":"object"},"rules":{"get":""}}`))
	const n = 64
	bodies := make([][]byte, n)
	for i := range n {
		id := "d" + strconv.Itoa(i)
		call("POST", "/v1/collections/bench/documents?id="+id, login.AccessToken,
			fmt.Appendf(nil, `{"title":"bench document %d","score":%d,"tags":["rock","lava"],"owner":"u%d"}`, i, i, i%10))
		if bodies[i], err = proto.Marshal(&basaltv1.GetDocumentRequest{Collection: "bench", Id: id}); err != nil {
			b.Fatal(err)
		}
	}

	rest := func(i int) {
		call("GET", "/v1/collections/bench/documents/d"+strconv.Itoa(i%n), "", nil, "Accept", "application/json")
	}
	connectGet := func(i int) {
		call("GET", "/basalt.v1.DocumentService/GetDocument?connect=v1&encoding=proto&base64=1&message="+base64.RawURLEncoding.EncodeToString(bodies[i%n]), "", nil)
	}
	connect := func(i int) {
		call("POST", "/basalt.v1.DocumentService/GetDocument", "", bodies[i%n], "Content-Type", "application/proto", "Connect-Protocol-Version", "1")
	}
	timed := func(f func(int), i int) time.Duration {
		start := time.Now()
		f(i)
		return time.Since(start)
	}
	b.Run("paired", func(b *testing.B) {
		var restTimes, connectTimes, getTimes []time.Duration
		i := 0
		for b.Loop() {
			if i%2 == 0 {
				restTimes = append(restTimes, timed(rest, i))
				connectTimes = append(connectTimes, timed(connect, i))
				getTimes = append(getTimes, timed(connectGet, i))
			} else {
				getTimes = append(getTimes, timed(connectGet, i))
				connectTimes = append(connectTimes, timed(connect, i))
				restTimes = append(restTimes, timed(rest, i))
			}
			i++
		}
		tRest, tConnect, tGet := median(restTimes), median(connectTimes), median(getTimes)
		b.ReportMetric(float64(tRest.Nanoseconds()), "rest-ns/op")
		b.ReportMetric(float64(tConnect.Nanoseconds()), "connect-ns/op")
		b.ReportMetric(100*(float64(tConnect)/float64(tRest)-1), "connect/rest-%")
		b.ReportMetric(100*(float64(tGet)/float64(tRest)-1), "connect-get/rest-%")
	})
	// One transport at a time, for a CPU profile of each.
	for name, f := range map[string]func(int){"rest": rest, "connect": connect, "connect-get": connectGet} {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				f(i)
				i++
			}
		})
	}
}

// median returns the middle of ds, which it sorts: unlike the mean, it
// ignores the requests that a preemption or a collection happened to hit.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// benchDo sends one request of a benchmark (a JSON body, the bearer
// token when set, then the header pairs) and returns the answer, whose
// body it has read and closed; a transport error fails b.
func benchDo(b *testing.B, hc *http.Client, method, url, token string, body []byte, header ...string) (benchAnswer, []byte) {
	b.Helper()
	r, err := http.NewRequestWithContext(b.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(r)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		b.Fatal(err)
	}
	return benchAnswer{StatusCode: res.StatusCode, Proto: res.Proto, ProtoMajor: res.ProtoMajor}, out
}

// benchAnswer is what benchDo's callers check of an answer.
type benchAnswer struct {
	StatusCode, ProtoMajor int
	Proto                  string
}

// serveForBenchmark creates the admin (admin@basalt.test, "a password of
// the admin") and runs app.Run with cfg until b ends, returning the
// address it listens on.
func serveForBenchmark(b *testing.B, cfg app.Config) string {
	b.Helper()
	admin := cfg
	admin.Admin = app.AdminAccount{Email: "admin@basalt.test", Password: "a password of the admin"}
	if err := app.CreateAdmin(b.Context(), admin); err != nil {
		b.Fatal(err)
	}
	addr := make(chan string, 1)
	cfg.Ready = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("app.Run: %v", err)
		}
	})
	select {
	case a := <-addr:
		return a
	case err := <-done:
		b.Fatalf("app.Run: %v", err)
	}
	return ""
}
