package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// ScenarioGraphQL measures a list through GraphQL against the same list
// through REST, in one Basalt: the first page of 20 documents with a
// score at least a threshold, highest first, with every field of the
// documents, anonymously. The variants are the two APIs of one process,
// measured one after another in rotating rounds.
const ScenarioGraphQL = "graphql"

// The variants of ScenarioGraphQL; REST's is the one GraphQL's is
// compared with.
const (
	VariantREST    = "rest"
	VariantGraphQL = "graphql"
)

// GraphQLVariants are the variants of ScenarioGraphQL. Their Args are
// empty: they share one process.
func GraphQLVariants() []Variant {
	return []Variant{
		{VariantREST, nil, "list: GET /v1/collections/bench/documents?filter=score >= N&sort=-score&limit=20; relation: the same with " +
			"expand=owner, then GET /v1/collections/bench_users/documents?filter=id in [the page's owners]&expand=org (two requests)"},
		{VariantGraphQL, nil, "POST /graphql: bench(filter: {score: {gte: N}}, orderBy: [{score: DESC}], first: 20), every field of the nodes; " +
			"relation: with ownerDocument { id name orgDocument { id name } } (one request)"},
	}
}

// The collections of the relation request: bench's owner refers to
// relationUsers, whose org refers to relationOrgs.
const (
	relationUsers = "bench_users"
	relationOrgs  = "bench_orgs"
)

// GraphQLRelationBody is the GraphQL request of the relation with the
// threshold minScore: the list's page with each owner and the owner's
// org.
func GraphQLRelationBody(minScore int) ([]byte, error) {
	q := `{ bench(filter: {score: {gte: ` + strconv.Itoa(minScore) + `}}, orderBy: [{score: DESC}], first: 20) ` +
		`{ nodes { id collection version createdAt updatedAt title score tags owner ownerDocument { id name orgDocument { id name } } } } }`
	return json.Marshal(map[string]string{"query": q})
}

// setUpRelations gives the bench collection its relation: 100 users
// (u0…u99, the bench documents' owners) in 10 orgs, and the references
// owner → users and org → orgs.
func setUpRelations(ctx context.Context, c Client, token string) error {
	open := `"rules": {"list": "", "get": ""}`
	for _, spec := range []string{
		`{"name": "` + relationOrgs + `", ` + open + `, "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}`,
		`{"name": "` + relationUsers + `", ` + open + `, "references": {"org": "` + relationOrgs + `"},
			"schema": {"type": "object", "properties": {"name": {"type": "string"}, "org": {"type": "string"}}}}`,
	} {
		if err := c.CreateCollection(ctx, token, []byte(spec)); err != nil {
			return err
		}
	}
	for i := range 10 {
		if _, err := c.call(ctx, http.MethodPost, "/v1/collections/"+relationOrgs+"/documents?id=o"+strconv.Itoa(i), token,
			[]byte(`{"name": "org `+strconv.Itoa(i)+`"}`)); err != nil {
			return err
		}
	}
	for i := range 100 {
		if _, err := c.call(ctx, http.MethodPost, "/v1/collections/"+relationUsers+"/documents?id=u"+strconv.Itoa(i), token,
			[]byte(`{"name": "user `+strconv.Itoa(i)+`", "org": "o`+strconv.Itoa(i%10)+`"}`)); err != nil {
			return err
		}
	}
	_, err := c.call(ctx, http.MethodPatch, "/v1/collections/"+Collection, token, []byte(`{"references": {"owner": "`+relationUsers+`"}}`))
	return err
}

// RESTRelationTargeter sends the relation's two REST requests in turn:
// the page with expand=owner, then, for the owners of a page (read once
// here for each threshold), their documents with expand=org.
func RESTRelationTargeter(ctx context.Context, c Client, baseURL string) (vegeta.Targeter, error) {
	pages := make([]string, 900)
	owners := make([]string, 900)
	for i := range pages {
		pages[i] = ListURL(baseURL, i) + "&expand=owner"
		body, err := c.call(ctx, http.MethodGet, strings.TrimPrefix(pages[i], baseURL), "", nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items []struct {
				Data struct{ Owner string }
			}
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		var ids []string
		for _, it := range page.Items {
			if q := strconv.Quote(it.Data.Owner); !slices.Contains(ids, q) {
				ids = append(ids, q)
			}
		}
		q := url.Values{"filter": {"id in [" + strings.Join(ids, ", ") + "]"}, "expand": {"org"}, "limit": {"20"}}
		owners[i] = baseURL + "/v1/collections/" + relationUsers + "/documents?" + q.Encode()
	}
	h := jsonHeader("")
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		i := rand.IntN(len(pages))
		t.Method, t.Header, t.Body = http.MethodGet, h, nil
		if n.Add(1)%2 == 0 {
			t.URL = pages[i]
		} else {
			t.URL = owners[i]
		}
		return nil
	}, nil
}

