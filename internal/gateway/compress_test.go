package gateway

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// bigJSON is a JSON document of n bytes or a little more.
func bigJSON(n int) string {
	var b strings.Builder
	b.WriteString(`{"id":"0193","version":3,"data":{"items":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"title":"Basalt is a volcanic rock","score":` + strconv.Itoa(i) + `}`)
	}
	b.WriteString("]}}")
	return b.String()
}

// seen records the conditional headers the routes received.
type seen struct{ ifMatch, ifNoneMatch []string }

// compressionMux answers like Basalt's document routes: a version ETag,
// 304 when If-None-Match names version 3, and other content types.
func compressionMux(got *seen) *http.ServeMux {
	mux := http.NewServeMux()
	big := bigJSON(4 << 10)
	small := `{"id":"0193","version":3,"data":{"title":"short"}}`
	writeJSON := func(w http.ResponseWriter, r *http.Request, ct, body string) {
		got.ifMatch, got.ifNoneMatch = r.Header.Values("If-Match"), r.Header.Values("If-None-Match")
		if strings.Contains(r.Header.Get("If-None-Match"), `"3"`) {
			w.Header().Set("ETag", `"3"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"3"`)
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, body)
		}
	}
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, r, "application/json", big) })
	mux.HandleFunc("PUT /big", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, r, "application/json", big) })
	mux.HandleFunc("GET /small", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, r, "application/json", small) })
	mux.HandleFunc("GET /problem", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, "application/problem+json", big)
	})
	mux.HandleFunc("GET /openapi", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, "application/vnd.oai.openapi+json;version=3.1", big)
	})
	mux.HandleFunc("GET /text", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, r, "text/plain; charset=utf-8", big) })
	mux.HandleFunc("GET /chunked", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := range 4 {
			_, _ = io.WriteString(w, bigJSON(512)[:500]+strconv.Itoa(i)) // no Content-Length
		}
	})
	mux.HandleFunc("GET /encoded", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = io.WriteString(zw, big)
		_ = zw.Close()
		_, _ = w.Write(b.Bytes())
	})
	mux.HandleFunc("DELETE /big", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, big)
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return mux
}

