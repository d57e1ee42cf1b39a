package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/storage/sqlite"
	"github.com/basaltdev/basalt/internal/storage/storagetest"
)

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "basalt.db")})
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
	storagetest.Run(t, "sqlite", func(t *testing.T) docstore.Store { return openStore(t) })
}

// TestMigrationVersion: a new database is migrated to the newest
// migration, and a store opened on it again reads the same version.
func TestMigrationVersion(t *testing.T) {
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	newest, _ := strconv.ParseInt(strings.SplitN(filepath.Base(files[len(files)-1]), "_", 2)[0], 10, 64)
	path := filepath.Join(t.TempDir(), "basalt.db")
	for range 2 {
		s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if v := s.MigrationVersion(); v != newest {
			t.Errorf("MigrationVersion = %d, want %d", v, newest)
		}
		if v := s.KnownMigration(); v != newest {
			t.Errorf("KnownMigration = %d, want %d", v, newest)
		}
		_ = s.Close()
	}
}
