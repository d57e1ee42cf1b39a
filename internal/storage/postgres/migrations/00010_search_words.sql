-- +goose Up
-- The vocabulary of each collection's text index (search.go): the words of
-- its searchable fields, lower-cased and unstemmed, as the 'simple'
-- configuration reads them. A typo-tolerant query looks its words up here
-- with pg_trgm (a small trigram index over distinct words), then finds the
-- documents holding the similar words through the tsvector's GIN index,
-- instead of comparing trigrams against every document's whole text.
--
-- Words are added in the transaction of each write that brings a new one
-- (trigger basalt_search_index). The table has no unique key, so that no
-- write ever waits for another that is adding the same word: two
-- transactions that add it at once may both insert it, and readers take
-- each word once. Words leave with the collection or its text
-- configuration; a word no document holds any more stays until then (it
-- only ever adds an alternative that matches nothing).
CREATE TABLE search_words (
    collection text NOT NULL,
    word       text NOT NULL
);
CREATE INDEX search_words_collection ON search_words (collection, word);
CREATE INDEX search_words_trgm ON search_words USING gin (word gin_trgm_ops);

-- basalt_search_words returns the distinct words of a text, as the
-- vocabulary holds them: lower-cased, split as the tsvector is
-- (basalt_search_split), at most 64 characters (longer ones are hashes,
-- keys and URLs, not words anyone misspells).
-- +goose StatementBegin
CREATE FUNCTION basalt_search_words(t text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple', basalt_search_split(t)))) AS w
    WHERE length(w) <= 64
$$;
-- +goose StatementEnd

-- basalt_search_index (migration 00009) now also adds the new words of the
-- row's searchable text to the collection's vocabulary. Each word is looked
-- up on its own (the LATERAL subquery runs once per word, by the (collection,
-- word) index): a join of the row's words with the vocabulary, planned
-- while the vocabulary was small, would read all of the collection's words
-- for every later row.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION basalt_search_index() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    SELECT fields, weights, language, generation INTO c FROM search_builds WHERE collection = TG_ARGV[0];
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    NEW.search_tsv := basalt_search_tsv(NEW.data, c.fields, c.weights, c.language);
    NEW.search_text := basalt_search_text(NEW.data, c.fields);
    NEW.search_gen := c.generation;
    IF NEW.search_text IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.search_text IS DISTINCT FROM OLD.search_text) THEN
        INSERT INTO search_words (collection, word)
        SELECT TG_ARGV[0], w.w FROM basalt_search_words(NEW.search_text) AS w(w)
        LEFT JOIN LATERAL (SELECT true AS found FROM search_words AS s
            WHERE s.collection = TG_ARGV[0] AND s.word = w.w LIMIT 1) AS s ON true
        WHERE s.found IS NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- The vocabulary of the collections configured before this migration, and
-- the trigram indexes over their whole text, which typo-tolerant queries
-- no longer read.
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT t.tgrelid::regclass AS tbl, convert_from(substring(t.tgargs FROM 1 FOR position('\x00'::bytea IN t.tgargs) - 1), 'UTF8') AS collection
        FROM pg_trigger t WHERE t.tgname = 'basalt_search' AND NOT t.tgisinternal
    LOOP
        EXECUTE format('INSERT INTO search_words (collection, word) SELECT DISTINCT %L, w FROM %s AS d, basalt_search_words(d.search_text) AS w',
            r.collection, r.tbl);
    END LOOP;
    FOR r IN SELECT i.indexrelid::regclass AS idx FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname LIKE 'sx\_trg\_%' AND c.relnamespace = current_schema()::regnamespace
    LOOP
        EXECUTE format('DROP INDEX %s', r.idx);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The trigram indexes dropped above are not created again: typo-tolerant
-- queries of the earlier version run without them, only slower.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION basalt_search_index() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    SELECT fields, weights, language, generation INTO c FROM search_builds WHERE collection = TG_ARGV[0];
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    NEW.search_tsv := basalt_search_tsv(NEW.data, c.fields, c.weights, c.language);
    NEW.search_text := basalt_search_text(NEW.data, c.fields);
    NEW.search_gen := c.generation;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
DROP FUNCTION basalt_search_words(text);
DROP TABLE search_words;
