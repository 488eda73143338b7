-- The full-text search index; same meaning as
-- migrations/sqlite_search/0013_search.sql (on SQLite it is a file of its
-- own). Derived from messages: the indexer fills it from id 0 after this
-- migration, so existing messages become searchable without a backfill
-- step.
CREATE TABLE search_terms (
    term    BIGINT NOT NULL,
    conv_id BIGINT NOT NULL,
    msg_id  BIGINT NOT NULL,
    PRIMARY KEY (term, conv_id, msg_id)
);

CREATE TABLE search_docs (
    msg_id  BIGINT PRIMARY KEY,
    conv_id BIGINT NOT NULL,
    terms   BYTEA  NOT NULL
);

CREATE TABLE search_index (
    id          BIGINT PRIMARY KEY,
    watermark   BIGINT NOT NULL,
    indexed_to  BIGINT NOT NULL,
    holder      TEXT   NOT NULL,
    lease_until BIGINT NOT NULL
);
INSERT INTO search_index (id, watermark, indexed_to, holder, lease_until) VALUES (1, 0, 0, '', 0);
