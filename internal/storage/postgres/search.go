package postgres

// Full-text search (searchdb.Store).
//
// A collection configured for text search has three more columns in its
// documents table: search_tsv, the tsvector of its searchable fields, each
// field's lexemes weighted A (weight 4) to D (weight 1); search_text, the
// same fields' text joined by blank lines, for pg_trgm; and search_gen, the
// generation of the configuration the row was indexed under. A GIN index
// serves search_tsv. The trigger basalt_search (BEFORE INSERT OR UPDATE OF
// data) fills them through the generic function basalt_search_index of
// migrations 00009 and 00010, which reads the configuration from the
// collection's row of search_builds (field paths, weights and the language
// are values there, never SQL text) and adds the row's new words to the
// collection's vocabulary, search_words. The columns, index, trigger and
// rows are created, changed and dropped with the collection, in its
// transaction (syncSearch, dropSearch); ALTER TABLE … ADD COLUMN of a
// column without a default does not rewrite the table.
//
// A change of the configuration raises the generation and restarts the
// build: new writes are indexed under the new configuration at once, and
// BuildText indexes the older rows again in id order, under the row lock of
// search_builds so that processes calling it at once take turns. Until a
// row is indexed again it keeps its tsvector of the previous configuration
// (none when text search was just enabled): a search finds it as the old
// configuration indexed it, or not at all.
//
// Queries are parsed by websearch (groups of terms, ORed); each group is
// given to websearch_to_tsquery as quoted terms, so the server stems them
// in the collection's language, and the groups' tsqueries are ORed. The
// relevance is ts_rank_cd with the weights {D 0.1, C 0.2, B 0.4, A 1.0}
// and normalization 1 (divided by 1 + the logarithm of the document's
// length), read as float8: the real the server computes, widened exactly,
// so that a cursor's score compares equal to the recomputed one.
//
// Text is split into words as SQLite's tokenizer splits it: '/', '.', '@'
// and ':' between letters or digits become spaces (basalt_search_split)
// before the server's parser reads it, so net/http is two words.
//
// The typo-tolerant match first looks each of the query's words up in the
// collection's vocabulary, with pg_trgm's trigram index over its distinct
// words (similarWords): the words it offers at a low word_similarity
// (lookupThreshold) are kept when websearch.Similar admits them (a
// word_similarity of 0.5 or more, or one typo, two from nine letters on;
// a word of three or four letters as it is), up to fuzzyAlternatives per
// word. A group matches a document when, for each of its words, the
// tsvector holds the stem of one of the word's alternatives (the GIN index
// finds those) and the text holds the alternative itself
// (basalt_search_words), and none of its excluded terms matches the
// tsvector. So a word matches a word of the document, never a span of text
// across words, and the cost follows the documents that hold similar
// words. A group's score is the average over its words of the word's
// greatest word_similarity to one field times the field's rank weight; a
// document's, the greatest of its matching groups' (the same number SQLite
// computes).
//
// Snippets are computed only for the page's rows, in an outer query: for an
// exact query, ts_headline of each field with the OR of the query's
// positive terms (so that a field holding any of them is marked, and no
// excluded word is); for a typo-tolerant one, websearch.MarkSimilar, as on
// SQLite.

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/websearch"
)

var _ searchdb.Store = (*Store)(nil)

// Constants of the ranking and the typo-tolerant match (see above).
const (
	rankWeights   = "{0.1,0.2,0.4,1.0}"
	rankNormalize = "1"
	// lookupThreshold is pg_trgm.word_similarity_threshold while a
	// typo-tolerant query looks its words up in the vocabulary: low enough
	// to offer the words one or two typos away (a letter changed in the
	// middle of a word of five letters leaves 0.33), which websearch.Similar
	// then checks. lookupCandidates bounds the words offered for one word.
	lookupThreshold  = "0.2"
	lookupCandidates = 20_000
	// fuzzyAlternatives bounds the vocabulary words a typo-tolerant query
	// looks for in place of each of its words.
	fuzzyAlternatives = 32
	// headlineOptions are ts_headline's: up to two fragments of 10 to 25
	// words around the best matches, matches between the markers.
	headlineOptions = "StartSel=" + searchdb.MarkStart + ", StopSel=" + searchdb.MarkEnd +
		`, MaxFragments=2, MaxWords=25, MinWords=10, ShortWord=0, FragmentDelimiter=" … "`
	// snippetWords is the length of a typo-tolerant hit's snippet.
	snippetWords      = 25
	fragmentDelimiter = " … "
	ellipsis          = "…"
)

// weightFactor is the rank weight of a weight letter, as ts_rank_cd's
// weights array (rankWeights) gives it, as a float8 literal.
func weightFactor(letter string) string {
	switch letter {
	case "A":
		return "1.0::float8"
	case "B":
		return "0.4::float8"
	case "C":
		return "0.2::float8"
	}
	return "0.1::float8"
}

// textConfig is a text configuration as search_builds stores it: field
// paths in sorted order, their weights as tsvector weight letters, and the
// language.
type textConfig struct {
	fields, weights []string
	language        string
}

func newTextConfig(t *docstore.TextSearch) textConfig {
	c := textConfig{language: t.Language}
	if c.language == "" {
		c.language = docstore.DefaultTextLanguage
	}
	for _, p := range slices.Sorted(maps.Keys(t.Fields)) {
		w := min(max(t.Fields[p], 1), 4)
		c.fields = append(c.fields, p)
		c.weights = append(c.weights, string("DCBA"[w-1]))
	}
	return c
}

func (c textConfig) equal(o textConfig) bool {
	return c.language == o.language && slices.Equal(c.fields, o.fields) && slices.Equal(c.weights, o.weights)
}

// searchIndexName returns the name of a collection's tsvector index.
func searchIndexName(collection string) string {
	return "sx_tsv_" + shorten(collection, maxIdent-len("sx_tsv_"))
}

// triggerArg returns the collection name as the string literal of a
// trigger argument. Only valid collection names ([a-z][a-z0-9_]*, checked
// by tableName) reach it, so it needs no escaping; it refuses any other.
func triggerArg(op, collection string) (string, error) {
	if !docstore.ValidCollectionName(collection) {
		return "", fault.Newf(fault.Invalid, op, "invalid collection name %q", collection)
	}
	return "'" + collection + "'", nil
}

// syncSearch makes the search objects of a collection's documents table
// match c.Search, in the transaction that creates (created) or changes the
// collection.
func syncSearch(ctx context.Context, q pgx.Tx, op, table string, c docstore.Collection, created bool) error {
	arg, err := triggerArg(op, c.Name)
	if err != nil {
		return err
	}
	if err := syncText(ctx, q, op, table, arg, c, created); err != nil {
		return err
	}
	return syncVectors(ctx, q, op, table, arg, c, created)
}

func syncText(ctx context.Context, q pgx.Tx, op, table, arg string, c docstore.Collection, created bool) error {
	var have *textConfig
	if !created {
		var h textConfig
		err := q.QueryRow(ctx, `SELECT fields, weights::text[], language::text FROM search_builds WHERE collection = $1`,
			c.Name).Scan(&h.fields, &h.weights, &h.language)
		switch {
		case err == nil:
			have = &h
		case !errors.Is(err, pgx.ErrNoRows):
			return mapErr(op, err)
		}
	}
	if t := c.Search.Text; t != nil && t.Language != "" && !slices.Contains(docstore.TextLanguages(), t.Language) {
		return fault.Newf(fault.Invalid, op, "unknown text search language %q", t.Language)
	}
	tsvIndex := searchIndexName(c.Name)
	var stmts []string
	var args [][]any
	add := func(stmt string, a ...any) { stmts, args = append(stmts, stmt), append(args, a) }
	switch {
	case c.Search.Text == nil && have == nil:
		return nil
	case c.Search.Text == nil:
		add(`DROP TRIGGER basalt_search ON ` + table)
		add(`ALTER TABLE ` + table + ` DROP COLUMN search_tsv, DROP COLUMN search_text, DROP COLUMN search_gen`)
		add(`DELETE FROM search_builds WHERE collection = $1`, c.Name)
		add(`DELETE FROM search_words WHERE collection = $1`, c.Name)
	case have == nil:
		want := newTextConfig(c.Search.Text)
		add(`ALTER TABLE ` + table + ` ADD COLUMN search_tsv tsvector, ADD COLUMN search_text text, ADD COLUMN search_gen bigint`)
		add(`CREATE INDEX ` + tsvIndex + ` ON ` + table + ` USING gin (search_tsv)`)
		add(`INSERT INTO search_builds (collection, fields, weights, language, generation, done)
			VALUES ($1, $2::text[], $3::text[]::"char"[], $4::regconfig, 1, $5)`,
			c.Name, want.fields, want.weights, want.language, created)
		add(`CREATE TRIGGER basalt_search BEFORE INSERT OR UPDATE OF data ON ` + table +
			` FOR EACH ROW EXECUTE FUNCTION basalt_search_index(` + arg + `)`)
	default:
		want := newTextConfig(c.Search.Text)
		if want.equal(*have) {
			return nil
		}
		add(`UPDATE search_builds SET fields = $2::text[], weights = $3::text[]::"char"[], language = $4::regconfig,
			generation = generation + 1, last_id = '', done = false WHERE collection = $1`,
			c.Name, want.fields, want.weights, want.language)
	}
	for i, stmt := range stmts {
		if _, err := q.Exec(ctx, stmt, args[i]...); err != nil {
			if c := sqlState(err); c == codeUndefinedObject || c == codeInvalidName { // a language the server does not know
				return fault.Wrap(fault.Invalid, op, err, "unknown text search language")
			}
			return mapErr(op, err)
		}
	}
	return nil
}

