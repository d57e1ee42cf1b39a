package load

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeGOROOT writes a small Go tree whose documentation is the text of a
// search scenario in tests, and returns its root.
func fakeGOROOT(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	pkgs := map[string]string{
		"quarry": `// Package quarry extracts granite blocks from the mountain.
//
// Granite blocks are measured before they leave the quarry. Every block carries a number.
// The crusher turns small blocks into gravel for the roads. Workers inspect the blocks daily.
package quarry

// Extract cuts one granite block from the mountain face and returns its number.
func Extract() int { return 0 }

// Measure returns the weight of a granite block in kilograms, measured twice.
func Measure(block int) int { return block }

// Crusher turns granite blocks into gravel of a chosen size.
type Crusher struct{}

// Crush breaks the block into gravel and reports the tonnage produced.
func (Crusher) Crush(block int) int { return block }
`,
		"volcano": `// Package volcano watches the lava of an active volcano.
//
// Sensors report the temperature of the lava every minute. An eruption warning goes to the observatory.
// The observatory keeps every measurement for the scientists. Scientists compare the temperature with older eruptions.
package volcano

// Watch starts the sensors of the volcano and reports every measurement to the observatory.
func Watch() {}

// Warning is an eruption warning with its temperature and its time.
type Warning struct{}

// Send delivers the warning to the observatory and the scientists.
func (Warning) Send() {}
`,
	}
	for name, src := range pkgs {
		dir := filepath.Join(root, "src", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestTextCorpus(t *testing.T) {
	c, err := ReadTextCorpus(context.Background(), fakeGOROOT(t))
	if err != nil {
		t.Fatal(err)
	}
	titles, sentences := c.Sizes()
	// Two package comments and seven doc comments; sentences of 4 to 40
	// words only ("Granite blocks are measured…" yes, "Package quarry…" yes).
	if titles != 9 || sentences < 15 {
		t.Fatalf("%d titles, %d sentences", titles, sentences)
	}
	docs := c.Docs(50, 7)
	if !slices.Equal(docs, c.Docs(50, 7)) {
		t.Error("the same seed gave other documents")
	}
	if slices.Equal(docs, c.Docs(50, 8)) {
		t.Error("another seed gave the same documents")
	}
	for _, d := range docs {
		n := 0
		for _, s := range c.sentences {
			n += strings.Count(d.Body, s)
		}
		if n < 2 || n > 5 || d.Title == "" || d.Score < 0 || d.Score > 999 || !slices.Contains(c.titles, d.Title) {
			t.Fatalf("document %+v: %d sentences", d, n)
		}
	}
	if _, err := ReadTextCorpus(context.Background(), t.TempDir()); err == nil {
		t.Error("a tree without documentation gave a corpus")
	}
}

func TestSentences(t *testing.T) {
	got := Sentences("Read reads up to len(p) bytes. It returns n.\n\tcode line that is long enough here.\nA heading\n" +
		"Close closes the file, rendering it unusable for I/O! Does it? Yes it does so.")
	want := []string{"Read reads up to len(p) bytes.", "Close closes the file, rendering it unusable for I/O!", "Yes it does so."}
	if !slices.Equal(got, want) {
		t.Errorf("Sentences = %q, want %q", got, want)
	}
}

func TestPickTextQueries(t *testing.T) {
	c, err := ReadTextCorpus(context.Background(), fakeGOROOT(t))
	if err != nil {
		t.Fatal(err)
	}
	docs := c.Docs(400, 1)
	q, err := PickTextQueries(docs, 30, 1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := PickTextQueries(docs, 30, 1)
	if err != nil || !slices.Equal(q.Queries[QueryTypo], again.Queries[QueryTypo]) || !slices.Equal(q.Queries[QueryPhrase], again.Queries[QueryPhrase]) {
		t.Errorf("the same seed gave other queries: %v", err)
	}
	df := map[string]int{}
	var texts []string
	for _, d := range docs {
		seen := map[string]bool{}
		for _, w := range Words(d.Title + " " + d.Body) {
			if !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
		texts = append(texts, strings.ToLower(d.Body))
	}
	stop := strings.Fields(englishStopWords)
	minCommon := len(docs)
	for _, w := range q.Queries[QueryCommon] {
		minCommon = min(minCommon, df[w])
	}
	for class, qs := range q.Queries {
		if len(qs) != 30 {
			t.Errorf("%s: %d queries", class, len(qs))
		}
		for _, s := range qs {
			words := Words(s)
			for _, w := range words {
				if slices.Contains(stop, w) && class != QueryPhrase {
					t.Errorf("%s %q holds the stop word %q", class, s, w)
				}
			}
			switch class {
			case QueryRare:
				if df[s] < 3 || df[s] >= minCommon || q.DF[s] != df[s] {
					t.Errorf("rare %q in %d documents (common words: ≥ %d)", s, df[s], minCommon)
				}
			case QueryCommon:
				if q.DF[s] != df[s] {
					t.Errorf("common %q: df %d, counted %d", s, q.DF[s], df[s])
				}
			case QueryTwo:
				both := 0
				for _, d := range docs {
					ws := Words(d.Body)
					if len(words) == 2 && words[0] != words[1] && slices.Contains(ws, words[0]) && slices.Contains(ws, words[1]) {
						both++
					}
				}
				if both == 0 {
					t.Errorf("two words %q: no document holds both", s)
				}
			case QueryPhrase:
				inner := strings.Trim(s, `"`)
				if len(words) < 2 || len(words) > 3 || s != `"`+inner+`"` || !slices.ContainsFunc(texts, func(x string) bool { return strings.Contains(x, inner) }) {
					t.Errorf("phrase %q is in no document", s)
				}
			case QueryTypo:
				if df[s] != 0 || len(s) < 7 || len(words) != 1 {
					t.Errorf("misspelled %q: in %d documents", s, df[s])
				}
				near := false
				for w := range df {
					near = near || (oneLetterApart(w, s) && w[0] == s[0] && w[len(w)-1] == s[len(s)-1])
				}
				if !near {
					t.Errorf("misspelled %q is no word with one inner letter changed", s)
				}
			}
		}
	}
	if _, err := PickTextQueries(docs[:2], 5, 1); err == nil || !strings.Contains(err.Error(), "too few") {
		t.Errorf("two documents: err = %v", err)
	}
}

func TestSearchTextEvaluate(t *testing.T) {
	pass := StepResult{Rate: 10, Requests: 30, Pass: true}
	good := func() *SearchTextReport {
		return &SearchTextReport{Engine: DBSQLite, Docs: 10, MaxP99: time.Second, MaxP99Typo: 3 * time.Second, Lines: []SearchLine{
			{Name: LineList, Search: SearchResult{Best: &pass}},
			{Name: LineSearch, Search: SearchResult{Best: &pass}},
			{Name: LineTypo, Search: SearchResult{Best: &pass}},
		}}
	}
	if v, notes := good().evaluate(); v != VerdictPass || len(notes) != 0 {
		t.Errorf("good: %s %q", v, notes)
	}
	errs := pass
	errs.Errors = 1
	cases := map[string]func(r *SearchTextReport){
		"a problem":           func(r *SearchTextReport) { r.Problems = []string{`rare word "x" found nothing`} },
		"no rate":             func(r *SearchTextReport) { r.Lines[2].Search.Best = nil },
		"no search rate":      func(r *SearchTextReport) { r.Lines[1].Search.Best = nil },
		"an error":            func(r *SearchTextReport) { r.Lines[1].Search.Best = &errs },
		"a line not measured": func(r *SearchTextReport) { r.Lines = r.Lines[:2] },
		"a line's error":      func(r *SearchTextReport) { r.Lines[0].Err = "boom" },
	}
	for name, change := range cases {
		r := good()
		change(r)
		if v, notes := r.evaluate(); v != VerdictFail || len(notes) == 0 {
			t.Errorf("%s: %s %q", name, v, notes)
		}
	}
}

func TestSmallPercent(t *testing.T) {
	for f, want := range map[float64]string{0.0004: "0.04 %", 0.012: "1.2 %", 1: "100 %", 0: "0 %"} {
		if got := smallPercent(f); got != want {
			t.Errorf("smallPercent(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestSearchTextFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-search-docs", "500", "-max-p99-search", "2s", "-max-p99-typo", "4s", "-search-queries", "7", "-search-goroot", "/go"}); err != nil {
		t.Fatal(err)
	}
	st := cfg.SearchText
	if st.Docs != 500 || st.MaxP99 != 2*time.Second || st.MaxP99Typo != 4*time.Second || st.Queries != 7 || st.GOROOT != "/go" || st.Bisections != 2 {
		t.Errorf("search config %+v", st)
	}
	for _, name := range SearchTextScenarios() {
		if fs.Lookup("min-ratio-"+name) != nil {
			t.Errorf("-min-ratio-%s exists: the search scenarios have no ratio target", name)
		}
	}
	cfg.BasaltPath, cfg.Scenarios = "basalt", []string{ScenarioSearchText}
	cfg.SearchText.Docs = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "search") {
		t.Errorf("no documents: err = %v", err)
	}
	cfg.SearchText.Docs, cfg.Scenarios, cfg.PGURL = 10, []string{ScenarioSearchTextPG}, "host=db"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Errorf("search-text-pg with a bad -pg-url: err = %v", err)
	}
	if !slices.Contains(DefaultScenarios(), ScenarioSearchText) || !slices.Contains(DefaultScenarios(), ScenarioSearchTextPG) {
		t.Errorf("default scenarios %v", DefaultScenarios())
	}
	if d := DefaultSearchTextConfig().reserve([]string{ScenarioSearchText, ScenarioSearchTextPG}); d < 4*time.Minute {
		t.Errorf("reserve for both search scenarios at 100,000 documents: %s", d)
	}
}

// TestRunSearchText runs both search scenarios against the fake Basalt
// (the PostgreSQL one on a real throwaway database, which the fake
// connects to) at a tiny size, and checks the report.
func TestRunSearchText(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenarios = []string{ScenarioSearchTextPG, ScenarioSearchText}
	cfg.PGURL = testPGURL()
	cfg.SearchText.Docs, cfg.SearchText.Queries, cfg.SearchText.GOROOT = 300, 20, fakeGOROOT(t)
	var log bytes.Buffer
	cfg.Log = &log
	rep, err := Run(context.Background(), cfg, Environment{})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Scenarios) != 2 || rep.Scenarios[0].Name != ScenarioSearchText || rep.Scenarios[1].Name != ScenarioSearchTextPG {
		t.Fatalf("scenarios %+v", rep.Scenarios)
	}
	for i, s := range rep.Scenarios {
		st := s.SearchText
		if st == nil || s.Verdict != VerdictPass || s.Err != "" || len(st.Problems) > 0 {
			t.Fatalf("%s: verdict %s, err %q, notes %q, report %+v\nlog:\n%s", s.Name, s.Verdict, s.Err, s.Notes, st, log.String())
		}
		if want := []string{DBSQLite, DBPostgres}[i]; st.Engine != want || st.Docs != 300 || st.SeedRate <= 0 {
			t.Errorf("%s: engine %s, %d documents at %v/s", s.Name, st.Engine, st.Docs, st.SeedRate)
		}
		for j, l := range st.Lines {
			if want := []string{LineList, LineSearch, LineTypo}[j]; l.Name != want || l.Search.Best == nil || len(l.Search.Steps) == 0 {
				t.Errorf("%s line %d: %s, best %+v, %d steps", s.Name, j, l.Name, l.Search.Best, len(l.Search.Steps))
			}
			for _, step := range l.Search.Steps {
				if step.Errors > 0 {
					t.Errorf("%s %s: step at %d/s had %d errors: %v", s.Name, l.Name, step.Rate, step.Errors, step.ErrorSamples)
				}
			}
		}
		for _, c := range st.Classes {
			fuzzy := 0
			if c.Class == QueryTypo {
				fuzzy = c.Checked
			}
			if c.Checked != cfg.SearchText.Checks || c.Hits < c.Checked || c.Fuzzy != fuzzy || c.Requests == 0 || c.P99 <= 0 || c.P99 < c.P50 {
				t.Errorf("%s %s: %+v", s.Name, c.Class, c)
			}
		}
		// The classes of the search mix share its best step.
		mix := 0
		for _, c := range st.Classes[:4] {
			mix += c.Requests
		}
		if best := st.Lines[1].Search.Best; best != nil && mix != int(best.Requests) {
			t.Errorf("%s: %d class requests in the mix's best step of %d", s.Name, mix, best.Requests)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"search-text: full-text search on SQLite, 300 documents of bench_text", "search-text-pg: full-text search on PostgreSQL, 300 documents",
		"| list | `GET /v1/collections/bench_text/documents?limit=20` |", "| search | `GET /v1/collections/bench_text/search?q=…&limit=20&typo=off",
		"| typo | ", "| 100 % |", "| rare word | `", "| misspelled word | `", "p99 < 1s (typo: < 3s): PASS"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	// The PostgreSQL scenario ran on a database of its own, dropped at
	// the end.
	out, err := os.ReadFile(filepath.Join(cfg.WorkDir, "basalt-"+ScenarioSearchTextPG+".log"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`db=(basalt_bench_[0-9a-f]{16})\n`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("search-text-pg got no database; its log:\n%s", out)
	}
	if ok, err := (PGAdmin{URL: cfg.PGURL}).DatabaseExists(context.Background(), string(m[1])); err != nil || ok {
		t.Errorf("database %s after the run: exists %v, %v", m[1], ok, err)
	}
	if sq, err := os.ReadFile(filepath.Join(cfg.WorkDir, "basalt-"+ScenarioSearchText+".log")); err != nil || bytes.Contains(sq, []byte("db=")) {
		t.Errorf("search-text ran on a database: %v\n%s", err, sq)
	}
}

// TestRunSearchTextWithoutPostgres: with -db sqlite, PostgreSQL out of
// reach fails search-text-pg alone; the other scenarios run.
func TestRunSearchTextWithoutPostgres(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenarios = []string{ScenarioHello, ScenarioSearchTextPG}
	addr, err := FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	cfg.PGURL = "postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=5"
	rep, err := Run(context.Background(), cfg, Environment{})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Scenarios) != 2 || rep.Scenarios[0].Name != ScenarioHello || rep.Scenarios[0].Search.Best == nil {
		t.Fatalf("scenarios %+v", rep.Scenarios)
	}
	pg := rep.Scenarios[1]
	if pg.Name != ScenarioSearchTextPG || pg.Verdict != VerdictFail || !strings.Contains(pg.Err, "PostgreSQL is not reachable") {
		t.Errorf("search-text-pg: verdict %s, err %q", pg.Verdict, pg.Err)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "search-text-pg: full-text search on PostgreSQL: nothing measured: FAIL.") ||
		!strings.Contains(md.String(), "PostgreSQL is not reachable at -pg-url") {
		t.Errorf("report (%v):\n%s", err, md.String())
	}
	cfg.DB = DBPostgres
	if _, err := Run(context.Background(), cfg, Environment{}); err == nil {
		t.Error("postgres mode without PostgreSQL ran")
	}
}
