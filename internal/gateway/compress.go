package gateway

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// DefaultCompressMinBytes is the smallest answer compressed by default:
// below about one packet, compression saves no round trip and costs CPU.
const DefaultCompressMinBytes = 1024

// codingSuffixes are what a compressed answer's entity tag carries after
// the identity answer's opaque tag: "3" becomes "3-gzip" or "3-zstd".
var codingSuffixes = []string{"-gzip", "-zstd"}

// newCompression returns the compression middleware: answers of a JSON
// type (application/json, application/problem+json, any +json) of at
// least minBytes are compressed with zstd or gzip, whichever the
// request's Accept-Encoding ranks higher (zstd on a tie: it costs less
// CPU for as good a ratio on JSON). Everything else passes as is: other
// types (text/event-stream above all, whose events must not wait in a
// compressor), HEAD requests, answers without a body (204, 304), answers
// a handler encoded already, partial content. Every answer gets Vary:
// Accept-Encoding.
//
// A compressed answer is a representation of its own (RFC 9110, section
// 8.8.3), so its strong entity tag differs from the identity answer's:
// the coding is appended ("3" becomes "3-gzip"). Basalt's entity tags
// carry versions, and the version of a compressed answer is the version:
// the middleware removes the suffix from the tags of If-Match and
// If-None-Match before the handler compares versions, and puts it back on
// the entity tag of a 304 answering a tag that carried it, so a cache
// revalidating its compressed copy recognizes the answer.
func newCompression(minBytes int) (func(http.Handler) http.Handler, error) {
	wrap, err := gzhttp.NewWrapper(
		gzhttp.MinSize(minBytes),
		gzhttp.ContentTypeFilter(compressibleType),
		gzhttp.SuffixETag(codingSuffixes[0]), // gzhttp uses "-zstd" for zstd
		gzhttp.SetContentType(false),
	)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		inner := wrap(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tags := stripCodingSuffixes(r.Header); tags != nil {
				w = &notModifiedTagWriter{ResponseWriter: w, tags: tags}
			}
			if len(r.Header["Accept-Encoding"]) == 0 {
				// Nothing to negotiate (API clients often send no
				// Accept-Encoding): what gzhttp does then, without its
				// wrapper.
				w.Header().Add("Vary", "Accept-Encoding")
				next.ServeHTTP(w, r)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}, nil
}

// compressibleType reports whether an answer of Content-Type ct is
// compressed: JSON types only.
func compressibleType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// stripCodingSuffixes removes the coding suffixes from the entity tags of
// If-Match and If-None-Match in h. It returns the tags of If-None-Match
// as the client sent them when any carried a suffix, else nil.
func stripCodingSuffixes(h http.Header) []string {
	var sent []string
	for _, name := range [...]string{"If-Match", "If-None-Match"} {
		vs := h[name]
		if len(vs) == 0 || !hasCodingSuffix(vs) {
			continue
		}
		stripped := make([]string, len(vs))
		for i, v := range vs {
			for _, s := range codingSuffixes {
				v = strings.ReplaceAll(v, s+`"`, `"`)
			}
			stripped[i] = v
		}
		if name == "If-None-Match" {
			for _, v := range vs {
				for tag := range strings.SplitSeq(v, ",") {
					sent = append(sent, strings.TrimSpace(tag))
				}
			}
		}
		h[name] = stripped
	}
	return sent
}

func hasCodingSuffix(vs []string) bool {
	for _, v := range vs {
		for _, s := range codingSuffixes {
			if strings.Contains(v, s+`"`) {
				return true
			}
		}
	}
	return false
}

// notModifiedTagWriter gives a 304 the entity tag the client sent in
// If-None-Match, coding suffix included, when it names the version the
// handler's entity tag names.
type notModifiedTagWriter struct {
	http.ResponseWriter
	tags []string // If-None-Match as sent
}

func (w *notModifiedTagWriter) WriteHeader(code int) {
	if code == http.StatusNotModified {
		h := w.Header()
		if etag := h.Get("ETag"); etag != "" {
			weak, opaque := strings.HasPrefix(etag, "W/"), strings.TrimPrefix(etag, "W/")
			for _, t := range w.tags {
				t = strings.TrimPrefix(t, "W/")
				for _, s := range codingSuffixes {
					if base, ok := strings.CutSuffix(t, s+`"`); ok && base+`"` == opaque {
						if weak {
							t = "W/" + t
						}
						h.Set("ETag", t)
						w.ResponseWriter.WriteHeader(code)
						return
					}
				}
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *notModifiedTagWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends what was written so far, for handlers that need an
// http.Flusher (streaming RPCs).
func (w *notModifiedTagWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }
