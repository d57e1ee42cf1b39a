package sqlite

// SearchText: full-text queries over the indexes of search.go.
//
// Exact queries: the web-search query (internal/search/websearch, with
// the language's stop words left out as PostgreSQL leaves them out) is
// rendered as an FTS5 MATCH expression of quoted terms, so no FTS5 syntax
// of the caller's can reach the engine, and bound as a parameter.
//
// Score. bm25() would rank well but depends on the whole collection (the
// number of documents, the frequency of each term, the average length),
// so every write anywhere would change every hit's score and a relevance
// cursor ([Score, id]) could skip or repeat hits between pages; and
// counting matches with highlight() tokenizes every matching document
// again (a third of a second for a word in most of 10,000 documents). The
// score is therefore the document's own, from posting lists only: for each
// field and each positive term of the query, the field's rank weight (0.1,
// 0.2, 0.4, 1.0 for weights 1 to 4, ts_rank_cd's defaults) if the field
// holds the term, summed and divided by 1 + ln(1 + the length of the
// text), as ts_rank_cd's normalization 1 divides by 1 + log(length). It is
// the same double for the same document and query every time. Unlike
// ts_rank_cd it does not count repeats or proximity.
//
// Fuzzy queries: candidates are the documents whose trigram index shares
// a trigram with one of the query's words, the fuzzyCandidates best by
// bm25 of the trigram index; each is then matched exactly as pg_trgm
// matches on PostgreSQL (websearch.WordSimilarity): per OR group, each
// word of three or more letters that is not a stop word of the language
// (a query of stop words finds nothing, typos or not) must match one of
// the text's words (the fields joined): as it is when shorter than five
// letters, otherwise with a word_similarity of 0.5 or more, or one typo
// away (two from nine letters on) (websearch.Similar); the group's exclusions must not match
// exactly. The score is the best group's average, over its words, of the
// word's greatest weighted similarity to one field (similarity × 0.1 …
// 1.0). The bound makes a fuzzy query on a large collection miss
// documents past the candidates; it only ever serves as the fallback of a
// query that found too little.
//
// Filters, sort orders and keysets compile with the list compiler
// (compile.go) over the documents table joined to the hits, so a filter
// or rule is applied by SQLite before the limit.

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/basaltdev/basalt/internal/fault"
	"github.com/basaltdev/basalt/internal/query"
	"github.com/basaltdev/basalt/internal/search/searchdb"
	"github.com/basaltdev/basalt/internal/search/websearch"
)

// fuzzyCandidates bounds the documents a fuzzy query scores (see the
// file comment); snippetTokens is the length of a highlight.
const (
	fuzzyCandidates = 2000
	snippetTokens   = 24
)

// weightFactor is the rank weight of a field weight, 1..4.
func weightFactor(w int) float64 {
	return [...]float64{0, 0.1, 0.2, 0.4, 1.0}[w]
}

// scoreSQL is the expression of a hit's score in a query on the word
// index table, and its arguments (see the file comment): for each field
// and each positive term of the query, whether the field holds the term,
// read from the term's posting list (a column-filtered MATCH, evaluated
// once per statement), never by tokenizing a document again.
func (ix textIndex) scoreSQL(parsed websearch.Query) (string, []any) {
	// The expression runs in "FROM <words> JOIN <lengths> ON rid = rowid".
	var terms []string
	seen := map[string]bool{}
	for _, g := range parsed.Groups {
		for _, t := range g.Terms {
			if t.Exclude {
				continue
			}
			one := websearch.Query{Groups: []websearch.Group{{Terms: []websearch.Term{t}}}}.FTS5()
			if !seen[strings.ToLower(one)] {
				seen[strings.ToLower(one)] = true
				terms = append(terms, one)
			}
		}
	}
	var num []string
	var args []any
	for i, c := range ix.columns() {
		var has []string
		for _, term := range terms {
			has = append(has, "("+ix.words+".rowid IN (SELECT rowid FROM "+ix.words+" WHERE "+ix.words+" MATCH ?))")
			args = append(args, "{"+c+"} : "+term)
		}
		num = append(num, strconv.FormatFloat(weightFactor(ix.weights[i]), 'f', 1, 64)+" * ("+strings.Join(has, " + ")+")")
		_ = c
	}
	return "((" + strings.Join(num, " + ") + ") / (1.0 + ln(1.0 + " + ix.lengths + ".len)))", args
}

