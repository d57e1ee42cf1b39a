package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/storage/migration"
)

func TestMigrateCommand(t *testing.T) {
	cmd, err := parse(t, nil, "migrate", "--phase", "contract", "--force", "--json", "--data-dir", "/d")
	if err != nil {
		t.Fatal(err)
	}
	if m := cmd.Config.Migration; cmd.Name != "migrate" || m.Phase != migration.Contract || !m.Force || !m.JSON || m.List {
		t.Fatalf("migrate = %q %+v", cmd.Name, m)
	}
	if cmd, err = parse(t, nil, "migrate"); err != nil || cmd.Config.Migration.Phase != migration.Expand {
		t.Fatalf("migrate without a phase = %+v, %v; want expand", cmd.Config.Migration, err)
	}
	if _, err := parse(t, nil, "migrate", "--phase", "sideways"); err == nil {
		t.Fatal("migrate --phase sideways parsed")
	}
}

// TestMigrateLists runs basalt migrate on a SQLite data directory: it
// applies the migrations, then lists them with a registered process.
func TestMigrateLists(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Logs = &bytes.Buffer{}
	var out bytes.Buffer
	if err := Migrate(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^12\s+00012_instances\.sql\s+expand\s+applied now$`).MatchString(out.String()) ||
		!strings.Contains(out.String(), "the database has every migration of this version") {
		t.Fatalf("basalt migrate:\n%s", out.String())
	}

	db, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := db.Store.(docstore.InstanceRegistry)
	if err := r.Heartbeat(ctx, docstore.Instance{ID: "x", Version: "v9.0.0", Migration: 12, Host: "node-7", Targets: "all", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Migration = MigrateConfig{List: true, JSON: true}
	out.Reset()
	if err := Migrate(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Engine     string
		Migrations []struct {
			Name       string
			Applied    bool
			AppliedNow bool
		}
		Instances []struct {
			Version        string
			KnownMigration int64
			Host           string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil {
		t.Fatal(err)
	}
	if listed.Engine != "sqlite" || len(listed.Migrations) < 11 || len(listed.Instances) != 1 || listed.Instances[0].Host != "node-7" {
		t.Fatalf("basalt migrate --list --json = %s", out.String())
	}
	for _, m := range listed.Migrations {
		if !m.Applied || m.AppliedNow {
			t.Fatalf("after migrating, --list shows %+v", m)
		}
	}
}

// TestContractBlockers: a live process blocks the contract phase when its
// binary does not know a pending contract migration.
func TestContractBlockers(t *testing.T) {
	ms := []migration.Migration{
		{Version: 12, Phase: migration.Expand, Applied: true},
		{Version: 13, Phase: migration.Contract, Applied: false},
		{Version: 14, Phase: migration.Expand, Applied: true},
		{Version: 15, Phase: migration.Contract, Applied: true},
	}
	old := docstore.Instance{ID: "o", Version: "v1.0.0", Migration: 12, Host: "a"}
	knows := docstore.Instance{ID: "n", Version: "v1.1.0", Migration: 14, Host: "b"}
	knows2 := docstore.Instance{ID: "m", Version: "v1.1.0", Migration: 14, Host: "c"}
	if got := contractBlockers(ms, []docstore.Instance{old, knows}); len(got) != 1 || got[0].ID != "o" {
		t.Fatalf("blockers = %+v; want the process that knows migrations up to 12 only", got)
	}
	if got := contractBlockers(ms, []docstore.Instance{knows, knows2}); len(got) != 0 {
		t.Fatalf("blockers = %+v; want none: both know migration 13", got)
	}
	ms[1].Applied = true
	if got := contractBlockers(ms, []docstore.Instance{old}); len(got) != 0 {
		t.Fatalf("blockers = %+v with no contract migration pending", got)
	}
	if d := describeInstances([]docstore.Instance{knows2, old, knows}); len(d) != 2 ||
		d[1] != "2 process(es) of v1.1.0 (knows migrations up to 14) on b, c" {
		t.Fatalf("describeInstances = %q", d)
	}
}
