// Package migration applies a storage engine's SQL migrations in two
// phases, so that two releases of Basalt can serve from one database at
// the same time (a rolling, blue-green or canary upgrade).
//
// Every migration declares its phase on a line of its own before
// "-- +goose Up":
//
//	-- basalt:phase expand
//
// An expand migration only adds: tables, nullable columns or columns with a
// default, indexes, functions, backfills. The release before it keeps
// working on the expanded schema, so expand migrations run before the new
// release starts (basalt serve applies them itself). A contract migration
// removes or tightens what an earlier release still uses: drops, renames,
// type changes, new NOT NULL or unique constraints. It runs only when asked
// (basalt migrate --phase contract), after every process of the earlier
// release has stopped; the release that ships it must work whether it has
// run or not. Check enforces the rule on expand migrations.
//
// Migrations numbered below PolicySince predate the policy: they carry no
// annotation, count as expand and are not checked.
package migration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"

	"github.com/pressly/goose/v3"
)

// PolicySince is the first migration number that must declare its phase.
// Both engines' migrations up to 11 were written before releases could
// overlap; they count as expand.
const PolicySince = 12

// Phase is when a migration may run.
type Phase string

// The phases.
const (
	// Expand migrations only add; they run before a new release starts.
	Expand Phase = "expand"
	// Contract migrations remove or tighten; they run after every process
	// of the previous release has stopped.
	Contract Phase = "contract"
	// None, given to Apply, applies nothing: a store opened with it works
	// on the schema as it finds it (to list the migrations, say).
	None Phase = "none"
)

// ParsePhase parses "expand" or "contract".
func ParsePhase(s string) (Phase, error) {
	switch Phase(s) {
	case Expand, Contract:
		return Phase(s), nil
	}
	return "", fmt.Errorf("unknown migration phase %q (want expand or contract)", s)
}

// Migration is one migration and its state in a database.
type Migration struct {
	Version int64  `json:"version"`
	Name    string `json:"name"` // the file name, 00012_instances.sql
	Phase   Phase  `json:"phase"`
	Applied bool   `json:"applied"`
}

// annotation is the line that declares a migration's phase.
const annotation = "basalt:phase "

// PhaseOf reads the phase a migration declares. A migration numbered below
// PolicySince without a declaration is an expand migration.
func PhaseOf(version int64, src []byte) (Phase, error) {
	var found Phase
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), len(src)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "-- +goose Up") {
			break
		}
		comment, ok := strings.CutPrefix(line, "--")
		if !ok {
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(comment), annotation)
		if !ok {
			continue
		}
		if found != "" {
			return "", errors.New("the phase is declared twice")
		}
		p, err := ParsePhase(strings.TrimSpace(rest))
		if err != nil {
			return "", err
		}
		found = p
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if found == "" {
		if version < PolicySince {
			return Expand, nil
		}
		return "", fmt.Errorf("no %q line before -- +goose Up (every migration from %05d on declares expand or contract)",
			"-- "+annotation+"expand|contract", PolicySince)
	}
	return found, nil
}

// Migrator applies one engine's migrations by phase. Each migration is
// applied under goose's session lock when the dialect has one, so processes
// that start together apply it once.
type Migrator struct {
	p      *goose.Provider
	phases map[int64]Phase
	names  map[int64]string
}

// New reads the phase of every migration of p, whose files are in fsys.
// It fails when a migration declares no phase or a wrong one. (CheckFS,
// run by each engine's tests, holds expand migrations to the policy.)
func New(p *goose.Provider, fsys fs.FS) (*Migrator, error) {
	m := &Migrator{p: p, phases: map[int64]Phase{}, names: map[int64]string{}}
	for _, s := range p.ListSources() {
		name := path.Base(s.Path)
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		phase, err := PhaseOf(s.Version, src)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		m.phases[s.Version], m.names[s.Version] = phase, name
	}
	return m, nil
}

// Status lists the migrations in version order with their state in the
// database.
func (m *Migrator) Status(ctx context.Context) ([]Migration, error) {
	st, err := m.p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	out := make([]Migration, 0, len(st))
	for _, s := range st {
		v := s.Source.Version
		out = append(out, Migration{Version: v, Name: m.names[v], Phase: m.phases[v],
			Applied: s.State == goose.StateApplied})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Apply applies the pending migrations of phase, in version order, and
// returns those it applied. Expand applies the pending expand migrations
// and leaves contract ones pending, even where an expand migration comes
// after them. Contract applies every pending migration. A migration that
// another process applied meanwhile is skipped.
func (m *Migrator) Apply(ctx context.Context, phase Phase) ([]Migration, error) {
	if phase == None {
		return nil, nil
	}
	if _, err := ParsePhase(string(phase)); err != nil {
		return nil, err
	}
	st, err := m.Status(ctx)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, mg := range st {
		if mg.Applied || (phase == Expand && mg.Phase != Expand) {
			continue
		}
		if _, err := m.p.ApplyVersion(ctx, mg.Version, true); err != nil {
			if errors.Is(err, goose.ErrAlreadyApplied) {
				continue
			}
			return applied, fmt.Errorf("migration %s: %w", mg.Name, err)
		}
		mg.Applied = true
		applied = append(applied, mg)
	}
	return applied, nil
}

// Outcome is what Migrate did and found.
type Outcome struct {
	Applied []Migration // what it applied, in order
	Version int64       // the highest migration the database has
	Known   int64       // the highest migration the engine has (Known)
}

// Migrate applies the pending migrations of phase, logging each: what an
// engine's Open does.
func (m *Migrator) Migrate(ctx context.Context, phase Phase, log *slog.Logger) (Outcome, error) {
	applied, err := m.Apply(ctx, phase)
	for _, a := range applied {
		log.Info("migration applied", "migration", a.Name, "phase", string(a.Phase))
	}
	if err != nil {
		return Outcome{}, err
	}
	version, err := m.Version(ctx)
	return Outcome{Applied: applied, Version: version, Known: m.Known()}, err
}

// Known is the highest migration the engine has: what this binary knows.
func (m *Migrator) Known() int64 {
	var k int64
	for v := range m.phases {
		k = max(k, v)
	}
	return k
}

// Version is the highest migration applied to the database.
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	v, err := m.p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	return v, nil
}