// SQLSTATEs of a regconfig the server does not know.
const (
	codeUndefinedObject = "42704"
	codeInvalidName     = "42602"
)

// syncVectors keeps the delete trigger that takes a document's vectors with
// it while the collection has vector fields, and deletes the stored
// vectors of fields that left the configuration or changed dimensions.
func syncVectors(ctx context.Context, q pgx.Tx, op, table, arg string, c docstore.Collection, created bool) error {
	names := make([]string, 0, len(c.Search.Vectors))
	bytes := make([]int32, 0, len(c.Search.Vectors))
	for name, v := range c.Search.Vectors {
		names = append(names, name)
		bytes = append(bytes, int32(min(v.Dimensions, math.MaxInt32/4)*4))
	}
	if len(names) > 0 {
		if _, err := q.Exec(ctx, `CREATE OR REPLACE TRIGGER basalt_search_vectors AFTER DELETE ON `+table+
			` FOR EACH ROW EXECUTE FUNCTION basalt_search_vectors_delete(`+arg+`)`); err != nil {
			return mapErr(op, err)
		}
	}
	if created {
		return nil
	}
	if len(names) == 0 {
		if _, err := q.Exec(ctx, `DROP TRIGGER IF EXISTS basalt_search_vectors ON `+table); err != nil {
			return mapErr(op, err)
		}
	}
	_, err := q.Exec(ctx, `DELETE FROM search_vectors WHERE collection = $1 AND NOT EXISTS (
			SELECT 1 FROM unnest($2::text[], $3::int[]) AS f(name, bytes)
			WHERE f.name = search_vectors.field AND f.bytes = length(search_vectors.vector))`,
		c.Name, names, bytes)
	return mapErr(op, err)
}

// dropSearch deletes what search keeps of a collection outside its
// documents table (which goes with its columns and triggers).
func dropSearch(ctx context.Context, q pgx.Tx, op, collection string) error {
	for _, table := range []string{"search_builds", "search_words"} {
		if _, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE collection = $1`, collection); err != nil {
			return mapErr(op, err)
		}
	}
	_, err := q.Exec(ctx, `DELETE FROM search_vectors WHERE collection = $1`, collection)
	return mapErr(op, err)
}

// notConfigured is the error of a text operation on a collection that
// has no text configuration, or NotFound when it does not exist.
func notConfigured(ctx context.Context, q queryer, op, collection string) error {
	exists, err := collectionExists(ctx, q, collection)
	if err != nil {
		return mapErr(op, err)
	}
	if !exists {
		return collectionNotFound(op, collection)
	}
	return fault.Newf(fault.Invalid, op, "collection %q is not configured for full-text search", collection)
}

// BuildText indexes again, under the collection's current text
// configuration, up to limit documents that follow the build's position in
// id order, and reports whether none is left. It holds the row lock of the
// collection's search_builds row, so concurrent callers take turns. A
// collection without text configuration has nothing to build.
func (s *Store) BuildText(ctx context.Context, collection string, limit int) (bool, error) {
	const op = "postgres.BuildText"
	table, err := tableName(op, collection)
	if err != nil {
		return false, err
	}
	if limit <= 0 {
		return false, fault.Newf(fault.Invalid, op, "limit must be positive, not %d", limit)
	}
	var done bool
	err = s.inTx(ctx, op, func(q pgx.Tx) error {
		var gen int64
		var last string
		err := q.QueryRow(ctx, `SELECT generation, last_id, done FROM search_builds WHERE collection = $1 FOR UPDATE`,
			collection).Scan(&gen, &last, &done)
		if errors.Is(err, pgx.ErrNoRows) {
			exists, err := collectionExists(ctx, q, collection)
			if err != nil {
				return err
			}
			if !exists {
				return collectionNotFound(op, collection)
			}
			done = true
			return nil
		}
		if err != nil || done {
			return err
		}
		var n int64
		var upTo *string
		if err := q.QueryRow(ctx, `SELECT count(*), max(id) FROM (SELECT id FROM `+table+
			` WHERE id > $1 ORDER BY id LIMIT $2) AS b`, last, limit).Scan(&n, &upTo); err != nil {
			return tableErr(op, collection, err)
		}
		if n > 0 {
			// The trigger indexes what the update touches.
			if _, err := q.Exec(ctx, `UPDATE `+table+` SET data = data
				WHERE id > $1 AND id <= $2 AND search_gen IS DISTINCT FROM $3`, last, *upTo, gen); err != nil {
				return tableErr(op, collection, err)
			}
			last = *upTo
		}
		done = n < int64(limit)
		_, err = q.Exec(ctx, `UPDATE search_builds SET last_id = $2, done = $3 WHERE collection = $1`, collection, last, done)
		return err
	})
	if err != nil {
		return false, err
	}
	return done, nil
}

// TextStatus reports the build of the collection's text index: the
// documents indexed under the current configuration's generation, and all
// of them.
func (s *Store) TextStatus(ctx context.Context, collection string) (searchdb.BuildStatus, error) {
	const op = "postgres.TextStatus"
	table, err := tableName(op, collection)
	if err != nil {
		return searchdb.BuildStatus{}, err
	}
	var st searchdb.BuildStatus
	err = s.read(ctx, op, func(q queryer) error {
		var gen int64
		var done bool
		err := q.QueryRow(ctx, `SELECT generation, done FROM search_builds WHERE collection = $1`, collection).Scan(&gen, &done)
		if errors.Is(err, pgx.ErrNoRows) {
			return notConfigured(ctx, q, op, collection)
		}
		if err != nil {
			return mapErr(op, err)
		}
		if done {
			err = q.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&st.Total)
			st.Indexed = st.Total
		} else {
			err = q.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE search_gen = $1) FROM `+table, gen).
				Scan(&st.Total, &st.Indexed)
		}
		if err != nil {
			return tableErr(op, collection, err)
		}
		st.Building = !done
		return nil
	})
	return st, err
}