// hit is a document a query matched, with its rowid in the indexes.
type hit struct {
	rowid int64
	searchdb.TextHit
}

// SearchText runs a full-text query.
func (s *Store) SearchText(ctx context.Context, q searchdb.TextQuery) ([]searchdb.TextHit, error) {
	const op = "sqlite.SearchText"
	parsed, err := websearch.Parse(q.Query)
	if err != nil {
		return nil, err
	}
	if q.Sort == nil && q.After != nil {
		if q.After, err = relevanceAfter(op, q.After); err != nil {
			return nil, err
		}
	}
	// One read transaction: the configuration and the index it describes
	// are read from the same snapshot.
	rtx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer func() { _ = rtx.Rollback() }()
	c, err := getCollection(ctx, rtx, q.Collection)
	if err != nil {
		return nil, err
	}
	cfg, err := textConfig(op, c)
	if err != nil {
		return nil, err
	}
	ix, err := newTextIndex(op, c.Name, cfg)
	if err != nil {
		return nil, err
	}
	var hits []hit
	if q.Fuzzy {
		hits, err = s.searchFuzzy(ctx, rtx, ix, parsed, q)
	} else {
		lang := textLanguage(cfg)
		parsed = parsed.WithoutWords(func(w string) bool { return websearch.StopWord(lang, w) })
		hits, err = s.searchExact(ctx, rtx, ix, parsed, q)
	}
	if err != nil {
		return nil, err
	}
	out := make([]searchdb.TextHit, len(hits))
	for i, h := range hits {
		out[i] = h.TextHit
	}
	return out, nil
}

// relevanceAfter checks a relevance keyset: [Score, id].
func relevanceAfter(op string, after []any) ([]any, error) {
	if len(after) != 2 {
		return nil, fault.New(fault.Invalid, op, "cursor does not match the relevance order")
	}
	var score float64
	switch v := after[0].(type) {
	case float64:
		score = v
	case float32:
		score = float64(v)
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, fault.New(fault.Invalid, op, "invalid cursor score")
		}
		score = f
	default:
		return nil, fault.New(fault.Invalid, op, "invalid cursor score")
	}
	id, ok := after[1].(string)
	if !ok || math.IsNaN(score) || math.IsInf(score, 0) {
		return nil, fault.New(fault.Invalid, op, "invalid cursor position")
	}
	return []any{score, id}, nil
}

// searchExact runs an exact (FTS5) query.
func (s *Store) searchExact(ctx context.Context, rtx *sql.Tx, ix textIndex, parsed websearch.Query, q searchdb.TextQuery) ([]hit, error) {
	const op = "sqlite.SearchText"
	if parsed.Empty() {
		return nil, nil
	}
	match := parsed.FTS5()
	score, scoreArgs := ix.scoreSQL(parsed)
	var src hitSource
	if q.Sort == nil {
		src = hitSource{
			head: "WITH h AS MATERIALIZED (SELECT " + ix.words + ".rowid AS rid, " + score + " AS score FROM " +
				ix.words + " JOIN " + ix.lengths + " ON " + ix.lengths + ".rid = " + ix.words + ".rowid WHERE " +
				ix.words + " MATCH ?) SELECT h.rid, " + docColumns + ", h.score FROM h JOIN " +
				ix.docs + " AS d ON d.rowid = h.rid",
			args: append(scoreArgs, match),
		}
	} else {
		src = hitSource{
			head: "SELECT " + ix.words + ".rowid, " + docColumns + ", 0.0 FROM " + ix.words + " JOIN " + ix.docs +
				" AS d ON d.rowid = " + ix.words + ".rowid",
			where: ix.words + " MATCH ?",
			args:  []any{match},
		}
	}
	hits, err := s.page(ctx, rtx, op, ix, src, q)
	if err != nil || len(hits) == 0 {
		return hits, err
	}
	if hits, err = s.checkRowids(ctx, rtx, ix, hits); err != nil || len(hits) == 0 {
		return hits, err
	}
	if q.Sort != nil {
		if err := s.pageScores(ctx, rtx, ix, score, scoreArgs, hits); err != nil {
			return nil, err
		}
	}
	return hits, s.highlights(ctx, rtx, ix, match, q, hits)
}

