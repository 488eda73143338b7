-- The personal drive (网盘): each user's tree of folders and files, the
-- recycle bin, and share links. A drive file is a `files` row of purpose 4
-- owned by the drive's owner, so its content is counted and released by
-- the same reference counting as every other file (see 0009_files.sql).
--
-- The tree is a parent pointer per entry, so moving or deleting a folder
-- of any size changes one row. `parent` is '' for an entry at the top of
-- its owner's drive, and NULL for an entry that is itself in the bin
-- (`state` 1) or being purged (`state` 2); what is inside a binned folder
-- keeps its parent and is hidden with it. So an entry is in the drive
-- exactly when following parents from it reaches '' (see the store's
-- `drive_ancestry`). `home` remembers where a binned entry came from, for
-- restoring it.
--
-- Names are unique among an owner's entries with the same parent (the
-- unique index; NULL parents never clash, so the bin may hold several
-- entries of one name). `name_key` is the name in lower case, for search.
CREATE TABLE drive_entries (
    id         TEXT    PRIMARY KEY,
    owner      INTEGER NOT NULL REFERENCES users(id),
    parent     TEXT,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL,
    file_id    TEXT    REFERENCES files(id),
    size       INTEGER NOT NULL,
    state      INTEGER NOT NULL,
    home       TEXT,
    trashed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX drive_names ON drive_entries (owner, parent, name);
-- A folder's children (listings of a share, the purge's steps, a copy's
-- walk), and its sub-folders (the depth check of a move and a restore).
CREATE INDEX drive_parent ON drive_entries (parent);
CREATE INDEX drive_subfolders ON drive_entries (parent, file_id);
CREATE INDEX drive_bin ON drive_entries (state, trashed_at);
CREATE INDEX drive_recent ON drive_entries (owner, created_at);
CREATE INDEX drive_file ON drive_entries (file_id);

-- A share link over one entry (file or folder). `code` is the extraction
-- code (提取码); it is kept readable because its owner may look it up
-- again, as in every drive product (the link and code together are the
-- credential; the database already holds the shared content itself).
-- `failures` counts wrong codes since `failure_window` began, so guessing
-- is limited per link on every node alike.
CREATE TABLE drive_shares (
    id             TEXT    PRIMARY KEY,
    owner          INTEGER NOT NULL REFERENCES users(id),
    entry_id       TEXT    NOT NULL REFERENCES drive_entries(id),
    code           TEXT    NOT NULL,
    expires_at     INTEGER,
    max_downloads  INTEGER,
    downloads      INTEGER NOT NULL,
    saves          INTEGER NOT NULL,
    failures       INTEGER NOT NULL,
    failure_window INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX drive_shares_owner ON drive_shares (owner, created_at);
CREATE INDEX drive_shares_entry ON drive_shares (entry_id);

-- A per-user storage quota set by an administrator; NULL means the
-- server's configured default.
ALTER TABLE users ADD COLUMN quota_bytes INTEGER;
