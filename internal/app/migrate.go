package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/storage/migration"
)

// MigrateConfig is what "basalt migrate" does.
type MigrateConfig struct {
	// Phase is the migrations to apply: expand (only those that add) or
	// contract (every pending one). basalt serve applies expand.
	Phase migration.Phase
	// List prints the migrations and applies nothing.
	List bool
	// JSON prints JSON instead of a table.
	JSON bool
	// Force applies contract migrations even while processes that
	// predate them still run.
	Force bool
}

// migrationLister is a store that lists its migrations (both engines).
type migrationLister interface {
	Migrations(ctx context.Context) ([]migration.Migration, error)
}

// Migrate opens the database, applies the pending migrations of
// cfg.Migration.Phase (none with List) and prints every migration with
// its phase and state to out.
func Migrate(ctx context.Context, cfg Config, out io.Writer) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	if cfg.Migration.Phase == "" {
		cfg.Migration.Phase = migration.Expand
	}
	// What the database has before, to tell what this run applies, and
	// which processes serve from it.
	probe := cfg
	probe.Migration.Phase = migration.None
	pdb, err := openStore(ctx, probe, log, nil)
	if err != nil {
		return err
	}
	ms, err := listMigrations(ctx, pdb)
	var live []docstore.Instance
	if err == nil && registryApplied(ms) {
		live, err = liveInstances(ctx, pdb)
	}
	_ = pdb.Close()
	if err != nil {
		return err
	}
	before := map[int64]bool{}
	for _, m := range ms {
		before[m.Version] = m.Applied
	}
	if cfg.Migration.Phase == migration.Contract && !cfg.Migration.Force {
		if blockers := contractBlockers(ms, live); len(blockers) > 0 {
			return fmt.Errorf("%d process(es) serving from this database predate a pending contract migration, which may remove what they use: %s; stop them (or, if they are gone, wait %v for their registrations to lapse), or pass --force",
				len(blockers), strings.Join(describeInstances(blockers), "; "), liveWithin)
		}
	}
	db := pdb
	if !cfg.Migration.List {
		if db, err = openStore(ctx, cfg, log, nil); err != nil {
			return err
		}
		defer db.Close()
		if ms, err = listMigrations(ctx, db); err != nil {
			return err
		}
	}
	type row struct {
		migration.Migration
		AppliedNow bool `json:"appliedNow,omitempty"`
	}
	rows := make([]row, len(ms))
	var pendingContract, pendingExpand int
	for i, m := range ms {
		rows[i] = row{Migration: m, AppliedNow: m.Applied && !cfg.Migration.List && !before[m.Version]}
		if !m.Applied {
			if m.Phase == migration.Contract {
				pendingContract++
			} else {
				pendingExpand++
			}
		}
	}
	if cfg.Migration.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		type instance struct {
			Version   string    `json:"version"`
			Migration int64     `json:"knownMigration"`
			Host      string    `json:"host"`
			Targets   string    `json:"targets"`
			StartedAt time.Time `json:"startedAt"`
			SeenAt    time.Time `json:"seenAt"`
		}
		is := []instance{}
		for _, in := range live {
			is = append(is, instance{in.Version, in.Migration, in.Host, in.Targets, in.StartedAt, in.SeenAt})
		}
		return enc.Encode(struct {
			Engine     string     `json:"engine"`
			Migrations []row      `json:"migrations"`
			Instances  []instance `json:"instances"`
		}{db.engine, rows, is})
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tPHASE\tSTATE")
	for _, r := range rows {
		state := "pending"
		switch {
		case r.AppliedNow:
			state = "applied now"
		case r.Applied:
			state = "applied"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Version, r.Name, r.Phase, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(live) > 0 {
		fmt.Fprintln(out, "serving from this database:")
		for _, l := range describeInstances(live) {
			fmt.Fprintln(out, "  "+l)
		}
	}
	switch {
	case pendingExpand > 0:
		fmt.Fprintf(out, "%d expand migration(s) pending: basalt migrate --phase expand (basalt serve applies them too)\n", pendingExpand)
	case pendingContract > 0:
		fmt.Fprintf(out, "%d contract migration(s) pending: once no process of the previous release runs, basalt migrate --phase contract\n", pendingContract)
	default:
		fmt.Fprintln(out, "the database has every migration of this version")
	}
	return nil
}

// registryApplied reports whether the database has the instance
// registry's table (a database not yet migrated to it has no processes
// registered).
func registryApplied(ms []migration.Migration) bool {
	for _, m := range ms {
		if strings.HasSuffix(m.Name, "_instances.sql") {
			return m.Applied
		}
	}
	return false
}

func listMigrations(ctx context.Context, db database) ([]migration.Migration, error) {
	l, ok := db.Store.(migrationLister)
	if !ok {
		return nil, fmt.Errorf("the %s store does not list its migrations", db.engine)
	}
	return l.Migrations(ctx)
}