// checkRowids keeps the hits whose row in the word index is their
// document's (see search.go: the index is joined to the documents by
// rowid; a renumbered rowid must hide a hit, never show another document).
func (s *Store) checkRowids(ctx context.Context, rtx *sql.Tx, ix textIndex, hits []hit) ([]hit, error) {
	const op = "sqlite.SearchText"
	ids := make([]int64, len(hits))
	for i, h := range hits {
		ids[i] = h.rowid
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fault.Internalf(op, err)
	}
	rows, err := rtx.QueryContext(ctx, "SELECT rowid, doc FROM "+ix.words+" WHERE rowid IN (SELECT value FROM json_each(?))", string(list))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	owner := make(map[int64]string, len(hits))
	for rows.Next() {
		var rowid int64
		var id string
		if err := rows.Scan(&rowid, &id); err != nil {
			return nil, mapErr(op, err)
		}
		owner[rowid] = id
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return slices.DeleteFunc(hits, func(h hit) bool { return owner[h.rowid] != h.Document.ID }), nil
}

// pageScores computes the scores of a sorted page's hits.
func (s *Store) pageScores(ctx context.Context, rtx *sql.Tx, ix textIndex, score string, args []any, hits []hit) error {
	const op = "sqlite.SearchText"
	ids := make([]int64, len(hits))
	at := make(map[int64]int, len(hits))
	for i, h := range hits {
		ids[i] = h.rowid
		at[h.rowid] = i
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return fault.Internalf(op, err)
	}
	rows, err := rtx.QueryContext(ctx, "SELECT "+ix.words+".rowid, "+score+" FROM "+ix.words+" JOIN "+ix.lengths+
		" ON "+ix.lengths+".rid = "+ix.words+".rowid WHERE "+ix.words+".rowid IN (SELECT value FROM json_each(?))",
		append(slices.Clone(args), string(list))...)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var rowid int64
		var sc float64
		if err := rows.Scan(&rowid, &sc); err != nil {
			return mapErr(op, err)
		}
		if i, ok := at[rowid]; ok {
			hits[i].Score = sc
		}
	}
	return mapErr(op, rows.Err())
}

// highlights fills in the highlights of a page's hits of an exact query.
func (s *Store) highlights(ctx context.Context, rtx *sql.Tx, ix textIndex, match string, q searchdb.TextQuery, hits []hit) error {
	const op = "sqlite.SearchText"
	cols := highlightColumns(ix, q.Highlight)
	if len(cols) == 0 {
		return nil
	}
	var sel []string
	for _, i := range cols {
		sel = append(sel, "snippet("+ix.words+", "+strconv.Itoa(i+1)+", char(2), char(3), '…', "+
			strconv.Itoa(snippetTokens)+")")
	}
	stmt, err := rtx.PrepareContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+ix.words+
		" WHERE "+ix.words+" MATCH ? AND rowid = ?")
	if err != nil {
		return mapErr(op, err)
	}
	defer stmt.Close()
	for i := range hits {
		h := &hits[i]
		snippets := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for j := range cols {
			dest[j] = &snippets[j]
		}
		if err := stmt.QueryRowContext(ctx, match, h.rowid).Scan(dest...); err != nil {
			return mapErr(op, err)
		}
		for j, col := range cols {
			if sn := snippets[j].String; strings.Contains(sn, searchdb.MarkStart) {
				if h.Highlights == nil {
					h.Highlights = map[string]string{}
				}
				h.Highlights[ix.fields[col]] = sn
			}
		}
	}
	return nil
}

