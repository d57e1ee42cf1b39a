package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/search/searchdb/searchdbtest"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
	"github.com/basaltdev/basalt/internal/storage/postgres"
	"github.com/basaltdev/basalt/internal/storage/storagetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openStore opens a store on a fresh, empty database.
func openStore(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{URL: pgtest.URL(t), MaxConns: 8})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, "postgres", func(t *testing.T) docstore.Store { return openStore(t) })
}

func TestSearchConformance(t *testing.T) {
	searchdbtest.Run(t, "postgres", func(t *testing.T) searchdbtest.Engine { return openStore(t) })
}

// TestMigrationVersion: a new database is migrated to the newest
// migration, and a store opened on it again reads the same version.
func TestMigrationVersion(t *testing.T) {
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	newest, _ := strconv.ParseInt(strings.SplitN(filepath.Base(files[len(files)-1]), "_", 2)[0], 10, 64)
	url := pgtest.URL(t)
	for range 2 {
		s, err := postgres.Open(context.Background(), postgres.Options{URL: url, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		if v := s.MigrationVersion(); v != newest {
			t.Errorf("MigrationVersion = %d, want %d", v, newest)
		}
		if v := s.KnownMigration(); v != newest {
			t.Errorf("KnownMigration = %d, want %d", v, newest)
		}
		if err := s.Reachable(context.Background()); err != nil {
			t.Errorf("Reachable: %v", err)
		}
		_ = s.Close()
	}
}