// decode undoes the answer's Content-Encoding.
func decode(t *testing.T, res *http.Response, body []byte) string {
	t.Helper()
	switch res.Header.Get("Content-Encoding") {
	case "":
		return string(body)
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Fatalf("unexpected Content-Encoding %q", res.Header.Get("Content-Encoding"))
	return ""
}

func TestCompression(t *testing.T) {
	m, _ := newTestMiddleware(t)
	got := &seen{}
	h, err := NewHandler(m, compressionMux(got), HandlerConfig{CORSOrigins: []string{"https://app.example.com"}, CompressMinBytes: DefaultCompressMinBytes})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// The client's transport must neither ask for nor undo compression by
	// itself: the test sets Accept-Encoding and reads the bytes sent.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	big := bigJSON(4 << 10)

	cases := []struct {
		name, method, path, acceptEncoding string
		headers                            []string
		status                             int
		encoding, etag, body               string
	}{
		{name: "gzip", method: "GET", path: "/big", acceptEncoding: "gzip", status: 200, encoding: "gzip", etag: `"3-gzip"`, body: big},
		{name: "browser: zstd preferred on a tie", method: "GET", path: "/big", acceptEncoding: "gzip, deflate, br, zstd", status: 200, encoding: "zstd", etag: `"3-zstd"`, body: big},
		{name: "client ranks gzip higher", method: "GET", path: "/big", acceptEncoding: "zstd;q=0.5, gzip", status: 200, encoding: "gzip", etag: `"3-gzip"`, body: big},
		{name: "client ranks zstd higher", method: "GET", path: "/big", acceptEncoding: "gzip;q=0.5, zstd", status: 200, encoding: "zstd", etag: `"3-zstd"`, body: big},
		{name: "identity asked", method: "GET", path: "/big", acceptEncoding: "", status: 200, encoding: "", etag: `"3"`, body: big},
		{name: "no Accept-Encoding", method: "GET", path: "/big", acceptEncoding: "none", status: 200, encoding: "", etag: `"3"`, body: big},
		{name: "no Accept-Encoding, conditional write with a compressed tag", method: "PUT", path: "/big", acceptEncoding: "none", headers: []string{"If-Match", `"3-zstd"`}, status: 200, encoding: "", etag: `"3"`, body: big},
		{name: "no Accept-Encoding, revalidation of a compressed copy", method: "GET", path: "/big", acceptEncoding: "none", headers: []string{"If-None-Match", `"3-gzip"`}, status: 304, encoding: "", etag: `"3-gzip"`},
		{name: "gzip refused", method: "GET", path: "/big", acceptEncoding: "gzip;q=0, br", status: 200, encoding: "", etag: `"3"`, body: big},
		{name: "below the threshold", method: "GET", path: "/small", acceptEncoding: "gzip, zstd", status: 200, encoding: "", etag: `"3"`},
		{name: "problem+json", method: "GET", path: "/problem", acceptEncoding: "gzip", status: 200, encoding: "gzip", etag: `"3-gzip"`, body: big},
		{name: "+json type", method: "GET", path: "/openapi", acceptEncoding: "gzip", status: 200, encoding: "gzip", etag: `"3-gzip"`, body: big},
		{name: "not JSON", method: "GET", path: "/text", acceptEncoding: "gzip, zstd", status: 200, encoding: "", etag: `"3"`, body: big},
		{name: "written in pieces without Content-Length", method: "GET", path: "/chunked", acceptEncoding: "gzip", status: 200, encoding: "gzip"},
		{name: "encoded by the handler", method: "GET", path: "/encoded", acceptEncoding: "gzip, zstd", status: 200, encoding: "gzip", body: big},
		{name: "HEAD has no body", method: "HEAD", path: "/big", acceptEncoding: "gzip, zstd", status: 200, encoding: "", etag: `"3"`},
		{name: "204 has no body", method: "DELETE", path: "/big", acceptEncoding: "gzip, zstd", status: 204, encoding: ""},
		{name: "304 for a compressed copy", method: "GET", path: "/big", acceptEncoding: "gzip", headers: []string{"If-None-Match", `"2-gzip", "3-gzip"`}, status: 304, encoding: "", etag: `"3-gzip"`},
		{name: "304 for an identity copy", method: "GET", path: "/big", acceptEncoding: "gzip", headers: []string{"If-None-Match", `"3"`}, status: 304, encoding: "", etag: `"3"`},
		{name: "304 for a weak compressed tag", method: "GET", path: "/big", acceptEncoding: "zstd", headers: []string{"If-None-Match", `W/"3-zstd"`}, status: 304, encoding: "", etag: `"3-zstd"`},
		{name: "conditional write with a compressed tag", method: "PUT", path: "/big", acceptEncoding: "gzip", headers: []string{"If-Match", `"3-gzip"`}, status: 200, encoding: "gzip", etag: `"3-gzip"`, body: big},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, srv.URL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.acceptEncoding != "none" {
				req.Header.Set("Accept-Encoding", c.acceptEncoding)
			}
			for i := 0; i+1 < len(c.headers); i += 2 {
				req.Header.Set(c.headers[i], c.headers[i+1])
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if enc := res.Header.Get("Content-Encoding"); enc != c.encoding {
				t.Errorf("Content-Encoding %q, want %q", enc, c.encoding)
			}
			if c.etag != "" && res.Header.Get("ETag") != c.etag {
				t.Errorf("ETag %s, want %s", res.Header.Get("ETag"), c.etag)
			}
			if !varyLists(res.Header, "Accept-Encoding") {
				t.Errorf("Vary = %q lacks Accept-Encoding", res.Header.Values("Vary"))
			}
			if c.method == "HEAD" || c.status == 204 || c.status == 304 {
				if len(raw) != 0 {
					t.Errorf("%d answer to %s has a body of %d bytes", c.status, c.method, len(raw))
				}
				return
			}
			if cl := res.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(raw)) {
				t.Errorf("Content-Length %s, body %d bytes", cl, len(raw))
			}
			if c.encoding != "" && len(raw) >= len(big)/2 {
				t.Errorf("compressed body is %d bytes", len(raw))
			}
			if text := decode(t, res, raw); c.body != "" && text != c.body {
				t.Errorf("decoded body differs from the handler's (%d bytes vs %d)", len(text), len(c.body))
			}
		})
	}

	// The routes compare versions: the coding suffixes never reach them.
	req, _ := http.NewRequest("PUT", srv.URL+"/big", nil)
	req.Header.Set("If-Match", `"2-zstd", "3-gzip"`)
	req.Header.Add("If-None-Match", `W/"4-gzip"`)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if strings.Join(got.ifMatch, "|") != `"2", "3"` || strings.Join(got.ifNoneMatch, "|") != `W/"4"` {
		t.Errorf("routes saw If-Match %q and If-None-Match %q", got.ifMatch, got.ifNoneMatch)
	}

	// The middleware around compression still sees the route and the
	// status, and a panic is still answered.
	for range 2 {
		req, _ := http.NewRequest("GET", srv.URL+"/things/1", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("Origin", "https://app.example.com")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Fatalf("headers %v", res.Header)
		}
	}
	if n := testutil.ToFloat64(m.requests.WithLabelValues("GET", "GET /things/{id}", "other", "200")); n != 2 {
		t.Errorf("requests{GET /things/{id},200} = %v, want 2", n)
	}
	req, _ = http.NewRequest("GET", srv.URL+"/panic", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 500 || !strings.Contains(decode(t, res, body), "internal") {
		t.Errorf("panic answered %d %q", res.StatusCode, body)
	}
}