// highlightColumns returns the column numbers of the searchable fields
// among fields, in column order.
func highlightColumns(ix textIndex, fields []string) []int {
	var out []int
	for i, f := range ix.fields {
		for _, want := range fields {
			if want == f {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// hitSource is the start of a page query: "SELECT rowid, docColumns,
// score FROM … JOIN docs AS d …", an optional condition of its own and
// the arguments of both.
type hitSource struct {
	head  string
	where string
	args  []any
}

// page runs the page query of src: with the filter, in relevance or sort
// order after the keyset, up to the limit.
func (s *Store) page(ctx context.Context, rtx *sql.Tx, op string, ix textIndex, src hitSource, q searchdb.TextQuery) ([]hit, error) {
	queries, err := compilePage(src, q)
	if err != nil {
		return nil, err
	}
	var out []hit
	for _, pq := range queries {
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
		if q.Limit > 0 {
			pq.args[len(pq.args)-1] = int64(q.Limit - len(out))
		}
		rows, err := rtx.QueryContext(ctx, pq.text, pq.args...)
		if err != nil {
			return nil, mapErr(op, err)
		}
		for rows.Next() {
			var h hit
			var created, updated int64
			var data []byte
			h.Document.Collection = ix.collection
			if err := rows.Scan(&h.rowid, &h.Document.ID, &h.Document.Version, &created, &updated, &data, &h.Score); err != nil {
				rows.Close()
				return nil, mapErr(op, err)
			}
			h.Document.CreatedAt, h.Document.UpdatedAt = fromMicros(created), fromMicros(updated)
			h.Document.Data = json.RawMessage(data)
			out = append(out, h)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr(op, err)
		}
	}
	return out, nil
}

// compilePage returns the queries of a page, as compileList does for a
// list: by relevance (h.score descending, id ascending), one query; in a
// sort order, one or two (see compileList).
func compilePage(src hitSource, q searchdb.TextQuery) ([]listQuery, error) {
	start := func(b *builder) error {
		b.w(src.head)
		b.args = append(b.args, src.args...)
		var conds []string
		if src.where != "" {
			conds = append(conds, src.where)
		}
		first := true
		for _, c := range conds {
			b.w(map[bool]string{true: " WHERE ", false: " AND "}[first], c)
			first = false
		}
		if q.Filter != nil {
			b.w(map[bool]string{true: " WHERE (", false: " AND ("}[first])
			first = false
			if err := b.expr(q.Filter, false); err != nil {
				return err
			}
			b.w(")")
		}
		if first {
			b.w(" WHERE 1")
		}
		return nil
	}
	if q.Sort == nil {
		var b builder
		if err := start(&b); err != nil {
			return nil, err
		}
		if q.After != nil {
			b.w(" AND (h.score < ")
			b.bind(q.After[0])
			b.w(" OR (h.score = ")
			b.bind(q.After[0])
			b.w(" AND id > ")
			b.bind(q.After[1])
			b.w("))")
		}
		b.w(" ORDER BY h.score DESC, id")
		b.w(" LIMIT ")
		b.bind(int64(q.Limit))
		if q.Limit <= 0 {
			b.args[len(b.args)-1] = int64(-1)
		}
		return []listQuery{{text: b.sql.String(), args: b.args}}, nil
	}
	keys := q.Sort
	if n := len(keys); n == 0 || keys[n-1].Field.System != query.SystemID {
		keys = append(keys[:n:n], query.SortKey{Field: query.Field{System: query.SystemID, Type: query.TypeString}})
	}
	exprs := make([]string, len(keys))
	for i, k := range keys {
		var err error
		if exprs[i], _, err = fieldSQL(k.Field); err != nil {
			return nil, err
		}
	}
	var after []any
	if q.After != nil {
		if len(q.After) != len(keys) {
			return nil, fault.New(fault.Invalid, compileOp, "cursor does not match the sort order")
		}
		after = make([]any, len(q.After))
		for i, a := range q.After {
			if a == nil {
				continue
			}
			var err error
			if after[i], err = bindAfter(a); err != nil {
				return nil, err
			}
		}
	}
	nullTail := after != nil && keys[0].Desc && after[0] != nil && keys[0].Field.System == query.SystemNone
	var out []listQuery
	for pass := 0; pass < 2; pass++ {
		var b builder
		if err := start(&b); err != nil {
			return nil, err
		}
		switch {
		case pass == 1:
			b.w(" AND ", exprs[0], " IS NULL")
		case after != nil:
			b.w(" AND ")
			b.keyset(keys, exprs, after)
		}
		b.w(" ORDER BY ")
		for i, k := range keys {
			if pass == 1 && i == 0 {
				continue
			}
			if i > pass {
				b.w(", ")
			}
			b.w(exprs[i])
			if k.Desc {
				b.w(" DESC")
			}
		}
		b.w(" LIMIT ")
		b.bind(int64(q.Limit))
		if q.Limit <= 0 {
			b.args[len(b.args)-1] = int64(-1)
		}
		out = append(out, listQuery{text: b.sql.String(), args: b.args})
		if !nullTail {
			break
		}
	}
	return out, nil
}

// fuzzyGroup is one OR group of a fuzzy query.
type fuzzyGroup struct {
	words   []string // lower-cased, of fuzzyMinRunes or more
	exclude string   // FTS5 expression of its exclusions, "" when none
}

// searchFuzzy runs a typo-tolerant query (see the file comment).
func (s *Store) searchFuzzy(ctx context.Context, rtx *sql.Tx, ix textIndex, parsed websearch.Query, q searchdb.TextQuery) ([]hit, error) {
	const op = "sqlite.SearchText"
	lang := ix.language
	var groups []fuzzyGroup
	trigrams := map[string]bool{}
	var tris []string
	for _, g := range parsed.Groups {
		var fg fuzzyGroup
		seen := map[string]bool{}
		var neg []websearch.Term
		for _, t := range g.Terms {
			if t.Exclude {
				neg = append(neg, t)
				continue
			}
			for _, w := range t.Words {
				w = strings.ToLower(w)
				if utf8.RuneCountInString(w) >= websearch.FuzzyMinRunes && !seen[w] && !websearch.StopWord(lang, w) {
					seen[w] = true
					fg.words = append(fg.words, w)
				}
			}
		}
		if len(fg.words) == 0 {
			continue
		}
		if len(neg) > 0 {
			ex := websearch.Query{Groups: []websearch.Group{{Terms: neg}}}
			for i := range ex.Groups[0].Terms {
				ex.Groups[0].Terms[i].Exclude = false
			}
			ex = ex.WithoutWords(func(w string) bool { return websearch.StopWord(lang, w) })
			// Each excluded term alone: any of them excludes.
			var alts []string
			if !ex.Empty() {
				for _, t := range ex.Groups[0].Terms {
					alts = append(alts, websearch.Query{Groups: []websearch.Group{{Terms: []websearch.Term{t}}}}.FTS5())
				}
			}
			fg.exclude = strings.Join(alts, " OR ")
		}
		groups = append(groups, fg)
		for _, w := range fg.words {
			r := []rune(w)
			var tgs []string
			for i := 0; i+3 <= len(r); i++ {
				tgs = append(tgs, string(r[i:i+3]))
			}
			// The trigram index holds the text's spaces too: a blank and
			// the word's first two letters find the words that begin so,
			// which a typo in the middle of a short word leaves with no
			// trigram of its own in common ("abxde" and "abcde").
			if len(r) >= websearch.FuzzyExactRunes {
				tgs = append(tgs, " "+string(r[:2]))
			}
			for _, tg := range tgs {
				if !trigrams[tg] {
					trigrams[tg] = true
					tris = append(tris, `"`+strings.ReplaceAll(tg, `"`, `""`)+`"`)
				}
			}
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	cols := ix.columns()
	rows, err := rtx.QueryContext(ctx, "SELECT f.rowid, f.doc, f."+strings.Join(cols, ", f.")+
		" FROM (SELECT rowid AS rid FROM "+ix.trigrams+" WHERE "+ix.trigrams+" MATCH ? ORDER BY rank LIMIT ?) AS k JOIN "+
		ix.words+" AS f ON f.rowid = k.rid", strings.Join(tris, " OR "), fuzzyCandidates)
	if err != nil {
		return nil, mapErr(op, err)
	}
	type candidate struct {
		rowid  int64
		id     string
		fields []sql.NullString
		score  []float64 // per group; < 0: no match
	}
	var cands []*candidate
	for rows.Next() {
		c := &candidate{fields: make([]sql.NullString, len(cols))}
		dest := []any{&c.rowid, &c.id}
		for i := range c.fields {
			dest = append(dest, &c.fields[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, mapErr(op, err)
		}
		cands = append(cands, c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, mapErr(op, err)
	}
	memo := map[string]map[string]bool{} // query word → text word → Similar
	for _, c := range cands {
		text := websearch.NewText(fuzzyText(c.fields))
		fields := make([]*websearch.Text, len(c.fields))
		c.score = make([]float64, len(groups))
		for gi, g := range groups {
			sum := 0.0
			for _, w := range g.words {
				// The word must match one word of the text, as on
				// PostgreSQL (whose vocabulary holds words).
				if memo[w] == nil {
					memo[w] = map[string]bool{}
				}
				if !text.HasSimilar(w, memo[w]) {
					sum = -1
					break
				}
				sum += weightedSimilarity(ix, fields, c.fields, w)
			}
			if sum < 0 {
				c.score[gi] = -1
			} else {
				c.score[gi] = sum / float64(len(g.words))
			}
		}
	}
	// Exclusions: a group's exclusion matched exactly drops the group.
	for gi, g := range groups {
		if g.exclude == "" {
			continue
		}
		var ids []int64
		for _, c := range cands {
			if c.score[gi] >= 0 {
				ids = append(ids, c.rowid)
			}
		}
		if len(ids) == 0 {
			continue
		}
		list, err := json.Marshal(ids)
		if err != nil {
			return nil, fault.Internalf(op, err)
		}
		rows, err := rtx.QueryContext(ctx, "SELECT rowid FROM "+ix.words+" WHERE "+ix.words+
			" MATCH ? AND rowid IN (SELECT value FROM json_each(?))", g.exclude, string(list))
		if err != nil {
			return nil, mapErr(op, err)
		}
		excluded := map[int64]bool{}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, mapErr(op, err)
			}
			excluded[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr(op, err)
		}
		for _, c := range cands {
			if excluded[c.rowid] {
				c.score[gi] = -1
			}
		}
	}
	var b builder
	b.w("WITH h(rid, hid, score) AS (VALUES ")
	n := 0
	byRowid := map[int64]*candidate{}
	for _, c := range cands {
		best := -1.0
		for _, sc := range c.score {
			best = max(best, sc)
		}
		if best < 0 {
			continue
		}
		if n > 0 {
			b.w(", ")
		}
		n++
		b.w("(")
		b.bind(c.rowid)
		b.w(", ")
		b.bind(c.id)
		b.w(", ")
		b.bind(best)
		b.w(")")
		byRowid[c.rowid] = c
	}
	if n == 0 {
		return nil, nil
	}
	b.w(") SELECT h.rid, " + docColumns + ", h.score FROM h JOIN " + ix.docs + " AS d ON d.rowid = h.rid AND d.id = h.hid")
	hits, err := s.page(ctx, rtx, op, ix, hitSource{head: b.sql.String(), args: b.args}, q)
	if err != nil {
		return nil, err
	}
	hl := highlightColumns(ix, q.Highlight)
	for i := range hits {
		h := &hits[i]
		c := byRowid[h.rowid]
		var words []string
		for gi, g := range groups {
			if c.score[gi] >= 0 {
				words = append(words, g.words...)
			}
		}
		for _, col := range hl {
			if !c.fields[col].Valid {
				continue
			}
			sn, ok := websearch.MarkSimilar(c.fields[col].String, words, snippetTokens,
				searchdb.MarkStart, searchdb.MarkEnd)
			if ok {
				if h.Highlights == nil {
					h.Highlights = map[string]string{}
				}
				h.Highlights[ix.fields[col]] = sn
			}
		}
	}
	return hits, nil
}

// weightedSimilarity is a fuzzy word's score in a document: the greatest,
// over the fields, of its similarity to the field's text times the field's
// rank weight (0.1 to 1.0), so that a word of the title outranks the same
// word in the body. texts caches the prepared texts of values.
func weightedSimilarity(ix textIndex, texts []*websearch.Text, values []sql.NullString, word string) float64 {
	best := 0.0
	for i, v := range values {
		if !v.Valid {
			continue
		}
		if texts[i] == nil {
			texts[i] = websearch.NewText(v.String)
		}
		best = max(best, texts[i].WordSimilarity(word)*weightFactor(ix.weights[i]))
	}
	return best
}

// fuzzyText is the text a fuzzy query compares: the fields' text in
// sorted path order, joined by blank lines (as the trigram index holds it,
// and as PostgreSQL's engine builds it).
func fuzzyText(fields []sql.NullString) string {
	var parts []string
	for _, f := range fields {
		if f.Valid {
			parts = append(parts, f.String)
		}
	}
	return strings.Join(parts, "\n\n")
}

var _ searchdb.Store = (*Store)(nil)
