-- Files: content stored once by its SHA-256 (`blobs`, reference-counted by
-- the `files` rows that use it), the files people uploaded or sent
-- (`files`), and resumable uploads in progress (`uploads`, tus).
--
-- A blob's bytes live in the blob storage under `storage_key`, which is
-- unique to this row (the hash plus a random suffix): when the last
-- reference goes, the row is deleted first and the bytes after, so a new
-- upload of the same content, which writes under a new key, can never
-- lose its bytes to that deletion. Bytes whose row is gone (a crash
-- between the two steps) are found by the orphan sweep.
CREATE TABLE blobs (
    sha256      BLOB    PRIMARY KEY,
    storage_key TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    mime        TEXT    NOT NULL,
    media       TEXT,
    thumb_key   TEXT,
    refs        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX blobs_key ON blobs (storage_key);

-- One file as someone sees it: a name over a blob. `purpose` says what
-- holds it (1 an upload in its owner's list, 2 a message in conversation
-- `conv_id` at `seq`, 3 an avatar), and so who may read it.
CREATE TABLE files (
    id         TEXT    PRIMARY KEY,
    owner      INTEGER NOT NULL REFERENCES users(id),
    sha256     BLOB    NOT NULL REFERENCES blobs(sha256),
    name       TEXT    NOT NULL,
    purpose    INTEGER NOT NULL,
    conv_id    INTEGER REFERENCES conversations(id),
    seq        INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX files_owner ON files (owner, purpose, id);
CREATE INDEX files_conv ON files (conv_id, seq);
CREATE INDEX files_blob ON files (sha256);

-- A tus upload. `received` is the byte the server has durably stored (the
-- staged bytes past it are discarded on resume); `file_id` is set once
-- complete, and the row stays until `expires_at` so a client resuming a
-- finished upload is told it is finished.
CREATE TABLE uploads (
    id         TEXT    PRIMARY KEY,
    owner      INTEGER NOT NULL REFERENCES users(id),
    total_size INTEGER NOT NULL,
    received   INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    file_id    TEXT
);
CREATE INDEX uploads_owner ON uploads (owner);
CREATE INDEX uploads_expiry ON uploads (expires_at);

-- Secrets every node of a cluster must share (the key that signs download
-- URLs and instant-upload challenges): the first node to start makes one.
CREATE TABLE server_secrets (
    name   TEXT NOT NULL PRIMARY KEY,
    secret BLOB NOT NULL
);
