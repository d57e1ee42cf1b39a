package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// A headless Chromium from Debian (package chromium; .ci/run installs it),
// driven over the DevTools protocol by chromedp. Each browser test gets a
// fresh profile and watches, for the whole test, what the page requests,
// the Content-Security-Policy violations it reports and the exceptions it
// throws.

// browserPath is the Chromium to run: $CHROMIUM, else Debian's.
func browserPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("no Chromium: install Debian's chromium package (.ci/run does) or set $CHROMIUM")
	return ""
}

// chromium is one tab of a headless Chromium.
type chromium struct {
	t *testing.T
	// ctx is the tab's; actions run under a timeout derived from it.
	ctx    context.Context
	origin string // the only origin the page may request
	shots  string // where screenshots go

	mu         sync.Mutex
	offOrigin  []string // requests to another origin
	violations []string // CSP violations (the page's securitypolicyviolation events and Chromium's security log)
	exceptions []string // uncaught JavaScript exceptions
	watchers   sync.WaitGroup
}

// cspReport is the binding the page calls with each securitypolicyviolation
// event (installed before any script of the page runs).
const cspReport = "basaltCSPViolation"

// newBrowser starts Chromium with a fresh profile, for pages of origin,
// and stops it when the test ends. Screenshots go to the directory
// artifacts/<name> of the repository's bin (or $BASALT_TEST_ARTIFACTS).
func newChromium(t *testing.T, origin, name string) *chromium {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browserPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
	}
	opts = append(chromedp.DefaultExecAllocatorOptions[:], opts...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &chromium{t: t, ctx: ctx, origin: origin, shots: artifactsDir(t, name)}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		b.watchers.Wait()
	})
	start, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx
		t.Fatalf("starting Chromium: %v", err)
	}
	b.watch()
	if _, err := chromedp.Call(start, runtime.AddBinding, runtime.AddBindingParams{Name: cspReport}); err != nil {
		t.Fatal(err)
	}
	script := `document.addEventListener("securitypolicyviolation", (e) => ` + cspReport +
		`(JSON.stringify({directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample})));`
	if _, err := chromedp.Call(start, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
		t.Fatal(err)
	}
	return b
}

// artifactsDir is where a test writes files for people to look at.
func artifactsDir(t *testing.T, name string) string {
	t.Helper()
	root := os.Getenv("BASALT_TEST_ARTIFACTS")
	if root == "" {
		abs, err := filepath.Abs(filepath.Join("..", "bin", "test-artifacts"))
		if err != nil {
			t.Fatal(err)
		}
		root = abs
	}
	dir := filepath.Join(root, name)
	if err := os.RemoveAll(dir); err != nil { // the screenshots of an earlier run
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// watch records, until the tab closes, the requests to other origins, the
// CSP violations and the uncaught exceptions.
func (b *chromium) watch() {
	requests := chromedp.Events(b.ctx, network.RequestWillBeSent)
	bindings := chromedp.Events(b.ctx, runtime.BindingCalled)
	logs := chromedp.Events(b.ctx, log.EntryAdded)
	exceptions := chromedp.Events(b.ctx, runtime.ExceptionThrown)
	b.watchers.Go(func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			u, perr := url.Parse(ev.Request.URL)
			if perr == nil && (u.Scheme == "data" || u.Scheme == "about") {
				continue
			}
			if perr != nil || u.Scheme+"://"+u.Host != b.origin {
				b.record(&b.offOrigin, ev.Request.Method+" "+ev.Request.URL)
			}
		}
	})
	b.watchers.Go(func() {
		for ev, err := range bindings {
			if err != nil {
				return
			}
			if ev.Name == cspReport {
				b.record(&b.violations, ev.Payload)
			}
		}
	})
	b.watchers.Go(func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			e := ev.Entry
			if e.Source == log.EntrySourceSecurity || strings.Contains(e.Text, "Content Security Policy") || strings.Contains(e.Text, "Trusted Type") {
				b.record(&b.violations, fmt.Sprintf("%s: %s (%s:%d)", e.Source, e.Text, e.URL, e.LineNumber))
			}
		}
	})
	b.watchers.Go(func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			b.record(&b.exceptions, fmt.Sprintf("%s (%s:%d:%d)", text, d.URL, d.LineNumber, d.ColumnNumber))
		}
	})
}

func (b *chromium) record(to *[]string, what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	*to = append(*to, what)
}

// checkClean fails the test for every request to another origin, CSP
// violation or uncaught exception seen so far.
func (b *chromium) checkClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.offOrigin {
		b.t.Errorf("the page requested another origin than %s: %s", b.origin, r)
	}
	for _, v := range b.violations {
		b.t.Errorf("Content-Security-Policy violation: %s", v)
	}
	for _, e := range b.exceptions {
		b.t.Errorf("uncaught exception in the page: %s", e)
	}
}

