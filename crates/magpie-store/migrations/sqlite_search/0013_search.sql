-- The full-text search index (issue #13). On SQLite it lives in a file of
-- its own beside the database (magpie-search.db), so that the indexer's
-- writes never take the message database's single write lock: the send
-- path does not wait for indexing. It is derived from the messages and
-- can be deleted (with its -wal and -shm files) while the server is
-- stopped; it is then rebuilt from the first message.

-- One row per distinct term of a message (a 64-bit hash; see
-- crates/magpie-store/src/search/text.rs). The key makes "the newest
-- messages of conversation C holding term T" one range, read backwards.
CREATE TABLE search_terms (
    term    INTEGER NOT NULL,
    conv_id INTEGER NOT NULL,
    msg_id  INTEGER NOT NULL,
    PRIMARY KEY (term, conv_id, msg_id)
) WITHOUT ROWID;

-- The terms each message was indexed with (8 bytes each, little-endian),
-- so that a recall or an edit removes exactly those.
CREATE TABLE search_docs (
    msg_id  INTEGER PRIMARY KEY,
    conv_id INTEGER NOT NULL,
    terms   BLOB    NOT NULL
);

-- The indexer's progress and lease (one row). Every message with an id up
-- to watermark is indexed; indexed_to is the highest indexed (queries scan
-- the entries above it directly). holder/lease_until: the node indexing,
-- so that one node of a cluster indexes at a time.
CREATE TABLE search_index (
    id          INTEGER PRIMARY KEY,
    watermark   INTEGER NOT NULL,
    indexed_to  INTEGER NOT NULL,
    holder      TEXT    NOT NULL,
    lease_until INTEGER NOT NULL
);
INSERT INTO search_index (id, watermark, indexed_to, holder, lease_until) VALUES (1, 0, 0, '', 0);
