package sqlite

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"
)

// TestSQLiteBuildHasFullTextSearch checks what docs/search.md says of the
// embedded SQLite: a version with FTS5's trigram tokenizer and its
// remove_diacritics option (3.45 or later), compiled with FTS5, and the
// three tokenizers the text index uses.
func TestSQLiteBuildHasFullTextSearch(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()

	var version string
	if err := db.QueryRow(`SELECT sqlite_version()`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("sqlite_version() = %s", version)
	parts := strings.Split(version, ".")
	if len(parts) < 2 {
		t.Fatalf("sqlite_version() = %q", version)
	}
	major, _ := strconv.Atoi(parts[0])
	minor, _ := strconv.Atoi(parts[1])
	if major < 3 || (major == 3 && minor < 45) {
		t.Errorf("SQLite %s: the trigram tokenizer's remove_diacritics needs 3.45 or later", version)
	}

	rows, err := db.Query(`PRAGMA compile_options`)
	if err != nil {
		t.Fatal(err)
	}
	fts5 := false
	for rows.Next() {
		var opt string
		if err := rows.Scan(&opt); err != nil {
			t.Fatal(err)
		}
		fts5 = fts5 || opt == "ENABLE_FTS5"
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !fts5 {
		t.Error("PRAGMA compile_options does not list ENABLE_FTS5")
	}

	for i, tokenize := range []string{
		"porter unicode61 remove_diacritics 2",
		"unicode61 remove_diacritics 2",
		"trigram",
		"trigram case_sensitive 0 remove_diacritics 1",
	} {
		name := "t" + strconv.Itoa(i)
		if _, err := db.Exec(`CREATE VIRTUAL TABLE ` + name + ` USING fts5(x, tokenize='` + tokenize + `')`); err != nil {
			t.Errorf("fts5 with tokenize=%q: %v", tokenize, err)
			continue
		}
		if _, err := db.Exec(`INSERT INTO `+name+`(x) VALUES (?)`, "Réplication des données"); err != nil {
			t.Fatal(err)
		}
	}
	// The trigram index finds a word by any three of its letters, without
	// case or diacritics.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t3 WHERE t3 MATCH ?`, `"REPLIC"`).Scan(&n); err != nil || n != 1 {
		t.Errorf("trigram match of REPLIC: %d rows, %v", n, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM t0 WHERE t0 MATCH ?`, `"donnees"`).Scan(&n); err != nil || n != 1 {
		t.Errorf("word match of donnees without diacritics: %d rows, %v", n, err)
	}
}
