package load

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Collection is the name of the collection the Basalt scenarios use.
const Collection = "bench"

// CollectionSpec is the body of POST /v1/collections that creates the bench
// collection: a schema declaring every field of Doc and an index on score.
const CollectionSpec = `{"name":"` + Collection + `","schema":{"type":"object","properties":{` +
	`"title":{"type":"string","maxLength":200},` +
	`"score":{"type":"integer","minimum":0,"maximum":999},` +
	`"tags":{"type":"array","items":{"type":"string"},"maxItems":8},` +
	`"owner":{"type":"string"}},` +
	`"required":["title","score"]},` +
	`"indexes":[{"fields":["score"]}]}`

// Doc is the data of one bench document.
type Doc struct {
	Title string   `json:"title"`
	Score int      `json:"score"`
	Tags  []string `json:"tags"`
	Owner string   `json:"owner"`
}

// NewDoc returns document n with its score, tags and owner drawn from r.
func NewDoc(r *rand.Rand, prefix string, n int) Doc {
	tagWords := [...]string{"rock", "lava", "ash", "quartz", "granite", "obsidian", "pumice", "tuff"}
	tags := make([]string, 1+r.IntN(3))
	for i := range tags {
		tags[i] = tagWords[r.IntN(len(tagWords))]
	}
	return Doc{
		Title: prefix + " " + strconv.Itoa(n),
		Score: r.IntN(1000),
		Tags:  tags,
		Owner: "u" + strconv.Itoa(r.IntN(100)),
	}
}

// Targeters are concurrency-safe and allocation-free: they pick precomputed
// URLs and bodies with math/rand/v2's per-thread generator, so the load
// generator spends its share of the CPU on HTTP, not on building requests.

// jsonHeader returns the headers every Basalt request carries.
func jsonHeader(token string) http.Header {
	h := http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// StaticTargeter always sends GET url.
func StaticTargeter(url string) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		t.Method, t.URL = http.MethodGet, url
		return nil
	}
}

// pickTargeter sends GET to a URL drawn uniformly from urls.
func pickTargeter(urls []string, h http.Header) (vegeta.Targeter, error) {
	if len(urls) == 0 {
		return nil, fmt.Errorf("load: targeter has no URLs")
	}
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header = http.MethodGet, urls[rand.IntN(len(urls))], h
		return nil
	}, nil
}

// GetTargeter fetches documents by id, drawn uniformly from ids.
func GetTargeter(baseURL, token string, ids []string) (vegeta.Targeter, error) {
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = baseURL + "/v1/collections/" + Collection + "/documents/" + url.PathEscape(id)
	}
	return pickTargeter(urls, jsonHeader(token))
}

// ListURL is the list query of the list scenario: a page of 20 documents
// with score ≥ minScore, highest score first, without a total.
func ListURL(baseURL string, minScore int) string {
	q := url.Values{
		"filter": {"score >= " + strconv.Itoa(minScore)},
		"sort":   {"-score"},
		"limit":  {"20"},
	}
	return baseURL + "/v1/collections/" + Collection + "/documents?" + q.Encode()
}

// ListTargeter lists first pages with a threshold drawn from 0..899, so that
// every page is full and the index on score serves both filter and sort.
func ListTargeter(baseURL, token string) (vegeta.Targeter, error) {
	urls := make([]string, 900)
	for i := range urls {
		urls[i] = ListURL(baseURL, i)
	}
	return pickTargeter(urls, jsonHeader(token))
}

// CreateTargeter creates new documents with bodies drawn from n precomputed
// ones (generated from seed).
func CreateTargeter(baseURL, token string, seed uint64, n int) (vegeta.Targeter, error) {
	if n < 1 {
		return nil, fmt.Errorf("load: create targeter needs at least one body, got %d", n)
	}
	r := rand.New(rand.NewPCG(seed, 0xb5a17))
	bodies := make([][]byte, n)
	for i := range bodies {
		b, err := json.Marshal(NewDoc(r, "new", i))
		if err != nil {
			return nil, fmt.Errorf("load: encode create body: %w", err)
		}
		bodies[i] = b
	}
	u := baseURL + "/v1/collections/" + Collection + "/documents"
	h := jsonHeader(token)
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header, t.Body = http.MethodPost, u, h, bodies[rand.IntN(len(bodies))]
		return nil
	}, nil
}
