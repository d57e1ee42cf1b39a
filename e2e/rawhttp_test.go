package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEveryRefusalIsAProblem: requests refused before any route runs —
// headers over Basalt's limit, or bytes Go's HTTP server cannot parse —
// are answered with problem+json like every other error.
func TestEveryRefusalIsAProblem(t *testing.T) {
	c, _, _ := serveApp(t, "sqlite", false)

	r := c.do("GET", "/v1/collections?x="+strings.Repeat("a", 70<<10), "")
	if r.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("long URL: status %d, want 431; %s", r.Status, r.Body)
	}
	assertProblem(t, r, "payload_too_large")
	r = c.do("GET", "/healthz", "", "X-Padding", strings.Repeat("p", 70<<10))
	if r.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("long header: status %d, want 431; %s", r.Status, r.Body)
	}
	assertProblem(t, r, "payload_too_large")

	for _, raw := range []string{
		"NOT AN HTTP REQUEST AT ALL\r\n\r\n",
		"GET /v1/collections HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n",
		"GET /v1/collections HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 512<<10) + "\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(c.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { _, _ = io.WriteString(conn, raw) }()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%.30q: %v", raw, err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		_ = conn.Close()
		if res.StatusCode/100 != 4 || !res.Close {
			t.Errorf("%.30q: status %d, close %v", raw, res.StatusCode, res.Close)
		}
		assertProblem(t, response{Status: res.StatusCode, Header: res.Header, Body: body}, map[bool]string{true: "payload_too_large", false: "invalid"}[res.StatusCode == 431])
	}
}
