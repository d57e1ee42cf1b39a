package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The full-text search scenarios: each on a Basalt of its own, on the
// engine its name says, whatever -db.
const (
	// ScenarioSearchText runs on SQLite (a fresh data directory).
	ScenarioSearchText = "search-text"
	// ScenarioSearchTextPG runs on PostgreSQL (a fresh database created
	// through -pg-url, dropped at the end).
	ScenarioSearchTextPG = "search-text-pg"
)

// TextCollection is the collection of the search scenarios: title and body
// searchable by text, listed by everyone.
const TextCollection = "bench_text"

// searchEngine is the engine a search scenario runs on.
func searchEngine(scenario string) string {
	if scenario == ScenarioSearchTextPG {
		return DBPostgres
	}
	return DBSQLite
}

// SearchTextScenarios are the full-text search scenarios.
func SearchTextScenarios() []string { return []string{ScenarioSearchText, ScenarioSearchTextPG} }

// The lines of a search scenario's report, each a rate search.
const (
	// LineList is GET …/documents?limit=20 on TextCollection: the
	// baseline.
	LineList = "list"
	// LineSearch is GET …/search?q=… with the queries of the four exact
	// classes (QueryRare, QueryCommon, QueryTwo, QueryPhrase), drawn
	// uniformly.
	LineSearch = "search"
	// LineTypo is GET …/search?q=… with the QueryTypo queries: the typo
	// fallback answers.
	LineTypo = "typo"
)

// SearchTextConfig shapes the search scenarios.
type SearchTextConfig struct {
	// Docs is the size of TextCollection.
	Docs int
	// Queries is the number of queries of each class.
	Queries int
	// MaxP99 is the p99 a step of the list and search lines must stay
	// under (list's too, so that they are compared on the same criteria).
	MaxP99 time.Duration
	// MaxP99Typo is the p99 bound of the typo line: the fallback is a
	// trigram match over the text, slower by nature than an indexed word.
	MaxP99Typo time.Duration
	// MinRate is the lowest rate a search tries.
	MinRate int
	// Bisections bounds each line's bisection (the run's -bisect too).
	Bisections int
	// Checks is the number of queries of each class run one at a time
	// before the load, checked and timed.
	Checks int
	// GOROOT holds the documentation the text comes from; "" asks `go
	// env GOROOT`.
	GOROOT string
	// IndexTimeout bounds the wait for the text index to hold every
	// document after seeding.
	IndexTimeout time.Duration
}

// DefaultSearchTextConfig is the acceptance measurement: 100,000
// documents, p99 under 1 s (3 s for the typo fallback).
func DefaultSearchTextConfig() SearchTextConfig {
	return SearchTextConfig{Docs: 100_000, Queries: 200, MaxP99: time.Second, MaxP99Typo: 3 * time.Second, MinRate: 1, Bisections: 2, Checks: 3,
		IndexTimeout: 10 * time.Minute}
}

// Validate checks c.
func (c SearchTextConfig) Validate() error {
	if c.Docs < 1 || c.Queries < 1 || c.MaxP99 <= 0 || c.MaxP99Typo <= 0 || c.MinRate < 1 || c.Bisections < 0 || c.Checks < 1 || c.IndexTimeout <= 0 {
		return fmt.Errorf("load: search: need docs, queries, checks, min rate ≥ 1, bisections ≥ 0 and positive max p99s and index timeout (got %d, %d, %d, %d, %d, %s, %s, %s)",
			c.Docs, c.Queries, c.Checks, c.MinRate, c.Bisections, c.MaxP99, c.MaxP99Typo, c.IndexTimeout)
	}
	return nil
}

// reserve is the time set aside for the search scenarios among scenarios:
// seeding (about 1,500 documents/s on two busy cores) and three rate
// searches of about 40 s.
func (c SearchTextConfig) reserve(scenarios []string) time.Duration {
	var d time.Duration
	for _, s := range scenarios {
		if slices.Contains(SearchTextScenarios(), s) {
			d += 20*time.Second + time.Duration(c.Docs)*time.Second/1500 + 3*40*time.Second
		}
	}
	return d
}

