-- Same meaning as migrations/sqlite/0011_drive.sql. Ids are VARBINARY and
-- names utf8mb4_bin, so uniqueness and comparison are byte-exact as on
-- the other engines (see 0001_init.sql).
CREATE TABLE drive_entries (
    id         VARBINARY(40) NOT NULL PRIMARY KEY,
    owner      BIGINT        NOT NULL,
    parent     VARBINARY(40) NULL,
    name       VARCHAR(255)  NOT NULL,
    name_key   VARCHAR(255)  NOT NULL,
    file_id    VARBINARY(40) NULL,
    size       BIGINT        NOT NULL,
    state      SMALLINT      NOT NULL,
    home       VARBINARY(40) NULL,
    trashed_at BIGINT        NULL,
    created_at BIGINT        NOT NULL,
    updated_at BIGINT        NOT NULL,
    UNIQUE KEY drive_names (owner, parent, name),
    KEY drive_parent (parent),
    KEY drive_subfolders (parent, file_id),
    KEY drive_bin (state, trashed_at),
    KEY drive_recent (owner, created_at),
    KEY drive_file (file_id),
    CONSTRAINT drive_owner_fk FOREIGN KEY (owner) REFERENCES users(id),
    CONSTRAINT drive_file_fk FOREIGN KEY (file_id) REFERENCES files(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE drive_shares (
    id             VARBINARY(40) NOT NULL PRIMARY KEY,
    owner          BIGINT        NOT NULL,
    entry_id       VARBINARY(40) NOT NULL,
    code           VARCHAR(64)   NOT NULL,
    expires_at     BIGINT        NULL,
    max_downloads  BIGINT        NULL,
    downloads      BIGINT        NOT NULL,
    saves          BIGINT        NOT NULL,
    failures       BIGINT        NOT NULL,
    failure_window BIGINT        NOT NULL,
    created_at     BIGINT        NOT NULL,
    KEY drive_shares_owner (owner, created_at),
    KEY drive_shares_entry (entry_id),
    CONSTRAINT drive_shares_owner_fk FOREIGN KEY (owner) REFERENCES users(id),
    CONSTRAINT drive_shares_entry_fk FOREIGN KEY (entry_id) REFERENCES drive_entries(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

ALTER TABLE users ADD COLUMN quota_bytes BIGINT NULL;