// termText returns a term as websearch_to_tsquery reads it: its words as
// one quoted phrase, with a leading '-' when excluded. Words hold letters
// and digits only, so no quote or operator can appear inside.
func termText(t websearch.Term) string {
	s := `"` + strings.Join(t.Words, " ") + `"`
	if t.Exclude {
		return "-" + s
	}
	return s
}

// fuzzyWords returns the words of a group's positive terms that the
// typo-tolerant match compares: lower-cased, at least websearch.FuzzyMinRunes
// letters, not a stop word of language, each once, in order.
func fuzzyWords(g websearch.Group, language string) []string {
	var out []string
	for _, t := range g.Terms {
		if t.Exclude {
			continue
		}
		for _, w := range t.Words {
			w = strings.ToLower(w)
			if utf8.RuneCountInString(w) >= websearch.FuzzyMinRunes && !websearch.StopWord(language, w) && !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// compiledQuery is a parsed query as the server reads it.
type compiledQuery struct {
	// exact is the tsquery text of an exact query: the groups with a
	// positive lexeme, ORed; "" when none has one.
	exact string
	// positive is the tsquery of the same groups' positive terms, ORed:
	// what snippets mark, in each field that holds any of them (ts_headline
	// marks nothing in a field that does not match its query as a whole,
	// and would mark excluded words).
	positive string
	// groups are the groups of a typo-tolerant query that have words to
	// compare, with their excluded terms' tsquery ("" for none).
	groups []fuzzyGroup
	// language is the collection's, as the server names it.
	language string
	// fields and weights are the configuration the index was built with
	// (search_builds): field paths in sorted order and their weight
	// letters, D (1) to A (4).
	fields, weights []string
}

type fuzzyGroup struct {
	words []string
	// alternatives holds, for each word, the vocabulary's words similar to
	// it, and similar their tsquery, ORed: a document matches the word
	// when it holds one of them.
	alternatives [][]string
	similar      []string
	excluded     string
}

// compileQuery reads the collection's language and turns the groups of pq
// into tsquery texts with the server's websearch_to_tsquery (so that the
// terms are stemmed as the documents were), in the transaction q. It sets
// pg_trgm's word similarity threshold for the transaction. A collection
// without text configuration is fault.Invalid, a missing one NotFound.
func compileQuery(ctx context.Context, q pgx.Tx, op, collection string, pq websearch.Query, fuzzy bool) (compiledQuery, error) {
	// Sources, three for each group: its text, its positive terms ORed, and
	// its excluded terms as positive terms ORed.
	var sources []string
	for _, g := range pq.Groups {
		var all, positive, excluded []string
		for _, t := range g.Terms {
			all = append(all, termText(t))
			if t.Exclude {
				excluded = append(excluded, termText(websearch.Term{Words: t.Words}))
			} else {
				positive = append(positive, termText(t))
			}
		}
		sources = append(sources, strings.Join(all, " "), strings.Join(positive, " or "), strings.Join(excluded, " or "))
	}
	var cq compiledQuery
	var texts []*string
	err := q.QueryRow(ctx, `SELECT b.language::text, b.fields, b.weights::text[], set_config('pg_trgm.word_similarity_threshold', '`+lookupThreshold+`', true),
			ARRAY(SELECT CASE WHEN numnode(t.q) = 0 OR querytree(t.q) = 'T' THEN NULL ELSE t.q::text END
				FROM unnest($2::text[]) WITH ORDINALITY AS s(text, i),
					LATERAL (SELECT websearch_to_tsquery(b.language, s.text) AS q) AS t
				ORDER BY s.i)
		FROM search_builds b WHERE b.collection = $1`, collection, sources).Scan(&cq.language, &cq.fields, &cq.weights, new(string), &texts)
	if errors.Is(err, pgx.ErrNoRows) {
		return cq, notConfigured(ctx, q, op, collection)
	}
	if err != nil {
		return cq, mapErr(op, err)
	}
	var exact, positive []string
	for gi, g := range pq.Groups {
		all, pos, excl := texts[3*gi], texts[3*gi+1], texts[3*gi+2]
		if !fuzzy {
			if all != nil && pos != nil {
				exact = append(exact, "("+*all+")")
				positive = append(positive, "("+*pos+")")
			}
			continue
		}
		words := fuzzyWords(g, cq.language)
		if len(words) == 0 {
			continue
		}
		fg := fuzzyGroup{words: words}
		if excl != nil {
			fg.excluded = *excl
		}
		cq.groups = append(cq.groups, fg)
	}
	cq.exact = strings.Join(exact, " | ")
	cq.positive = strings.Join(positive, " | ")
	if fuzzy {
		if err := similarWords(ctx, q, op, collection, &cq); err != nil {
			return cq, err
		}
	}
	return cq, nil
}

// similarWords looks the words of a typo-tolerant query up in the
// collection's vocabulary (search_words). The trigram index offers the
// vocabulary words with a word_similarity of at least lookupThreshold
// (at most lookupCandidates of them per word), websearch.Similar keeps
// those the match admits, and up to fuzzyAlternatives of them, the fewest
// typos first, become the word's alternatives and their tsquery in the
// collection's language. A word shorter than websearch.FuzzyExactRunes is
// its own only alternative. A group with a word that has none can match no
// document and is dropped.
func similarWords(ctx context.Context, q pgx.Tx, op, collection string, cq *compiledQuery) error {
	var words []string
	for _, g := range cq.groups {
		for _, w := range g.words {
			if !slices.Contains(words, w) {
				words = append(words, w)
			}
		}
	}
	if len(words) == 0 {
		return nil
	}
	alts := make([][]string, len(words))
	var lookup []string
	for i, w := range words {
		if utf8.RuneCountInString(w) < websearch.FuzzyExactRunes {
			alts[i] = []string{w}
		} else {
			lookup = append(lookup, w)
		}
	}
	if len(lookup) > 0 {
		rows, err := q.Query(ctx, `SELECT DISTINCT w.q, v.word FROM unnest($2::text[]) AS w(q)
			CROSS JOIN LATERAL (SELECT v.word FROM search_words AS v WHERE v.collection = $1 AND v.word %> w.q LIMIT $3) AS v`,
			collection, lookup, lookupCandidates)
		if err != nil {
			return mapErr(op, err)
		}
		for rows.Next() {
			var w, cand string
			if err := rows.Scan(&w, &cand); err != nil {
				rows.Close()
				return mapErr(op, err)
			}
			if i := slices.Index(words, w); i >= 0 && websearch.Similar(w, cand) {
				alts[i] = append(alts[i], cand)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr(op, err)
		}
	}
	// The alternatives' tsqueries, one per word: the alternatives flattened
	// with the number of their word.
	var flat []string
	var of []int32
	for i, w := range words {
		alts[i] = bestAlternatives(w, alts[i])
		for _, x := range alts[i] {
			flat, of = append(flat, x), append(of, int32(i))
		}
	}
	tsq := make([]string, len(words))
	rows, err := q.Query(ctx, `SELECT u.i, string_agg('(' || t::text || ')', ' | ' ORDER BY u.n)
		FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS u(e, i, n), LATERAL plainto_tsquery($1::regconfig, u.e) AS t
		WHERE numnode(t) > 0 GROUP BY u.i`, cq.language, flat, of)
	if err != nil {
		return mapErr(op, err)
	}
	for rows.Next() {
		var i int32
		var t string
		if err := rows.Scan(&i, &t); err != nil {
			rows.Close()
			return mapErr(op, err)
		}
		tsq[i] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return mapErr(op, err)
	}
	groups := cq.groups[:0]
	for _, g := range cq.groups {
		g.similar, g.alternatives = make([]string, len(g.words)), make([][]string, len(g.words))
		ok := true
		for i, w := range g.words {
			j := slices.Index(words, w)
			if tsq[j] == "" {
				ok = false
				break
			}
			g.similar[i], g.alternatives[i] = tsq[j], alts[j]
		}
		if ok {
			groups = append(groups, g)
		}
	}
	cq.groups = groups
	return nil
}

// bestAlternatives returns up to fuzzyAlternatives of the alternatives of
// the query word w: fewer typos first, then the greater word_similarity,
// then the word.
func bestAlternatives(w string, alts []string) []string {
	type ranked struct {
		word  string
		typos int
		sim   float64
	}
	r := make([]ranked, len(alts))
	for i, a := range alts {
		r[i] = ranked{a, websearch.Typos(w, a, websearch.MaxTypos(w)), websearch.WordSimilarity(w, a)}
	}
	slices.SortFunc(r, func(x, y ranked) int {
		if x.typos != y.typos {
			return x.typos - y.typos
		}
		if x.sim != y.sim {
			if x.sim > y.sim {
				return -1
			}
			return 1
		}
		return strings.Compare(x.word, y.word)
	})
	out := make([]string, min(len(r), fuzzyAlternatives))
	for i := range out {
		out[i] = r[i].word
	}
	return out
}

// SearchText runs a full-text query (see the top of this file).
func (s *Store) SearchText(ctx context.Context, tq searchdb.TextQuery) ([]searchdb.TextHit, error) {
	const op = "postgres.SearchText"
	table, err := tableName(op, tq.Collection)
	if err != nil {
		return nil, err
	}
	if tq.Limit <= 0 {
		return nil, fault.Newf(fault.Invalid, op, "limit must be positive, not %d", tq.Limit)
	}
	pq, err := websearch.Parse(tq.Query)
	if err != nil {
		return nil, err
	}
	var hits []searchdb.TextHit
	err = s.inReadTx(ctx, op, func(q pgx.Tx) error {
		cq, err := compileQuery(ctx, q, op, tq.Collection, pq, tq.Fuzzy)
		if err != nil {
			return err
		}
		if (!tq.Fuzzy && cq.exact == "") || (tq.Fuzzy && len(cq.groups) == 0) {
			return nil // no positive term: nothing matches
		}
		text, args, shape, err := compileSearch(table, tq, cq)
		if err != nil {
			return err
		}
		hits, err = scanHits(ctx, q, op, tq.Collection, text, args, shape)
		return err
	})
	return hits, err
}

// inReadTx runs fn in one read-only REPEATABLE READ transaction: its
// statements read one snapshot, and SET LOCAL holds for all of them.
func (s *Store) inReadTx(ctx context.Context, op string, fn func(q pgx.Tx) error) error {
	c, err := s.acquire(ctx, op)
	if err != nil {
		return err
	}
	defer c.Release()
	return mapErr(op, pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn))
}

// param binds v and returns its placeholder with a cast.
func (b *builder) param(v any, cast string) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args)) + "::" + cast
}