// SearchTextReport is the outcome of a search scenario.
type SearchTextReport struct {
	// Engine is DBSQLite or DBPostgres.
	Engine string `json:"engine"`
	// Docs were seeded in Seed, at SeedRate documents per second.
	Docs     int           `json:"docs"`
	Seed     time.Duration `json:"seedNs"`
	SeedRate float64       `json:"seedRate"`
	// IndexWait is how long after seeding the text index held every
	// document.
	IndexWait time.Duration `json:"indexWaitNs"`
	// MaxP99 is the p99 bound of the list and search lines' steps,
	// MaxP99Typo the typo line's.
	MaxP99     time.Duration `json:"maxP99Ns"`
	MaxP99Typo time.Duration `json:"maxP99TypoNs"`
	// Lines are the rate searches: LineList, LineSearch, LineTypo.
	Lines []SearchLine `json:"lines"`
	// Classes describe each query class: its queries, the check, and
	// (the search mix) its latencies in the line's best step.
	Classes []QueryClassReport `json:"classes"`
	// Problems are failed checks: they fail the scenario.
	Problems []string `json:"problems,omitempty"`
}

// SearchLine is one rate search of a search scenario.
type SearchLine struct {
	Name    string       `json:"name"`
	Request string       `json:"request"`
	Search  SearchResult `json:"search"`
	// Err is the error that ended the line, if any.
	Err string `json:"error,omitempty"`
}

// QueryClassReport describes one query class of a search scenario.
type QueryClassReport struct {
	Class string `json:"class"`
	// Examples are a few of its queries.
	Examples []string `json:"examples"`
	// MinDF and MaxDF bound the documents that hold a query's word (the
	// rarer word for two words; 0 for phrases and when unknown).
	MinDF int `json:"minDF"`
	MaxDF int `json:"maxDF"`
	// Checked queries were run one at a time before the load: Hits sums
	// their first pages' hits, Fuzzy counts answers of the typo
	// fallback, Serial is their mean latency.
	Checked int           `json:"checked"`
	Hits    int           `json:"hits"`
	Fuzzy   int           `json:"fuzzy"`
	Serial  time.Duration `json:"serialNs"`
	// Requests, P50 and P99 are those of the class's requests in the best
	// step of its line (the search mix, or typo).
	Requests int           `json:"requests"`
	P50      time.Duration `json:"p50Ns"`
	P99      time.Duration `json:"p99Ns"`
}

// SearchURL is the search request of query q on collection: the first
// page of 20, with typo tolerance at its default (auto) when typo is
// true, else off (the exact query answers, however few its hits).
func SearchURL(baseURL, collection, q string, typo bool) string {
	v := url.Values{"q": {q}, "limit": {"20"}}
	if !typo {
		v.Set("typo", "off")
	}
	return baseURL + "/v1/collections/" + url.PathEscape(collection) + "/search?" + v.Encode()
}

// TextListURL is the list request of the search scenarios: the first page
// of 20 documents of collection, in the default order.
func TextListURL(baseURL, collection string) string {
	return baseURL + "/v1/collections/" + url.PathEscape(collection) + "/documents?limit=20"
}

// TextCollectionSpec is the body of POST /v1/collections that creates
// TextCollection: title, body and score, text search on title (weight 2)
// and body (1) in English, list and get open to everyone (the other
// actions are the admin's).
func TextCollectionSpec() []byte {
	return []byte(`{"name":"` + TextCollection + `",` +
		`"schema":{"type":"object","properties":{` +
		`"title":{"type":"string","maxLength":` + fmt.Sprint(textTitleMax) + `},` +
		`"body":{"type":"string"},` +
		`"score":{"type":"integer","minimum":0,"maximum":999}},` +
		`"required":["title","body"]},` +
		`"rules":{"list":"","get":""},` +
		`"search":{"text":{"fields":{"title":2,"body":1},"language":"english"}}}`)
}

// searchTextFixture is what runSearchText needs from the run.
type searchTextFixture struct {
	baseURL     string
	basalt      string   // the basalt binary, for `admin create`
	storageArgs []string // of the Basalt process
}

