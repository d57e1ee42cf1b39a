-- +goose Up
-- Search (see search.go and vectors.go).
--
-- Full-text: a collection configured for text search has three more
-- columns in its documents table (added and dropped with the
-- configuration): search_tsv, the weighted tsvector of its searchable
-- fields; search_text, the same fields' text for pg_trgm's typo-tolerant
-- match; search_gen, the generation of the configuration the row was
-- indexed under. A trigger (basalt_search_index) fills them on every insert
-- and every update of data, reading the configuration from search_builds,
-- so no field name, weight or language ever becomes SQL text.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One row per collection configured for full-text search: its
-- configuration (field paths in sorted order, their weights A–D, the
-- language) and the build of its index under that configuration: rows with
-- an id up to last_id have been indexed again since the configuration's
-- generation began; done when every row has been.
CREATE TABLE search_builds (
    collection text      COLLATE "C" PRIMARY KEY,
    fields     text[]    NOT NULL,
    weights    "char"[]  NOT NULL,
    language   regconfig NOT NULL,
    generation bigint    NOT NULL,
    last_id    text      COLLATE "C" NOT NULL DEFAULT '',
    done       boolean   NOT NULL
);

-- The vectors embedders computed: one per document and vector field, as
-- float32 little-endian bytes. Rows leave with their document (trigger
-- basalt_search_vectors_delete), with their collection, and when their
-- field leaves the configuration.
CREATE TABLE search_vectors (
    collection  text   COLLATE "C" NOT NULL,
    field       text   COLLATE "C" NOT NULL,
    document_id text   COLLATE "C" NOT NULL,
    version     bigint NOT NULL,
    hash        bytea  NOT NULL,
    vector      bytea  NOT NULL,
    PRIMARY KEY (collection, field, document_id)
);
CREATE INDEX search_vectors_document ON search_vectors (collection, document_id);

-- basalt_search_field returns the searchable text of the data path (dotted)
-- of a document: a string, or the strings of an array joined by blank
-- lines; NULL for any other value or a missing one.
-- +goose StatementBegin
CREATE FUNCTION basalt_search_field(data jsonb, path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'string' THEN v #>> '{}'
        WHEN 'array' THEN (SELECT string_agg(e #>> '{}', E'\n\n' ORDER BY i)
            FROM jsonb_array_elements(v) WITH ORDINALITY AS a(e, i) WHERE jsonb_typeof(e) = 'string')
    END
    FROM (SELECT data #> string_to_array(path, '.') AS v) AS s
$$;
-- +goose StatementEnd

-- basalt_search_text returns the text of the fields, joined by blank lines
-- in the order given.
-- +goose StatementBegin
CREATE FUNCTION basalt_search_text(data jsonb, fields text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(t, E'\n\n' ORDER BY i)
    FROM unnest(fields) WITH ORDINALITY AS f(p, i), basalt_search_field(data, p) AS t
    WHERE t IS NOT NULL
$$;
-- +goose StatementEnd

-- basalt_search_split returns text with each '/', '.', '@' or ':' between
-- two letters or digits replaced by a space, so that the parser reads
-- net/http, index.html or go.dev as separate words (as SQLite's unicode61
-- tokenizer does) instead of one file, host or URL token. The text keeps
-- its length, so positions in it are positions in the original.
-- +goose StatementBegin
CREATE FUNCTION basalt_search_split(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(t, '(?<=[[:alnum:]])[/.@:](?=[[:alnum:]])', ' ', 'g')
$$;
-- +goose StatementEnd

-- basalt_search_tsv returns the tsvector of the fields, each field's
-- lexemes weighted by the weight at the same index.
-- +goose StatementBegin
CREATE FUNCTION basalt_search_tsv(data jsonb, fields text[], weights "char"[], lang regconfig) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    v tsvector := ''::tsvector;
    t text;
BEGIN
    FOR i IN 1 .. coalesce(array_length(fields, 1), 0) LOOP
        t := basalt_search_field(data, fields[i]);
        IF t IS NOT NULL THEN
            v := v || setweight(to_tsvector(lang, basalt_search_split(t)), weights[i]);
        END IF;
    END LOOP;
    RETURN v;
END
$$;
-- +goose StatementEnd

-- basalt_search_index is the BEFORE INSERT OR UPDATE OF data trigger of a
-- documents table configured for text search; its argument is the
-- collection's name.
-- +goose StatementBegin
CREATE FUNCTION basalt_search_index() RETURNS trigger
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

-- basalt_search_vectors_delete is the AFTER DELETE trigger of a documents
-- table with vector fields: the document's vectors leave with it.
-- +goose StatementBegin
CREATE FUNCTION basalt_search_vectors_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_vectors WHERE collection = TG_ARGV[0] AND document_id = OLD.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION basalt_search_vectors_delete() CASCADE;
DROP FUNCTION basalt_search_index() CASCADE;
DROP FUNCTION basalt_search_tsv(jsonb, text[], "char"[], regconfig);
DROP FUNCTION basalt_search_text(jsonb, text[]);
DROP FUNCTION basalt_search_field(jsonb, text);
DROP FUNCTION basalt_search_split(text);
DROP TABLE search_vectors;
DROP TABLE search_builds;