// compileSearch returns the statement of a search, its arguments and the
// shape of its rows.
//
// Shape: the innermost SELECT finds the matching rows, with their score;
// the middle one applies the keyset, the order and the limit; the outer
// one computes the snippets of the page's rows only.
func compileSearch(table string, tq searchdb.TextQuery, cq compiledQuery) (string, []any, hitShape, error) {
	var b builder
	var match, score, headlineQuery string
	var groupConds []string // of a typo-tolerant query
	if !tq.Fuzzy {
		tsq := b.param(cq.exact, "tsquery")
		match = "search_tsv @@ " + tsq
		score = "ts_rank_cd('" + rankWeights + "', search_tsv, " + tsq + ", " + rankNormalize + ")::float8"
	} else {
		// The text of each field, for the weighted similarities.
		fieldTexts := make([]string, len(cq.fields))
		for i, f := range cq.fields {
			fieldTexts[i] = "basalt_search_field(data, " + b.param(f, "text") + ")"
		}
		var conds, scores []string
		for _, g := range cq.groups {
			var cond, sims []string
			for i, w := range g.words {
				p := b.param(w, "text")
				// The tsvector's index finds the documents holding a word of
				// the same stem as an alternative; of those, the ones that
				// hold an alternative itself match.
				cond = append(cond, "search_tsv @@ "+b.param(g.similar[i], "tsquery"),
					"EXISTS (SELECT FROM basalt_search_words(search_text) AS x WHERE x = ANY ("+b.param(g.alternatives[i], "text[]")+"))")
				perField := make([]string, len(fieldTexts))
				for i, ft := range fieldTexts {
					perField[i] = "word_similarity(" + p + ", " + ft + ")::float8 * " + weightFactor(cq.weights[i])
				}
				sims = append(sims, "GREATEST("+strings.Join(perField, ", ")+")")
			}
			if g.excluded != "" {
				cond = append(cond, "NOT COALESCE(search_tsv @@ "+b.param(g.excluded, "tsquery")+", false)")
			}
			c := "(" + strings.Join(cond, " AND ") + ")"
			conds = append(conds, c)
			groupConds = append(groupConds, c)
			avg := "(" + strings.Join(sims, " + ") + ") / " + strconv.Itoa(len(sims))
			if len(cq.groups) > 1 { // the groups that match only
				avg = "CASE WHEN " + c + " THEN " + avg + " END"
			}
			scores = append(scores, avg)
		}
		match = "(" + strings.Join(conds, " OR ") + ")"
		if len(scores) == 1 {
			score = scores[0]
		} else {
			score = "GREATEST(" + strings.Join(scores, ", ") + ")"
		}
	}

	// The order.
	var order []string
	var keyset func() error
	if tq.Sort == nil {
		order = []string{"score DESC", "id"}
		if tq.After != nil {
			if len(tq.After) != 2 {
				return "", nil, hitShape{}, fault.New(fault.Invalid, compileOp, "cursor does not match the relevance order")
			}
			sc, ok := afterScore(tq.After[0])
			id, ok2 := tq.After[1].(string)
			if !ok || !ok2 {
				return "", nil, hitShape{}, fault.New(fault.Invalid, compileOp, "cursor does not match the relevance order")
			}
			keyset = func() error {
				s := b.param(sc, "float8")
				b.w("(score < ", s, " OR (score = ", s, " AND id > ", b.param(nulFree(id), "text"), "))")
				return nil
			}
		}
	} else {
		sort := tq.Sort
		if n := len(sort); n == 0 || sort[n-1].Field.System != query.SystemID {
			sort = append(sort[:n:n], query.SortKey{Field: query.Field{System: query.SystemID, Type: query.TypeString}})
		}
		keys := make([]sortKey, len(sort))
		for i, sk := range sort {
			t, err := fieldTarget(sk.Field)
			if err != nil {
				return "", nil, hitShape{}, err
			}
			keys[i] = sortKey{target: t, desc: sk.Desc, nullable: sk.Field.System == query.SystemNone}
			order = append(order, keys[i].orderBy())
		}
		if tq.After != nil {
			if len(tq.After) != len(keys) || len(tq.Sort) != len(keys) {
				return "", nil, hitShape{}, fault.New(fault.Invalid, compileOp, "cursor does not match the sort order")
			}
			after := make([]any, len(tq.After))
			for i, a := range tq.After {
				if a == nil {
					continue
				}
				v, err := bindAfter(a, keys[i].k)
				if err != nil {
					return "", nil, hitShape{}, err
				}
				after[i] = v
			}
			keyset = func() error {
				nullTail := keys[0].desc && after[0] != nil && keys[0].nullable
				b.w("(")
				b.keyset(keys, after)
				if nullTail { // the nulls that follow a1 in descending order
					b.w(" OR ", keys[0].x, " IS NULL")
				}
				b.w(")")
				return nil
			}
		}
	}

	// Highlighted fields: those of the configuration, each once.
	var shape hitShape
	for _, f := range tq.Highlight {
		if _, ok := tq.Text.Fields[f]; ok && !slices.Contains(shape.fields, f) {
			shape.fields = append(shape.fields, f)
		}
	}

	b.w("SELECT id, version, created_at, updated_at, raw, score")
	for _, f := range shape.fields {
		text := "translate(basalt_search_field(data, " + b.param(f, "text") + "), E'\\x02\\x03', '')"
		if tq.Fuzzy {
			// Marked in Go (websearch.MarkSimilar), as on SQLite.
			b.w(", ", text)
			continue
		}
		if headlineQuery == "" {
			headlineQuery = b.param(cq.positive, "tsquery")
		}
		b.w(", ", text, ", basalt_search_split(", text, "), ts_headline(", b.param(cq.language, "regconfig"),
			", basalt_search_split(", text, "), ", headlineQuery, ", ", b.param(headlineOptions, "text"), ")")
	}
	if tq.Fuzzy && len(shape.fields) > 0 {
		// Which groups matched: their words are the ones marked.
		for i, g := range cq.groups {
			shape.groups = append(shape.groups, g.words)
			if len(cq.groups) == 1 {
				b.w(", true")
			} else {
				b.w(", m_g", strconv.Itoa(i))
			}
		}
	}
	shape.fuzzy = tq.Fuzzy
	b.w(" FROM (SELECT * FROM (SELECT id, version, created_at, updated_at, raw, data, ", score, " AS score")
	if len(shape.groups) > 1 {
		for i, c := range groupConds {
			b.w(", ", c, " AS m_g", strconv.Itoa(i))
		}
	}
	b.w(" FROM ", table, " WHERE ", match)
	if tq.Filter != nil {
		b.w(" AND (")
		if err := b.expr(tq.Filter, false); err != nil {
			return "", nil, hitShape{}, err
		}
		b.w(")")
	}
	b.w(") AS m")
	if keyset != nil {
		b.w(" WHERE ")
		if err := keyset(); err != nil {
			return "", nil, hitShape{}, err
		}
	}
	b.w(" ORDER BY ", strings.Join(order, ", "), " LIMIT ", b.param(int64(tq.Limit), "bigint"), ") AS p ORDER BY ",
		strings.Join(order, ", "))
	return b.sql.String(), b.args, shape, nil
}

