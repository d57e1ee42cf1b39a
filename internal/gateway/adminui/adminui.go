// Package adminui serves Basalt's admin console: the static assets of a
// single-page application, built from ui/admin and embedded in the binary,
// at /_/. The console holds no privilege of its own: it signs an admin in
// through /v1/auth/login and calls the public API like any other client.
package adminui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Path is where the console is served; its page is Path itself.
const Path = "/_/"

// The patterns Register adds to a mux: the console's files, and its path
// without the slash, which redirects to it.
const (
	routeFiles    = "GET " + Path + "{file...}"
	routeRedirect = "GET /_"
)

// RoutePatterns returns the patterns Register adds, for the route tables
// that must name every route (metrics, the authorization test).
func RoutePatterns() []string { return []string{routeFiles, routeRedirect} }

// CSP is the Content-Security-Policy of every answer under Path: the
// console's own scripts, styles and images, requests to its own origin
// only, no inline script or style, no plugin, no form posted anywhere,
// no framing, and DOM sinks that take strings (innerHTML, eval) refused
// by Trusted Types.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// The built console (make ui), committed so that building Basalt needs no
// Node.js. An embedded file system is read-only: this is the binary's
// content, not state.
//
//go:embed all:dist
var dist embed.FS

// asset is one file of the console, ready to serve.
type asset struct {
	body, gzipped []byte
	contentType   string
	// etag is the strong entity tag of body; the gzipped body, another
	// representation, has its own: etag with the gateway's coding suffix
	// ("…-gzip"), as the gateway's compressed answers have.
	etag, gzipETag string
	// immutable is true for files whose name carries a hash of their
	// content: browsers keep them for a year without asking again.
	immutable bool
}

// Console serves the console's files.
type Console struct {
	files map[string]*asset // by path under Path; "" is the page
	// problem writes an answer that is not a file (a missing one).
	problem func(w http.ResponseWriter, r *http.Request, status int, detail string)
}

// New loads the embedded console. problem writes the console's error
// answers (a file that does not exist), as problem+json.
func New(problem func(w http.ResponseWriter, r *http.Request, status int, detail string)) (*Console, error) {
	return load(dist, problem)
}

// load prepares every file of fsys's dist directory.
func load(fsys fs.FS, problem func(http.ResponseWriter, *http.Request, int, string)) (*Console, error) {
	if problem == nil {
		return nil, errors.New("adminui: a problem writer is required")
	}
	root, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, err
	}
	c := &Console{files: map[string]*asset{}, problem: problem}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(name), ".") {
			return err
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		a, err := newAsset(name, body)
		if err != nil {
			return err
		}
		if name == "index.html" {
			name = ""
		}
		c.files[name] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("adminui: %w", err)
	}
	if c.files[""] == nil {
		return nil, errors.New("adminui: the console has no index.html (run make ui)")
	}
	return c, nil
}

func newAsset(name string, body []byte) (*asset, error) {
	var ctype string
	switch path.Ext(name) { // not left to the machine's MIME tables
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	case ".png":
		ctype = "image/png"
	case ".json", ".map":
		ctype = "application/json"
	case ".woff2":
		ctype = "font/woff2"
	}
	if ctype == "" {
		return nil, fmt.Errorf("%s: unknown file type", name)
	}
	sum := sha256.Sum256(body)
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	a := &asset{body: body, contentType: ctype, etag: `"` + tag + `"`, gzipETag: `"` + tag + `-gzip"`,
		immutable: strings.HasPrefix(name, "assets/")}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() < len(body) {
		a.gzipped = buf.Bytes()
	}
	return a, nil
}

// Size returns the bytes of every file, as stored and as sent gzipped to
// a browser that accepts it.
func (c *Console) Size() (raw, gzipped int) {
	for _, a := range c.files {
		raw += len(a.body)
		if a.gzipped != nil {
			gzipped += len(a.gzipped)
		} else {
			gzipped += len(a.body)
		}
	}
	return raw, gzipped
}

// Register adds the console's routes to mux: Path and the files under
// it, and Path without its slash, which redirects to it.
func (c *Console) Register(mux *http.ServeMux) {
	mux.HandleFunc(routeRedirect, func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		http.Redirect(w, r, Path, http.StatusMovedPermanently)
	})
	mux.Handle(routeFiles, c)
}

// ServeHTTP serves the file named by the request's {file} path value
// (the page for none).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setSecurityHeaders(h)
	name := r.PathValue("file")
	a, ok := c.files[name]
	if !ok {
		c.problem(w, r, http.StatusNotFound, "the admin console has no file "+Path+name)
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Vary", "Accept-Encoding")
	if a.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, tag := a.body, a.etag
	if a.gzipped != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body, tag = a.gzipped, a.gzipETag
	}
	h.Set("ETag", tag)
	// Behind the gateway's compression middleware, If-None-Match arrives
	// with the coding suffix removed (and the 304 gets the tag as sent):
	// a cached copy in either coding is still the current content.
	if match := r.Header.Get("If-None-Match"); match != "" && (etagMatches(match, a.etag) || etagMatches(match, a.gzipETag)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// setSecurityHeaders sets the headers of every answer under Path.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip:
// named with a q-value above 0 (RFC 9110, section 12.5.3).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			name, value, found := strings.Cut(strings.TrimSpace(params), "=")
			if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
				return true
			}
			q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			return err == nil && q > 0
		}
	}
	return false
}

// etagMatches reports whether an If-None-Match header names tag (or *),
// comparing weakly as RFC 9110 asks for If-None-Match.
func etagMatches(header, tag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == "*" || part == tag {
			return true
		}
	}
	return false
}