// GraphQLListBody is the GraphQL request of the list of ScenarioGraphQL
// with the threshold minScore: REST's list (ListURL) as a typed filter
// and order, selecting what REST answers.
func GraphQLListBody(minScore int) ([]byte, error) {
	q := `{ bench(filter: {score: {gte: ` + strconv.Itoa(minScore) + `}}, orderBy: [{score: DESC}], first: 20) ` +
		`{ nodes { id collection version createdAt updatedAt title score tags owner } pageInfo { hasNextPage } } }`
	return json.Marshal(map[string]string{"query": q})
}

// GraphQLListTargeter lists first pages through POST /graphql with a
// threshold drawn from 0..899, as ListTargeter does through REST.
func GraphQLListTargeter(baseURL string) (vegeta.Targeter, error) {
	return graphQLTargeter(baseURL, GraphQLListBody)
}

// graphQLTargeter posts the bodies body makes for thresholds 0..899.
func graphQLTargeter(baseURL string, body func(minScore int) ([]byte, error)) (vegeta.Targeter, error) {
	bodies := make([][]byte, 900)
	for i := range bodies {
		b, err := body(i)
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	h := jsonHeader("")
	url := baseURL + "/graphql"
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header, t.Body = http.MethodPost, url, h, bodies[rand.IntN(len(bodies))]
		return nil
	}, nil
}

// runGraphQL runs ScenarioGraphQL: one Basalt seeded like the comparison
// scenarios, a client per variant, the rate search of each, then the
// full-speed rounds.
func runGraphQL(ctx context.Context, cfg Config, budget *Budget, fx compareFixture, logf func(string, ...any)) ScenarioReport {
	name := ScenarioGraphQL
	cc := cfg.Compare
	cr := &CompareReport{Engine: cfg.DB, Docs: cc.Docs, Variants: GraphQLVariants(), MinGraphQLListRatio: cc.MinGraphQLListRatio,
		RequestsPerOp: map[string][]int{CompareRelation: {2, 1}}}
	sr := ScenarioReport{Name: name, Compare: cr}
	storageArgs, err := fx.storage("data-"+name, cfg.DB)
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	spec := fx.basaltSpec(storageArgs, nil)
	err = withServer(ctx, spec, filepath.Join(fx.dir, "basalt-"+name+".log"), logf, func(p *Process) error {
		return measureGraphQL(ctx, cfg, budget, cr, "http://"+p.Addr, storageArgs, logf)
	})
	if err != nil {
		sr.Err = err.Error()
	}
	return sr
}

// measureGraphQL sets up and seeds the Basalt at base, then measures the
// variants into cr.
func measureGraphQL(ctx context.Context, cfg Config, budget *Budget, cr *CompareReport, base string, storageArgs []string, logf func(string, ...any)) error {
	name := ScenarioGraphQL
	tr := &http.Transport{MaxIdleConnsPerHost: int(cfg.Attack.MaxWorkers) + 16, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Attack.Timeout}
	clients := []*http.Client{client, client}
	setup := Client{BaseURL: base, HTTP: &http.Client{Transport: tr, Timeout: time.Minute}}
	admin, err := setUpCompare(ctx, cfg, setup, storageArgs)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var rep Report
	if _, err := seed(ctx, cfg, setup, admin, Collection, cr.Docs, "", &rep, func(format string, args ...any) { logf(name+" "+format, args...) }); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := setUpRelations(ctx, setup, admin); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	rest, err := ListTargeter(base)
	if err != nil {
		return err
	}
	graphql, err := GraphQLListTargeter(base)
	if err != nil {
		return err
	}
	restRelation, err := RESTRelationTargeter(ctx, setup, base)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	graphqlRelation, err := graphQLTargeter(base, GraphQLRelationBody)
	if err != nil {
		return err
	}
	targeters := []map[string]vegeta.Targeter{{CompareList: rest, CompareRelation: restRelation}, {CompareList: graphql, CompareRelation: graphqlRelation}}
	requests := compareRequests(name)
	for v := range clients {
		for _, req := range requests {
			atk := NewAttackerWith(cfg.Attack, clients[v])
			s, err := atk.Saturate(ctx, targeters[v][req], 16, 2*time.Second)
			atk.Close()
			if err != nil {
				return err
			}
			if s.Errors > 0 {
				return fmt.Errorf("%s: warming %s %s: %d of %d requests failed (%v, %v)", name, req, cr.Variants[v].Name, s.Errors, s.Requests, s.StatusCodes, s.ErrorSamples)
			}
			logf("%s: %s %s warmed with %d requests", name, req, cr.Variants[v].Name, s.Requests)
		}
	}
	parts := len(clients) * len(requests)
	for _, req := range requests {
		for v := range clients {
			share := budget.Split(parts)
			parts--
			s := runScenarioWith(ctx, cfg, cfg.Search, share, name+" "+req+" "+cr.Variants[v].Name, targeters[v][req], clients[v], logf)
			budget.Return(share)
			cr.Lines = append(cr.Lines, CompareLine{Request: req, Variant: cr.Variants[v].Name, Search: s.Search, Err: s.Err})
			if ctx.Err() != nil {
				return fmt.Errorf("load: %s: %w", name, ctx.Err())
			}
		}
	}
	runCompareRounds(ctx, cfg, budget, name, cr, targeters, clients, 0, logf)
	return nil
}
