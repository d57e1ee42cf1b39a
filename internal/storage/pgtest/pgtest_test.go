package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestURLGivesAFreshDatabaseThatIsDropped(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		u := URL(t)
		conn, err := pgx.Connect(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("new database has %d tables (%v)", tables, err)
		}
	})
	conn, err := pgx.Connect(t.Context(), theServer.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("database %s still exists after its test (%d, %v)", name, n, err)
	}
}

// TestThrowawayCluster starts a cluster from the installed binaries, as
// pgtest does on machines without a running server.
func TestThrowawayCluster(t *testing.T) {
	c := StartCluster(t)
	if err := ping(c.AdminURL()); err != nil {
		t.Fatal(err)
	}
	c.Stop(t)
	if err := ping(c.AdminURL()); err == nil {
		t.Fatal("cluster answers after Stop")
	}
	c.Start(t)
	if err := ping(c.AdminURL()); err != nil {
		t.Fatalf("cluster does not answer after Start: %v", err)
	}
}
