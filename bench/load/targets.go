package load

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The collections of the Basalt scenarios.
const (
	// Collection is open to everyone, anonymous callers included (every
	// rule ""): its reads go through the same path as with no access
	// control at all (no token, no rule evaluation).
	Collection = "bench"
	// OwnedCollection has the schema of Collection and OwnerRule for every
	// action: only a document's owner may see or change it.
	OwnedCollection = "bench_owned"
	// LargeCollection has the schema, index and rules of Collection and
	// Config.LargeDocs documents (list-total-1m).
	LargeCollection = "bench_large"
)

// OwnerRule is the access rule of every action on OwnedCollection.
const OwnerRule = "owner = @auth.id"

// docSchema is the JSON Schema of both collections: it declares every
// field of Doc.
const docSchema = `{"type":"object","properties":{` +
	`"title":{"type":"string","maxLength":200},` +
	`"score":{"type":"integer","minimum":0,"maximum":999},` +
	`"tags":{"type":"array","items":{"type":"string"},"maxItems":8},` +
	`"owner":{"type":"string"}},` +
	`"required":["title","score"]}`

// CollectionSpec returns the body of POST /v1/collections that creates the
// collection name with the bench schema, an index on score, and rule as
// the rule of all five actions (list, get, create, update, delete); ""
// lets everyone, anonymous callers included, do everything.
func CollectionSpec(name, rule string) ([]byte, error) {
	type index struct {
		Fields []string `json:"fields"`
	}
	rules := map[string]string{}
	for _, action := range []string{"list", "get", "create", "update", "delete"} {
		rules[action] = rule
	}
	b, err := json.Marshal(struct {
		Name    string            `json:"name"`
		Schema  json.RawMessage   `json:"schema"`
		Indexes []index           `json:"indexes"`
		Rules   map[string]string `json:"rules"`
	}{name, json.RawMessage(docSchema), []index{{Fields: []string{"score"}}}, rules})
	if err != nil {
		return nil, fmt.Errorf("load: encode collection %q: %w", name, err)
	}
	return b, nil
}

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

// rotateTargeter sends GET to a URL of each group in turn, drawn
// uniformly within the group: every group gets the same share of the
// requests, and any len(groups) requests in a row hold one of each, so a
// short step still measures every group.
func rotateTargeter(groups [][]string, h http.Header) (vegeta.Targeter, error) {
	if len(groups) == 0 {
		return nil, fmt.Errorf("load: targeter has no URLs")
	}
	for _, g := range groups {
		if len(g) == 0 {
			return nil, fmt.Errorf("load: targeter has an empty group of URLs")
		}
	}
	var next atomic.Uint64
	return func(t *vegeta.Target) error {
		g := groups[(next.Add(1)-1)%uint64(len(groups))]
		t.Method, t.URL, t.Header = http.MethodGet, g[rand.IntN(len(g))], h
		return nil
	}, nil
}

// GetTargeter fetches documents of collection by id, drawn uniformly from
// ids, sending token (when not empty) as a bearer token.
func GetTargeter(baseURL, collection, token string, ids []string) (vegeta.Targeter, error) {
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = baseURL + "/v1/collections/" + url.PathEscape(collection) + "/documents/" + url.PathEscape(id)
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
func ListTargeter(baseURL string) (vegeta.Targeter, error) {
	urls := make([]string, 900)
	for i := range urls {
		urls[i] = ListURL(baseURL, i)
	}
	return pickTargeter(urls, jsonHeader(""))
}

// ListTotalURL is the list query of the list-total scenarios: list's
// query on collection, with the total.
func ListTotalURL(baseURL, collection string, minScore int) string {
	q := url.Values{
		"filter": {"score >= " + strconv.Itoa(minScore)},
		"sort":   {"-score"},
		"limit":  {"20"},
		"total":  {"true"},
	}
	return baseURL + "/v1/collections/" + url.PathEscape(collection) + "/documents?" + q.Encode()
}

// ListTotalTargeter lists first pages of collection with their total and
// a threshold drawn from 0..899: 10 % to 100 % of the documents match, so
// the count reads the index on score up to the server's cap.
func ListTotalTargeter(baseURL, collection string) (vegeta.Targeter, error) {
	urls := make([]string, 900)
	for i := range urls {
		urls[i] = ListTotalURL(baseURL, collection, i)
	}
	return pickTargeter(urls, jsonHeader(""))
}

// CreateTargeter creates new documents in Collection, anonymously, with
// bodies drawn from n precomputed ones (generated from seed).
func CreateTargeter(baseURL string, seed uint64, n int) (vegeta.Targeter, error) {
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
	h := jsonHeader("")
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header, t.Body = http.MethodPost, u, h, bodies[rand.IntN(len(bodies))]
		return nil
	}, nil
}

// PatchTargeter updates the documents ids of Collection in turn (write k
// goes to ids[k mod len(ids)]: the writes are spread evenly), anonymously,
// each a JSON merge patch of the score, and returns the documents' URLs in
// the order of ids.
func PatchTargeter(baseURL string, ids []string) (vegeta.Targeter, []string, error) {
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("load: patch targeter has no documents")
	}
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = baseURL + "/v1/collections/" + Collection + "/documents/" + url.PathEscape(id)
	}
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = []byte(`{"score":` + strconv.Itoa(i) + `}`)
	}
	h := jsonHeader("")
	var next atomic.Uint64
	return func(t *vegeta.Target) error {
		k := next.Add(1) - 1
		t.Method, t.URL, t.Header, t.Body = http.MethodPatch, urls[k%uint64(len(urls))], h, bodies[k%uint64(len(bodies))]
		return nil
	}, urls, nil
}

// LoginTargeter sends POST /v1/auth/login with acct's email and password.
// With a wrong password, each request costs Basalt a full password hash
// and is answered 401 (unless a login throttle answers 429 first).
func LoginTargeter(baseURL string, acct Account) (vegeta.Targeter, error) {
	body, err := json.Marshal(map[string]string{"email": acct.Email, "password": acct.Password})
	if err != nil {
		return nil, fmt.Errorf("load: encode login body: %w", err)
	}
	u := baseURL + "/v1/auth/login"
	h := jsonHeader("")
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header, t.Body = http.MethodPost, u, h, body
		return nil
	}, nil
}