// do runs actions, failing the test (with a screenshot of the page as it
// was) on the first error or after 20 s.
func (b *chromium) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

// unsafeName matches what a file name should not hold.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.]+`)

// fail ends the test with err, after a screenshot of the page and its text.
func (b *chromium) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	name := "failed-" + strings.Trim(unsafeName.ReplaceAllString(what, "-"), "-") + ".png"
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
		_ = os.WriteFile(filepath.Join(b.shots, name), png, 0o644)
	}
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	b.checkClean()
	b.t.Fatalf("%s: %v\nthe page (screenshot %s) says:\n%s", what, err, filepath.Join(b.shots, name), text)
}

// eval evaluates a JavaScript expression and returns its value as T.
func eval[T any](b *chromium, what, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// js quotes s as a JavaScript string.
func js(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// waitFor waits until a JavaScript expression is truthy.
func (b *chromium) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.fail("waiting for "+what, err)
	}
}

// waitText waits until the element of a CSS selector contains text.
func (b *chromium) waitText(sel, text string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%q in %s", text, sel),
		`(() => { const e = document.querySelector(`+js(sel)+`); return !!e && e.textContent.includes(`+js(text)+`); })()`)
}

// fill types value into the input of a CSS selector, replacing what it
// had: the value is set, then an input event tells the page, as typing does.
func (b *chromium) fill(sel, value string) {
	b.t.Helper()
	b.do("filling "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Evaluate[chromedp.Void](`(() => {
		const e = document.querySelector(`+js(sel)+`);
		const proto = Object.getPrototypeOf(e);
		Object.getOwnPropertyDescriptor(proto, "value").set.call(e, `+js(value)+`);
		e.dispatchEvent(new Event("input", {bubbles: true}));
	})()`))
}

// choose selects the option value of the select of a CSS selector.
func (b *chromium) choose(sel, value string) {
	b.t.Helper()
	b.do("choosing "+value+" in "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Evaluate[chromedp.Void](`(() => {
		const e = document.querySelector(`+js(sel)+`);
		e.value = `+js(value)+`;
		e.dispatchEvent(new Event("change", {bubbles: true}));
	})()`))
}

// click clicks the element of a CSS selector once it is visible.
func (b *chromium) click(sel string) {
	b.t.Helper()
	b.clickOnce("clicking "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// press clicks the button (or button-like link) whose text is label.
func (b *chromium) press(label string) {
	b.t.Helper()
	sel := fmt.Sprintf(`//*[self::button or self::a][normalize-space()=%q]`, label)
	b.clickOnce("pressing "+label, chromedp.Click(sel, chromedp.NodeVisible))
}

// clickOnce runs a click, again when the element it found was replaced
// before the click reached it (the page re-rendered in between: the
// DevTools node id is then gone), at most three times.
func (b *chromium) clickOnce(what string, click chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		err := chromedp.Do(ctx, click)
		cancel()
		if err == nil {
			return
		}
		if attempt == 3 || !strings.Contains(err.Error(), "Could not find node with given id") {
			b.fail(what, err)
		}
	}
}

// screenshot writes the whole page as <name>.png.
func (b *chromium) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// axeViolation is one rule axe-core found broken.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// checkAccessibility runs axe-core (from the console's npm packages) on
// the page as it is and fails the test for each serious or critical
// violation of WCAG 2.1 A and AA and axe's best practices.
func (b *chromium) checkAccessibility(page, axeSource string) {
	b.t.Helper()
	for _, v := range b.accessibilityViolations(page, axeSource) {
		b.t.Errorf("accessibility (page %s): %s", page, v)
	}
}

// accessibilityViolations returns the serious and critical violations
// axe-core finds on the page as it is.
func (b *chromium) accessibilityViolations(page, axeSource string) []string {
	b.t.Helper()
	if !eval[bool](b, "axe present", `typeof axe !== "undefined"`) {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer cancel()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
			b.fail("injecting axe-core", err)
		}
	}
	raw := eval[[]byte](b, "axe.run on "+page, `axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
		resultTypes: ["violations"],
	}).then((r) => r.violations)`)
	var violations []axeViolation
	if err := json.Unmarshal(raw, &violations); err != nil {
		b.t.Fatalf("axe results: %v", err)
	}
	var out []string
	for _, v := range violations {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprint(n.Target))
		}
		out = append(out, fmt.Sprintf("%s: %s [%s] at %s", v.Impact, v.Help, v.ID, strings.Join(where, ", ")))
	}
	return out
}
