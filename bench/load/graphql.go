package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
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
		{VariantREST, nil, "GET /v1/collections/bench/documents?filter=score >= N&sort=-score&limit=20"},
		{VariantGraphQL, nil, "POST /graphql: bench(filter: {score: {gte: N}}, orderBy: [{score: DESC}], first: 20), every field of the nodes"},
	}
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
	bodies := make([][]byte, 900)
	for i := range bodies {
		b, err := GraphQLListBody(i)
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
	cr := &CompareReport{Engine: cfg.DB, Docs: cc.Docs, Variants: GraphQLVariants(), MinGraphQLListRatio: cc.MinGraphQLListRatio}
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
	rest, err := ListTargeter(base)
	if err != nil {
		return err
	}
	graphql, err := GraphQLListTargeter(base)
	if err != nil {
		return err
	}
	targeters := []map[string]vegeta.Targeter{{CompareList: rest}, {CompareList: graphql}}
	for v := range clients {
		atk := NewAttackerWith(cfg.Attack, clients[v])
		s, err := atk.Saturate(ctx, targeters[v][CompareList], 16, 2*time.Second)
		atk.Close()
		if err != nil {
			return err
		}
		if s.Errors > 0 {
			return fmt.Errorf("%s: warming %s: %d of %d requests failed (%v, %v)", name, cr.Variants[v].Name, s.Errors, s.Requests, s.StatusCodes, s.ErrorSamples)
		}
		logf("%s: %s warmed with %d lists", name, cr.Variants[v].Name, s.Requests)
	}
	parts := len(clients)
	for v := range clients {
		share := budget.Split(parts)
		parts--
		s := runScenarioWith(ctx, cfg, cfg.Search, share, name+" list "+cr.Variants[v].Name, targeters[v][CompareList], clients[v], logf)
		budget.Return(share)
		cr.Lines = append(cr.Lines, CompareLine{Request: CompareList, Variant: cr.Variants[v].Name, Search: s.Search, Err: s.Err})
		if ctx.Err() != nil {
			return fmt.Errorf("load: %s: %w", name, ctx.Err())
		}
	}
	runCompareRounds(ctx, cfg, budget, name, cr, targeters, clients, 0, logf)
	return nil
}
