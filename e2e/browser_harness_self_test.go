package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/basaltdev/basalt/internal/gateway/adminui"
)

// TestChromiumHarnessCatches proves the browser tests' checks can fail: a
// page served under the console's Content-Security-Policy that breaks it
// (an inline script, a string written to innerHTML), requests another
// origin and has an unlabelled input and an image without a text
// alternative is caught by each check.
func TestChromiumHarnessCatches(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", adminui.CSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><head><title>bad</title>
<script src="/bad.js"></script></head><body><main><h1>Bad</h1>
<script>document.title = "inline ran";</script>
<img src="/x.png"><input name="unlabelled">
<img src="http://192.0.2.1:9/tracker.png" alt="tracker">
</main></body></html>`))
	})
	mux.HandleFunc("GET /bad.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(`addEventListener("DOMContentLoaded", () => { try { document.body.innerHTML += "<b>x</b>"; } catch (e) {} });`))
	})
	mux.HandleFunc("GET /x.png", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := newChromium(t, srv.URL, "harness")
	b.do("opening the bad page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.waitFor("the violations", `document.readyState === "complete"`)
	if eval[string](b, "title", `document.title`) == "inline ran" {
		t.Error("the inline script ran despite the CSP")
	}
	waitFor(t, 10*time.Second, "the harness to record the violations", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.violations) >= 2 && len(b.offOrigin) >= 1
	})
	b.mu.Lock()
	violations, offOrigin := strings.Join(b.violations, "\n"), strings.Join(b.offOrigin, "\n")
	b.mu.Unlock()
	if !strings.Contains(violations, "script-src") || !strings.Contains(violations, "trusted-types") && !strings.Contains(violations, "Trusted Type") {
		t.Errorf("the CSP violations recorded are:\n%s", violations)
	}
	if !strings.Contains(offOrigin, "192.0.2.1") {
		t.Errorf("the requests to other origins recorded are:\n%s", offOrigin)
	}
	found := strings.Join(b.accessibilityViolations("bad", axeSource(t)), "\n")
	for _, rule := range []string{"[image-alt]", "[label]"} {
		if !strings.Contains(found, rule) {
			t.Errorf("axe did not report %s; it reported:\n%s", rule, found)
		}
	}
}
