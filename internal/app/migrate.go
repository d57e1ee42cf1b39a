package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

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
	if cfg.Migration.List {
		cfg.Migration.Phase = migration.None
	}
	before := map[int64]bool{}
	if !cfg.Migration.List {
		// What the database has before, to tell what this run applied.
		probe := cfg
		probe.Migration.Phase = migration.None
		db, err := openStore(ctx, probe, log, nil)
		if err != nil {
			return err
		}
		ms, err := listMigrations(ctx, db)
		_ = db.Close()
		if err != nil {
			return err
		}
		for _, m := range ms {
			before[m.Version] = m.Applied
		}
	}
	db, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	ms, err := listMigrations(ctx, db)
	if err != nil {
		return err
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
		return enc.Encode(struct {
			Engine     string `json:"engine"`
			Migrations []row  `json:"migrations"`
		}{db.engine, rows})
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

func listMigrations(ctx context.Context, db database) ([]migration.Migration, error) {
	l, ok := db.Store.(migrationLister)
	if !ok {
		return nil, fmt.Errorf("the %s store does not list its migrations", db.engine)
	}
	return l.Migrations(ctx)
}
