-- Same meaning as migrations/sqlite/0009_files.sql.
CREATE TABLE blobs (
    sha256      BYTEA  PRIMARY KEY,
    storage_key TEXT   NOT NULL UNIQUE,
    size        BIGINT NOT NULL,
    mime        TEXT   NOT NULL,
    media       TEXT,
    thumb_key   TEXT,
    refs        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE files (
    id         TEXT     PRIMARY KEY,
    owner      BIGINT   NOT NULL REFERENCES users(id),
    sha256     BYTEA    NOT NULL REFERENCES blobs(sha256),
    name       TEXT     NOT NULL,
    purpose    SMALLINT NOT NULL,
    conv_id    BIGINT   REFERENCES conversations(id),
    seq        BIGINT,
    created_at BIGINT   NOT NULL
);
CREATE INDEX files_owner ON files (owner, purpose, id);
CREATE INDEX files_conv ON files (conv_id, seq);
CREATE INDEX files_blob ON files (sha256);

CREATE TABLE uploads (
    id         TEXT   PRIMARY KEY,
    owner      BIGINT NOT NULL REFERENCES users(id),
    total_size BIGINT NOT NULL,
    received   BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    file_id    TEXT
);
CREATE INDEX uploads_owner ON uploads (owner);
CREATE INDEX uploads_expiry ON uploads (expires_at);

CREATE TABLE server_secrets (
    name   TEXT NOT NULL PRIMARY KEY,
    secret BYTEA NOT NULL
);