// runSearchText sets up a Basalt for a search scenario — the admin, the
// collection, cfg.SearchText.Docs documents from the corpus — checks a
// few queries of each class, then searches the highest sustained rate of
// list, the search mix and the misspelled queries, each within a third of
// what is left of budget.
func runSearchText(ctx context.Context, cfg Config, budget *Budget, name string, corpus *TextCorpus, fx searchTextFixture, logf func(string, ...any)) ScenarioReport {
	sc := cfg.SearchText
	tr := &SearchTextReport{Engine: searchEngine(name), MaxP99: sc.MaxP99, MaxP99Typo: sc.MaxP99Typo}
	sr := ScenarioReport{Name: name, SearchText: tr}
	fail := func(err error) ScenarioReport {
		sr.Err = err.Error()
		return sr
	}
	transport := &http.Transport{MaxIdleConnsPerHost: cfg.SeedWorkers, DisableCompression: true}
	defer transport.CloseIdleConnections()
	c := Client{BaseURL: fx.baseURL, HTTP: &http.Client{Transport: transport, Timeout: time.Minute}}

	admin, err := NewAccount("admin")
	if err != nil {
		return fail(err)
	}
	if err := CreateAdmin(ctx, fx.basalt, fx.storageArgs, admin); err != nil {
		return fail(err)
	}
	session, err := c.Login(ctx, admin)
	if err != nil {
		return fail(err)
	}
	if err := c.CreateCollection(ctx, session.Token, TextCollectionSpec()); err != nil {
		return fail(err)
	}
	logf("%-6s set-up: admin %s, collection %s (text search on title and body)", name, admin.Email, TextCollection)

	docs := corpus.Docs(sc.Docs, cfg.Seed)
	queries, err := PickTextQueries(docs, sc.Queries, cfg.Seed)
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	every := max(len(docs)/10, 1)
	next := every
	ids, err := c.Seed(ctx, session.Token, SeedSpec{Collection: TextCollection, Docs: len(docs), BatchSize: cfg.BatchSize, Workers: cfg.SeedWorkers,
		Make: func(i int) any { return docs[i] }}, func(done int) {
		if done >= next {
			logf("%-6s seed: %s %d/%d documents (%.0f/s)", name, TextCollection, done, len(docs), float64(done)/time.Since(start).Seconds())
			next += every
		}
	})
	if err != nil {
		return fail(err)
	}
	tr.Docs, tr.Seed = len(ids), time.Since(start)
	tr.SeedRate = float64(len(ids)) / tr.Seed.Seconds()
	start = time.Now()
	if err := waitTextIndex(ctx, c, session.Token, len(ids), sc.IndexTimeout); err != nil {
		return fail(err)
	}
	tr.IndexWait = time.Since(start)
	logf("%-6s seeded %d documents in %s (%.0f/s); text index complete %s later", name, len(ids), tr.Seed.Round(100*time.Millisecond), tr.SeedRate, tr.IndexWait.Round(time.Millisecond))

	// The check: a few queries of each class, one at a time.
	for _, class := range QueryClasses() {
		qs := queries.Queries[class]
		cr := QueryClassReport{Class: class, Examples: qs[:min(len(qs), 4)]}
		for _, q := range qs {
			if df, ok := queries.DF[q]; ok {
				if cr.MinDF == 0 || df < cr.MinDF {
					cr.MinDF = df
				}
				cr.MaxDF = max(cr.MaxDF, df)
			}
		}
		var total time.Duration
		for _, q := range qs[:min(len(qs), sc.Checks)] {
			t0 := time.Now()
			hits, fuzzy, err := c.searchText(ctx, TextCollection, q, class == QueryTypo)
			total += time.Since(t0)
			if err != nil {
				tr.Problems = append(tr.Problems, fmt.Sprintf("%s %q: %v", class, q, err))
				continue
			}
			cr.Checked++
			cr.Hits += hits
			if fuzzy {
				cr.Fuzzy++
			}
			switch {
			case hits == 0:
				tr.Problems = append(tr.Problems, fmt.Sprintf("%s %q found nothing", class, q))
			case class == QueryTypo && !fuzzy:
				tr.Problems = append(tr.Problems, fmt.Sprintf("%s %q was not answered by the typo fallback", class, q))
			case class != QueryTypo && fuzzy:
				tr.Problems = append(tr.Problems, fmt.Sprintf("%s %q was answered by the typo fallback with typo=off", class, q))
			}
		}
		if n := min(len(qs), sc.Checks); n > 0 {
			cr.Serial = total / time.Duration(n)
		}
		logf("%-6s check %-15s %d queries one at a time: %d hits, %d fuzzy, %s each (e.g. %q)", name, class, cr.Checked, cr.Hits, cr.Fuzzy, millis(cr.Serial), cr.Examples[0])
		tr.Classes = append(tr.Classes, cr)
	}
	// List, timed the same way, for its line's first rate.
	listChecks := 10 * sc.Checks
	t0 := time.Now()
	for range listChecks {
		if _, err := c.call(ctx, http.MethodGet, TextListURL("", TextCollection), "", nil); err != nil {
			tr.Problems = append(tr.Problems, fmt.Sprintf("list: %v", err))
			break
		}
	}
	listSerial := time.Since(t0) / time.Duration(listChecks)
	logf("%-6s check %-15s %d requests one at a time: %s each", name, LineList, listChecks, millis(listSerial))
	// A failed check fails the scenario; the lines are measured still,
	// for what they show.
	for _, p := range tr.Problems {
		logf("%-6s check failed: %s", name, p)
	}

	// The three lines, each with its class breakdown.
	classOf := map[string]string{}
	var mixURLs [][]string // one group per class, taken in turn
	var typoURLs []string
	for _, class := range QueryClasses() {
		var urls []string
		for _, q := range queries.Queries[class] {
			u := SearchURL(fx.baseURL, TextCollection, q, class == QueryTypo)
			classOf[u] = class
			urls = append(urls, u)
		}
		if class == QueryTypo {
			typoURLs = urls
		} else if len(urls) > 0 {
			mixURLs = append(mixURLs, urls)
		}
	}
	serial := func(classes ...string) time.Duration {
		var sum time.Duration
		for _, cr := range tr.Classes {
			if slices.Contains(classes, cr.Class) {
				sum += cr.Serial
			}
		}
		return sum / time.Duration(len(classes))
	}
	lines := []struct {
		name, request string
		urls          [][]string    // groups taken in turn, a URL drawn uniformly within each
		serial        time.Duration // mean latency of one request alone
	}{
		{LineList, "GET /v1/collections/" + TextCollection + "/documents?limit=20", [][]string{{TextListURL(fx.baseURL, TextCollection)}}, listSerial},
		{LineSearch, "GET /v1/collections/" + TextCollection + "/search?q=…&limit=20&typo=off, the rare word, common word, two words and phrase queries in turn, each query drawn uniformly within its class",
			mixURLs, serial(QueryRare, QueryCommon, QueryTwo, QueryPhrase)},
		{LineTypo, "GET /v1/collections/" + TextCollection + "/search?q=…&limit=20, misspelled words (the typo fallback answers)", [][]string{typoURLs},
			serial(QueryTypo)},
	}
	for i, l := range lines {
		targeter, err := rotateTargeter(l.urls, jsonHeader(""))
		if err != nil {
			return fail(err)
		}
		search := cfg.Search
		search.Criteria.MaxP99 = sc.MaxP99
		if l.name == LineTypo {
			search.Criteria.MaxP99 = sc.MaxP99Typo
		}
		search.MinRate = min(sc.MinRate, search.StartRate)
		search.Bisections = min(search.Bisections, sc.Bisections)
		if l.serial > 0 {
			// One client running the queries one after another reaches
			// 1/serial per second: a start near the answer.
			search.StartRate = min(max(int(math.Round(float64(time.Second)/float64(l.serial))), search.MinRate), search.MaxRate)
		}
		share := budget.Split(len(lines) - i)
		line, perClass := searchTextLine(ctx, cfg, search, share, name+" "+l.name, targeter, classOf, logf)
		budget.Return(share)
		line.Name, line.Request = l.name, l.request
		tr.Lines = append(tr.Lines, line)
		for j := range tr.Classes {
			if st, ok := perClass[tr.Classes[j].Class]; ok {
				tr.Classes[j].Requests, tr.Classes[j].P50, tr.Classes[j].P99 = st.n, st.p50, st.p99
			}
		}
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
	}
	return sr
}

