-- The full-text search index; same meaning as
-- migrations/sqlite_search/0013_search.sql. MariaDB's own FULLTEXT is not
-- used: it has no n-gram parser (Chinese without spaces is one "word")
-- and ignores words under three characters; the portable terms serve
-- every engine alike.
CREATE TABLE search_terms (
    term    BIGINT NOT NULL,
    conv_id BIGINT NOT NULL,
    msg_id  BIGINT NOT NULL,
    PRIMARY KEY (term, conv_id, msg_id)
) ENGINE = InnoDB;

CREATE TABLE search_docs (
    msg_id  BIGINT     NOT NULL PRIMARY KEY,
    conv_id BIGINT     NOT NULL,
    terms   MEDIUMBLOB NOT NULL
) ENGINE = InnoDB;

CREATE TABLE search_index (
    id          BIGINT      NOT NULL PRIMARY KEY,
    watermark   BIGINT      NOT NULL,
    indexed_to  BIGINT      NOT NULL,
    holder      VARCHAR(64) NOT NULL,
    lease_until BIGINT      NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
INSERT INTO search_index (id, watermark, indexed_to, holder, lease_until) VALUES (1, 0, 0, '', 0);
