package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

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

// migrationStore is a store that tells of its migrations (both engines).
type migrationStore interface {
	migrationLister
	MigratedAtOpen() []migration.Migration
}

// Migrate opens the database, applying the pending migrations of
// cfg.Migration.Phase (none with List), and prints every migration with
// its phase and state, and the processes serving from the database, to
// out. Before a contract phase it checks, on the database as it is, that
// no serving process predates a pending contract migration.
func Migrate(ctx context.Context, cfg Config, out io.Writer) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	phase := cfg.Migration.Phase
	switch {
	case cfg.Migration.List:
		phase = migration.None
	case phase == "":
		phase = migration.Expand
	}
	if phase == migration.Contract && !cfg.Migration.Force {
		if err := checkContract(ctx, cfg, log); err != nil {
			return err
		}
	}
	cfg.Migration.Phase = phase
	db, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	ms, live, err := migrationState(ctx, db)
	if err != nil {
		return err
	}
	now := map[int64]bool{}
	for _, m := range db.Store.(migrationStore).MigratedAtOpen() {
		now[m.Version] = true
	}
	type row struct {
		migration.Migration
		AppliedNow bool `json:"appliedNow,omitempty"`
	}
	rows := make([]row, len(ms))
	var pendingContract, pendingExpand int
	for i, m := range ms {
		rows[i] = row{Migration: m, AppliedNow: now[m.Version]}
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
			Engine     string              `json:"engine"`
			Migrations []row               `json:"migrations"`
			Instances  []docstore.Instance `json:"instances"`
		}{db.engine, rows, append([]docstore.Instance{}, live...)})
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

// checkContract refuses a contract phase while a process serving from
// the database predates a pending contract migration. It opens the
// database without migrating it.
func checkContract(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg.Migration.Phase = migration.None
	db, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	ms, live, err := migrationState(ctx, db)
	if err != nil {
		return err
	}
	if blockers := contractBlockers(ms, live); len(blockers) > 0 {
		return fmt.Errorf("%d process(es) serving from this database predate a pending contract migration, which may remove what they use: %s; stop them (or, if they are gone, wait %v for their registrations to lapse), or pass --force",
			len(blockers), strings.Join(describeInstances(blockers), "; "), liveWithin)
	}
	return nil
}

// migrationState is the migrations of db with their state, and the
// processes serving from it.
func migrationState(ctx context.Context, db database) ([]migration.Migration, []docstore.Instance, error) {
	l, ok := db.Store.(migrationStore)
	if !ok {
		return nil, nil, fmt.Errorf("the %s store does not list its migrations", db.engine)
	}
	ms, err := l.Migrations(ctx)
	if err != nil || !registryApplied(ms) {
		return ms, nil, err
	}
	live, err := liveInstances(ctx, db)
	return ms, live, err
}
