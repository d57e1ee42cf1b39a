package adminui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// problems records the problems a console writes.
type problems struct{ statuses []int }

func (p *problems) write(w http.ResponseWriter, _ *http.Request, status int, detail string) {
	p.statuses = append(p.statuses, status)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"detail":`+`"`+detail+`"}`)
}

func newMux(t *testing.T) (*http.ServeMux, *problems) {
	t.Helper()
	p := &problems{}
	c, err := New(p.write)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	return mux, p
}

func get(mux http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

// TestPage: the page and every file it loads are served with the
// console's security headers, the page revalidated on each visit, the
// hashed files kept for good.
func TestPage(t *testing.T) {
	mux, _ := newMux(t)
	w := get(mux, "GET", Path)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s", Path, w.Code, w.Header().Get("Content-Type"))
	}
	checkSecurityHeaders(t, w.Header())
	if cc := w.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("the page's Cache-Control is %q", cc)
	}
	page := w.Body.String()
	if strings.Contains(page, "<script>") || strings.Contains(page, "style=") {
		t.Error("the page has an inline script or style")
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page loads %d files: %s", len(refs), page)
	}
	for _, ref := range refs {
		f := get(mux, "GET", Path+ref[1])
		if f.Code != 200 {
			t.Errorf("the page loads %s, which answers %d", ref[1], f.Code)
			continue
		}
		checkSecurityHeaders(t, f.Header())
		immutable := strings.Contains(f.Header().Get("Cache-Control"), "immutable")
		if strings.HasPrefix(ref[1], "assets/") != immutable {
			t.Errorf("%s: Cache-Control %q", ref[1], f.Header().Get("Cache-Control"))
		}
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(h.Get("Content-Security-Policy"), d) {
			t.Errorf("the CSP lacks %s", d)
		}
	}
	if strings.Contains(h.Get("Content-Security-Policy"), "unsafe") {
		t.Error("the CSP allows something unsafe")
	}
}

// TestEncodingAndValidators: gzip for browsers that take it (and only
// them), ETags that answer 304, HEAD without a body.
func TestEncodingAndValidators(t *testing.T) {
	mux, _ := newMux(t)
	plain := get(mux, "GET", Path)
	zipped := get(mux, "GET", Path, "Accept-Encoding", "br, gzip;q=0.8")
	if zipped.Header().Get("Content-Encoding") != "gzip" || plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("Content-Encoding: %q with gzip accepted, %q without", zipped.Header().Get("Content-Encoding"), plain.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Fatalf("the gzipped page is not the page (%v)", err)
	}
	for _, ae := range []string{"gzip;q=0", "gzip; q=0.000", "gzip;q=x", "deflate, br"} {
		if get(mux, "GET", Path, "Accept-Encoding", ae).Header().Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q got gzip", ae)
		}
	}
	for _, ae := range []string{"GZIP", "gzip;q=0.001", "br;q=1, gzip ; q=0.5"} {
		if get(mux, "GET", Path, "Accept-Encoding", ae).Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q did not get gzip", ae)
		}
	}
	// The gzipped page is another representation, with its own tag.
	ztag := zipped.Header().Get("ETag")
	if ztag != strings.TrimSuffix(plain.Header().Get("ETag"), `"`)+`-gzip"` {
		t.Errorf("ETags: %s plain, %s gzipped", plain.Header().Get("ETag"), ztag)
	}
	if w := get(mux, "GET", Path, "Accept-Encoding", "gzip", "If-None-Match", ztag); w.Code != http.StatusNotModified || w.Header().Get("ETag") != ztag {
		t.Errorf("If-None-Match of the gzipped tag: %d, ETag %s", w.Code, w.Header().Get("ETag"))
	}
	tag := plain.Header().Get("ETag")
	if tag == "" || plain.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("ETag %q, Vary %q", tag, plain.Header().Get("Vary"))
	}
	for _, inm := range []string{tag, `"other", ` + tag, "W/" + tag, "*"} {
		if w := get(mux, "GET", Path, "If-None-Match", inm); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes", inm, w.Code, w.Body.Len())
		}
	}
	if w := get(mux, "GET", Path, "If-None-Match", `"other"`); w.Code != 200 {
		t.Errorf("another ETag: %d", w.Code)
	}
	head := get(mux, "HEAD", Path)
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") != plain.Header().Get("Content-Length") {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
}

// TestMissingAndRedirect: what is not a file of the console is a problem,
// and /_ leads to the console.
func TestMissingAndRedirect(t *testing.T) {
	mux, p := newMux(t)
	for _, target := range []string{Path + "index.html", Path + "nope.js", Path + "assets/", Path + "assets/../index.html"} {
		w := get(mux, "GET", target)
		if w.Code != 404 && w.Code != 301 && w.Code != 307 {
			t.Errorf("GET %s: %d", target, w.Code)
		}
	}
	if len(p.statuses) < 3 {
		t.Errorf("the missing files wrote %d problems", len(p.statuses))
	}
	w := get(mux, "GET", "/_")
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != Path {
		t.Errorf("GET /_: %d to %q", w.Code, w.Header().Get("Location"))
	}
}

// TestSize: the console stays small, whatever it grows into.
func TestSize(t *testing.T) {
	c, err := New((&problems{}).write)
	if err != nil {
		t.Fatal(err)
	}
	raw, gz := c.Size()
	t.Logf("the console is %d bytes, %d gzipped", raw, gz)
	if gz > 300<<10 {
		t.Errorf("the console is %d bytes gzipped, over the budget of 300 KiB", gz)
	}
}

// TestLoadRefuses: a build without its page, or with a file of a type
// the console does not know, is refused at start.
func TestLoadRefuses(t *testing.T) {
	write := (&problems{}).write
	if _, err := load(fstest.MapFS{"dist/assets/a.js": {Data: []byte("x")}}, write); err == nil {
		t.Error("a build without index.html was loaded")
	}
	if _, err := load(fstest.MapFS{"dist/index.html": {Data: []byte("x")}, "dist/x.exe": {Data: []byte("x")}}, write); err == nil {
		t.Error("a build with an unknown file type was loaded")
	}
	if _, err := load(fstest.MapFS{"dist/index.html": {Data: []byte("x")}}, nil); err == nil {
		t.Error("a console without a problem writer was made")
	}
	c, err := load(fstest.MapFS{"dist/index.html": {Data: []byte("<p>x</p>")}, "dist/.keep": {}}, write)
	if err != nil || len(c.files) != 1 {
		t.Errorf("a minimal build: %v, %d files", err, len(c.files))
	}
}
