package load

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// ScenarioSplit measures a get by id through a split deployment against
// the same get on a monolith, on one PostgreSQL database: the monolith
// (--target=all) and a gateway (--target=gateway) that calls a process of
// the documents and accounts components over gRPC for every request, all
// three running side by side and measured one after another in rotating
// rounds. It reads one set of documents, seeded once.
const ScenarioSplit = "split"

// The variants of ScenarioSplit; the first is the one the other is
// compared with.
const (
	VariantMonolith = "monolith"
	VariantGateway  = "gateway"
)

// SplitVariants are the variants of ScenarioSplit. The gateway's Args are
// its target; its component URLs and the internal token are added when
// the components process has started.
func SplitVariants() []Variant {
	return []Variant{
		{VariantMonolith, nil, "one process with every component (--target=all)"},
		{VariantGateway, []string{"--target=gateway"}, "a gateway calling a --target=documents,accounts process over gRPC (h2c, one hop per request)"},
	}
}

// runSplit runs ScenarioSplit: a fresh PostgreSQL database, the monolith,
// the components process and the gateway on it; the set-up and seed
// through the monolith; each variant warmed, its rate searched, then the
// full-speed rounds.
func runSplit(ctx context.Context, cfg Config, budget *Budget, fx compareFixture, logf func(string, ...any)) ScenarioReport {
	name := ScenarioSplit
	cc := cfg.Compare
	cr := &CompareReport{Engine: DBPostgres, Docs: cc.Docs, Variants: SplitVariants()}
	sr := ScenarioReport{Name: name, Compare: cr}
	storageArgs, err := fx.storage("data-"+name, DBPostgres)
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	var tok [32]byte
	_, _ = rand.Read(tok[:]) // crypto/rand.Read never fails
	token := "--internal-token=" + hex.EncodeToString(tok[:])
	dataDir := func(label string) []string {
		return []string{"--data-dir", filepath.Join(fx.dir, "data-"+name+"-"+label)}
	}
	// The components share the monolith's database, with a data directory
	// of their own.
	i := slices.Index(storageArgs, "--db")
	if i < 0 || i+1 >= len(storageArgs) {
		sr.Err = fmt.Sprintf("%s: no --db in the storage arguments %q", name, storageArgs)
		return sr
	}
	components := fx.basaltSpec(append(dataDir("components"), storageArgs[i:i+2]...), []string{"--target=documents,accounts", token})
	logPath := func(label string) string { return filepath.Join(fx.dir, "basalt-"+name+"-"+label+".log") }
	err = withServer(ctx, fx.basaltSpec(storageArgs, nil), logPath(VariantMonolith), logf, func(monolith *Process) error {
		return withServer(ctx, components, logPath("components"), logf, func(comp *Process) error {
			url := "http://" + comp.Addr
			gateway := fx.basaltSpec(dataDir(VariantGateway), append(SplitVariants()[1].Args, token, "--documents-url="+url, "--accounts-url="+url))
			return withServer(ctx, gateway, logPath(VariantGateway), logf, func(gw *Process) error {
				return measureSplit(ctx, cfg, budget, cr, []*Process{monolith, gw}, storageArgs, logf)
			})
		})
	})
	if err != nil {
		sr.Err = err.Error()
	}
	return sr
}

// measureSplit sets up and seeds the database through procs[0] (the
// monolith), then measures a get by id on each of procs into cr.
func measureSplit(ctx context.Context, cfg Config, budget *Budget, cr *CompareReport, procs []*Process, storageArgs []string,
	logf func(string, ...any)) error {
	name := ScenarioSplit
	setup := Client{BaseURL: procs[0].BaseURL, HTTP: &http.Client{Timeout: time.Minute}}
	admin, err := setUpCompare(ctx, cfg, setup, storageArgs)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var rep Report
	ids, err := seed(ctx, cfg, setup, admin, Collection, cr.Docs, "", &rep, func(format string, args ...any) { logf(name+" "+format, args...) })
	setup.HTTP.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	targeters := make([]map[string]vegeta.Targeter, len(procs))
	for i, p := range procs {
		get, err := GetTargeter(p.BaseURL, Collection, "", ids)
		if err != nil {
			return err
		}
		targeters[i] = map[string]vegeta.Targeter{CompareGet: get}
		warm := make([]string, 0, len(ids))
		for _, id := range ids {
			warm = append(warm, p.BaseURL+"/v1/collections/"+Collection+"/documents/"+id)
		}
		if err := warmUp(ctx, warm, 16); err != nil {
			return fmt.Errorf("%s %s: warming: %w", name, cr.Variants[i].Name, err)
		}
		logf("%s: %s warmed with %d reads", name, cr.Variants[i].Name, len(warm))
	}
	parts := len(procs)
	for i := range procs {
		share := budget.Split(parts)
		parts--
		s := runScenario(ctx, cfg, cfg.Search, share, name+" get "+cr.Variants[i].Name, targeters[i][CompareGet], logf)
		budget.Return(share)
		cr.Lines = append(cr.Lines, CompareLine{Request: CompareGet, Variant: cr.Variants[i].Name, Search: s.Search, Err: s.Err})
		if ctx.Err() != nil {
			return fmt.Errorf("load: %s: %w", name, ctx.Err())
		}
	}
	runCompareRounds(ctx, cfg, budget, name, cr, targeters, nil, 0, logf)
	return nil
}