// classStats are one class's latencies in a step.
type classStats struct {
	n        int
	p50, p99 time.Duration
}

// searchTextLine is runScenario for one line of a search scenario: a
// warm-up, then the rate search within budget. It also returns, for the
// best step, the latencies of each query class (classOf maps a URL to
// its class).
func searchTextLine(ctx context.Context, cfg Config, search SearchConfig, budget *Budget, label string, tr vegeta.Targeter,
	classOf map[string]string, logf func(string, ...any)) (SearchLine, map[string]classStats) {
	var line SearchLine
	ac := cfg.Attack
	ac.Timeout = max(ac.Timeout, 2*search.Criteria.MaxP99)
	atk := NewAttacker(ac)
	defer atk.Close()
	var lat map[string][]time.Duration
	atk.observe = func(r *vegeta.Result) {
		if class, ok := classOf[r.URL]; ok {
			lat[class] = append(lat[class], r.Latency)
		}
	}
	overhead := cfg.Settle + ac.Timeout
	if cfg.Warmup > 0 && budget.Take(search.StartRate, cfg.Warmup, overhead) == nil {
		lat = map[string][]time.Duration{}
		w, err := atk.Step(ctx, tr, search.StartRate, cfg.Warmup)
		if err != nil {
			line.Err = err.Error()
			return line, nil
		}
		logf("%s warm-up %s", label, stepLine(search.Criteria.Judge(w)))
	}
	var perStep []map[string]classStats // aligned with the steps of the search
	run := func(ctx context.Context, rate int) (StepResult, error) {
		if err := budget.Take(rate, cfg.Step, overhead); err != nil {
			logf("%s stop: %v", label, err)
			return StepResult{}, err
		}
		if err := pause(ctx, cfg.Settle); err != nil {
			return StepResult{}, err
		}
		lat = map[string][]time.Duration{}
		s, err := atk.Step(ctx, tr, rate, cfg.Step)
		if s.Requests > 0 {
			st := map[string]classStats{}
			for class, l := range lat {
				p50, p99, _ := quantiles(l)
				st[class] = classStats{n: len(l), p50: p50, p99: p99}
			}
			perStep = append(perStep, st)
		}
		if err != nil {
			return s, err
		}
		logf("%s %s", label, stepLine(search.Criteria.Judge(s)))
		if s.Requests > 0 && s.Errors == s.Requests {
			return s, fmt.Errorf("every request failed (e.g. %s)", strings.Join(s.ErrorSamples, "; "))
		}
		return s, nil
	}
	res, err := FindMaxRate(ctx, search, run)
	line.Search = res
	if err != nil {
		line.Err = err.Error()
	}
	if res.Best == nil {
		return line, nil
	}
	for i, s := range res.Steps {
		if s.Pass && s.Rate == res.Best.Rate && i < len(perStep) {
			return line, perStep[i]
		}
	}
	return line, nil
}