// Server-Sent Events are never compressed, and each event reaches the
// client when the handler flushes it, not when a buffer fills.
func TestEventStreamIsNotCompressed(t *testing.T) {
	m, _ := newTestMiddleware(t)
	next := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		rc := http.NewResponseController(w)
		for i := range 3 {
			_, _ = io.WriteString(w, "id: "+strconv.Itoa(i)+"\ndata: "+bigJSON(2<<10)+"\n\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("flush: %v", err)
				return
			}
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	h, err := NewHandler(m, mux, HandlerConfig{CORSOrigins: []string{"https://app.example.com"}, CompressMinBytes: DefaultCompressMinBytes})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	req.Header.Set("Origin", "https://app.example.com")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if enc := res.Header.Get("Content-Encoding"); enc != "" {
		t.Fatalf("event stream sent with Content-Encoding %q", enc)
	}
	rd := bufio.NewReader(res.Body)
	for i := range 3 {
		line, err := rd.ReadString('\n')
		if err != nil || line != "id: "+strconv.Itoa(i)+"\n" {
			t.Fatalf("event %d starts with %q, %v", i, line, err)
		}
		if _, err := rd.ReadString('\n'); err != nil { // data
			t.Fatal(err)
		}
		if _, err := rd.ReadString('\n'); err != nil { // blank line
			t.Fatal(err)
		}
		next <- struct{}{} // the handler writes the next event only now
	}
}

func TestCompressionOff(t *testing.T) {
	m, _ := newTestMiddleware(t)
	h, err := NewHandler(m, compressionMux(&seen{}), HandlerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/big", nil)
	req.Header.Set("Accept-Encoding", "gzip, zstd")
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "" || rec.Header().Get("ETag") != `"3"` {
		t.Fatalf("with compression off: headers %v", rec.Header())
	}
	if _, err := NewHandler(m, compressionMux(&seen{}), HandlerConfig{CompressMinBytes: -1}); err == nil {
		t.Fatal("a negative threshold was accepted")
	}
}

// TestHandlersCanFlush: a handler behind the whole chain (middleware,
// CORS, compression) sees a writer that is an http.Flusher itself, as
// streaming RPC handlers require, with and without a compressed answer,
// and what it flushes reaches the client before the handler returns.
func TestHandlersCanFlush(t *testing.T) {
	m, _ := newTestMiddleware(t)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", func(w http.ResponseWriter, _ *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, fmt.Sprintf("%T is not an http.Flusher", w), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "first\n")
		f.Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	})
	h, err := NewHandler(m, mux, HandlerConfig{CompressMinBytes: DefaultCompressMinBytes})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// Without DisableCompression the transport would ask for gzip.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	for _, enc := range []string{"", "gzip"} {
		req, _ := http.NewRequest("GET", srv.URL+"/stream", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("Accept-Encoding %q: %d %s", enc, res.StatusCode, b)
		}
		var body io.Reader = res.Body
		if res.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		line, err := bufio.NewReader(body).ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("Accept-Encoding %q: first line %q, %v, before the handler returned", enc, line, err)
		}
		release <- struct{}{}
		_ = res.Body.Close()
	}
}
