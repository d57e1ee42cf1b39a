-- +goose Up
-- The build of each collection's full-text index (search.go): a change of
-- the text configuration recreates the index empty, and BuildText indexes
-- the documents written before it, in id order, from last_id on; done once
-- every one is. generation counts the configuration changes.
CREATE TABLE search_builds (
    collection TEXT    PRIMARY KEY,
    generation INTEGER NOT NULL,
    last_id    TEXT    NOT NULL,
    done       INTEGER NOT NULL
);

-- Vectors an embedder computed (vectors.go): float32 little-endian.
CREATE TABLE search_vectors (
    collection  TEXT    NOT NULL,
    field       TEXT    NOT NULL,
    document_id TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    vector      BLOB    NOT NULL,
    PRIMARY KEY (collection, field, document_id)
);

-- +goose Down
DROP TABLE search_vectors;
DROP TABLE search_builds;