// searchText runs query q on collection anonymously (typo: see SearchURL)
// and returns the hits of its first page and whether the typo fallback
// answered.
func (c Client) searchText(ctx context.Context, collection, q string, typo bool) (hits int, fuzzy bool, err error) {
	body, err := c.call(ctx, http.MethodGet, SearchURL("", collection, q, typo), "", nil)
	if err != nil {
		return 0, false, err
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
		Fuzzy bool              `json:"fuzzy"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return 0, false, fmt.Errorf("decode search answer: %w", err)
	}
	return len(page.Items), page.Fuzzy, nil
}

// waitTextIndex polls the collection's search status (as the admin whose
// token is token) until its text index holds docs documents and is not
// being built.
func waitTextIndex(ctx context.Context, c Client, token string, docs int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		body, err := c.call(ctx, http.MethodGet, "/v1/collections/"+url.PathEscape(TextCollection), token, nil)
		if err == nil {
			var coll struct {
				Status struct {
					Search struct {
						Text *struct {
							Building bool `json:"building"`
							Indexed  int  `json:"indexed"`
							Total    int  `json:"total"`
						} `json:"text"`
					} `json:"search"`
				} `json:"status"`
			}
			if err := json.Unmarshal(body, &coll); err != nil {
				return fmt.Errorf("load: collection status: %w", err)
			}
			if t := coll.Status.Search.Text; t != nil {
				if !t.Building && t.Indexed >= docs && t.Total >= docs {
					return nil
				}
				last = fmt.Sprintf("%d of %d indexed, building %t", t.Indexed, t.Total, t.Building)
			} else {
				last = "no text status"
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("load: the text index of %s did not hold the %d documents in %s (last: %s)", TextCollection, docs, timeout, last)
		case <-tick.C:
		}
	}
}

// evaluate returns the verdict: PASS when the checks passed and every line
// sustained a rate (p99 under MaxP99, errors under the criteria's bound)
// whose step answered every request.
func (r *SearchTextReport) evaluate() (string, []string) {
	var notes []string
	verdict := VerdictPass
	if len(r.Problems) > 0 {
		verdict = VerdictFail
		notes = append(notes, "check: "+strings.Join(r.Problems, "; "))
	}
	if len(r.Lines) < 3 {
		verdict = VerdictFail
		notes = append(notes, "not every line was measured")
	}
	for _, l := range r.Lines {
		switch {
		case l.Search.Best == nil:
			verdict = VerdictFail
			notes = append(notes, fmt.Sprintf("%s: no rate sustained with p99 < %s", l.Name, r.bound(l.Name)))
		case l.Search.Best.Errors > 0:
			verdict = VerdictFail
			notes = append(notes, fmt.Sprintf("%s: %d of %d requests failed at %d req/s", l.Name, l.Search.Best.Errors, l.Search.Best.Requests, l.Search.Best.Rate))
		}
		if l.Err != "" {
			verdict = VerdictFail
			notes = append(notes, l.Name+": "+l.Err)
		}
	}
	return verdict, notes
}

// smallPercent is percent with two decimals below 1 %, where percent's
// one would round a rate of list's to nothing.
func smallPercent(f float64) string {
	if f > 0 && f < 0.01 {
		return strconv.FormatFloat(f*100, 'f', 2, 64) + " %"
	}
	return percent(f)
}

// bound is the p99 bound of the line named name.
func (r *SearchTextReport) bound(name string) time.Duration {
	if name == LineTypo {
		return r.MaxP99Typo
	}
	return r.MaxP99
}

// line returns the line named name, or nil.
func (r *SearchTextReport) line(name string) *SearchLine {
	for i := range r.Lines {
		if r.Lines[i].Name == name {
			return &r.Lines[i]
		}
	}
	return nil
}

// markdown is the report's section on a search scenario.
func (r *SearchTextReport) markdown(name, verdict string) string {
	var b strings.Builder
	engine := "SQLite"
	if r.Engine == DBPostgres {
		engine = "PostgreSQL"
	}
	if r.Docs == 0 {
		return fmt.Sprintf("%s: full-text search on %s: nothing measured: %s.", name, engine, verdict)
	}
	fmt.Fprintf(&b, "%s: full-text search on %s, %s documents of %s (text of the Go standard library's documentation; title weight 2, body 1, english), seeded in %s (%s documents/s, the text index kept by every write; complete %s after the last batch); "+
		"each line's highest rate with p99 < %s (typo: < %s): %s.\n\n",
		name, engine, thousands(int64(r.Docs)), TextCollection, r.Seed.Round(100*time.Millisecond), thousands(int64(r.SeedRate)), r.IndexWait.Round(time.Millisecond), r.MaxP99, r.MaxP99Typo, verdict)
	b.WriteString("| line | request | max sustained req/s | p50 | p99 | p99.9 | errors | vs list |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	listRate := 0
	if l := r.line(LineList); l != nil && l.Search.Best != nil {
		listRate = l.Search.Best.Rate
	}
	for _, l := range r.Lines {
		rate, p50, p99, p999, errs, ratio := "none", "—", "—", "—", "—", "—"
		if best := l.Search.Best; best != nil {
			rate = thousands(int64(best.Rate))
			p50, p99, p999 = millis(best.P50), millis(best.P99), millis(best.P999)
			errs = thousands(int64(best.Errors)) + " / " + thousands(int64(best.Requests))
			if listRate > 0 {
				ratio = smallPercent(float64(best.Rate) / float64(listRate))
			}
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s | %s | %s |\n", l.Name, l.Request, rate, p50, p99, p999, errs, ratio)
	}
	b.WriteString("\n| query class | examples | documents holding the word | alone (mean of " + "the check) | requests in the best step | p50 | p99 |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for _, c := range r.Classes {
		df := "—"
		if c.MaxDF > 0 {
			df = thousands(int64(c.MinDF)) + "–" + thousands(int64(c.MaxDF))
		}
		ex := make([]string, len(c.Examples))
		for i, e := range c.Examples {
			ex[i] = "`" + e + "`"
		}
		p50, p99 := "—", "—"
		if c.Requests > 0 {
			p50, p99 = millis(c.P50), millis(c.P99)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", c.Class, strings.Join(ex, ", "), df, millis(c.Serial), thousands(int64(c.Requests)), p50, p99)
	}
	return strings.TrimRight(b.String(), "\n")
}