// hitShape describes the columns of a search's rows after the document
// and score: for an exact query, three per highlighted field (its text,
// its split text, its headline); for a typo-tolerant one, the text of each
// highlighted field, then whether each group matched.
type hitShape struct {
	fields []string
	fuzzy  bool
	groups [][]string // the fuzzy words of each group
}

// afterScore reads the score of a relevance cursor.
func afterScore(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case float32:
		return float64(v), true
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil && !math.IsInf(f, 0)
	case int64:
		return float64(v), true
	}
	return 0, false
}

// scanHits runs a search statement and reads its hits.
func scanHits(ctx context.Context, q pgx.Tx, op, collection, text string, args []any, shape hitShape) ([]searchdb.TextHit, error) {
	rows, err := q.Query(ctx, text, args...)
	if err != nil {
		return nil, tableErr(op, collection, err)
	}
	defer rows.Close()
	perField := 3
	if shape.fuzzy {
		perField = 1
	}
	var out []searchdb.TextHit
	for rows.Next() {
		h := searchdb.TextHit{Document: docstore.Document{Collection: collection}}
		var created, updated int64
		var raw []byte
		texts := make([]*string, perField*len(shape.fields))
		matched := make([]bool, len(shape.groups))
		dest := []any{&h.Document.ID, &h.Document.Version, &created, &updated, &raw, &h.Score}
		for i := range texts {
			dest = append(dest, &texts[i])
		}
		for i := range matched {
			dest = append(dest, &matched[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, mapErr(op, err)
		}
		h.Document.CreatedAt, h.Document.UpdatedAt = fromMicros(created), fromMicros(updated)
		h.Document.Data = json.RawMessage(raw)
		var words []string
		for i, m := range matched {
			if m {
				words = append(words, shape.groups[i]...)
			}
		}
		for i, f := range shape.fields {
			var sn string
			var ok bool
			if shape.fuzzy {
				if full := texts[i]; full != nil {
					sn, ok = websearch.MarkSimilar(*full, words, snippetWords, searchdb.MarkStart, searchdb.MarkEnd)
				}
			} else if full, split, hl := texts[3*i], texts[3*i+1], texts[3*i+2]; full != nil && split != nil && hl != nil &&
				strings.Contains(*hl, searchdb.MarkStart) {
				sn, ok = snippet(*full, *split, *hl), true
			}
			if !ok {
				continue
			}
			if h.Highlights == nil {
				h.Highlights = map[string]string{}
			}
			h.Highlights[f] = sn
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, tableErr(op, collection, err)
	}
	return out, nil
}

// snippet returns the snippet of a field's text from the headline of its
// split text (basalt_search_split): each fragment with the original text's
// characters (split turned some into spaces, one byte for one byte), and
// "…" where it cuts the text (ts_headline leaves no mark there).
func snippet(text, split, headline string) string {
	strip := strings.NewReplacer(searchdb.MarkStart, "", searchdb.MarkEnd, "")
	frags := strings.Split(headline, fragmentDelimiter)
	for i, f := range frags {
		f = strings.TrimSpace(f)
		plain := strip.Replace(f)
		at := strings.Index(split, plain)
		if at >= 0 && len(split) == len(text) {
			f = restore(f, text[at:at+len(plain)])
		}
		if at < 0 || hasWord(split[:at]) {
			f = ellipsis + f
		}
		if at < 0 || hasWord(split[at+len(plain):]) {
			f += ellipsis
		}
		frags[i] = f
	}
	return strings.Join(frags, " ")
}

// hasWord reports whether s holds a letter or a digit.
func hasWord(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// restore returns the fragment f (text with markers) with its text
// replaced, byte for byte, by orig.
func restore(f, orig string) string {
	var b strings.Builder
	j := 0
	for i := 0; i < len(f); i++ {
		switch {
		case strings.HasPrefix(f[i:], searchdb.MarkStart), strings.HasPrefix(f[i:], searchdb.MarkEnd):
			b.WriteByte(f[i])
		case j < len(orig):
			b.WriteByte(orig[j])
			j++
		}
	}
	return b.String()
}
