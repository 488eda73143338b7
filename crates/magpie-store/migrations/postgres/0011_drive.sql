-- Same meaning as migrations/sqlite/0011_drive.sql.
CREATE TABLE drive_entries (
    id         TEXT     PRIMARY KEY,
    owner      BIGINT   NOT NULL REFERENCES users(id),
    parent     TEXT,
    name       TEXT     NOT NULL,
    name_key   TEXT     NOT NULL,
    file_id    TEXT     REFERENCES files(id),
    size       BIGINT   NOT NULL,
    state      SMALLINT NOT NULL,
    home       TEXT,
    trashed_at BIGINT,
    created_at BIGINT   NOT NULL,
    updated_at BIGINT   NOT NULL
);
CREATE UNIQUE INDEX drive_names ON drive_entries (owner, parent, name);
CREATE INDEX drive_parent ON drive_entries (parent);
CREATE INDEX drive_subfolders ON drive_entries (parent, file_id);
CREATE INDEX drive_bin ON drive_entries (state, trashed_at);
CREATE INDEX drive_recent ON drive_entries (owner, created_at);
CREATE INDEX drive_file ON drive_entries (file_id);

CREATE TABLE drive_shares (
    id             TEXT   PRIMARY KEY,
    owner          BIGINT NOT NULL REFERENCES users(id),
    entry_id       TEXT   NOT NULL REFERENCES drive_entries(id),
    code           TEXT   NOT NULL,
    expires_at     BIGINT,
    max_downloads  BIGINT,
    downloads      BIGINT NOT NULL,
    saves          BIGINT NOT NULL,
    failures       BIGINT NOT NULL,
    failure_window BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX drive_shares_owner ON drive_shares (owner, created_at);
CREATE INDEX drive_shares_entry ON drive_shares (entry_id);

ALTER TABLE users ADD COLUMN quota_bytes BIGINT;
