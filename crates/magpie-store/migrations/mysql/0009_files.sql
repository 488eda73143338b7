-- Same meaning as migrations/sqlite/0009_files.sql. Ids and keys are
-- VARBINARY for byte-exact comparison (see 0001_init.sql).
CREATE TABLE blobs (
    sha256      VARBINARY(32)  NOT NULL PRIMARY KEY,
    storage_key VARBINARY(200) NOT NULL,
    size        BIGINT         NOT NULL,
    mime        VARCHAR(255)   NOT NULL,
    media       TEXT           NULL,
    thumb_key   VARBINARY(200) NULL,
    refs        BIGINT         NOT NULL,
    created_at  BIGINT         NOT NULL,
    UNIQUE KEY blobs_key (storage_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE files (
    id         VARBINARY(40)  NOT NULL PRIMARY KEY,
    owner      BIGINT         NOT NULL,
    sha256     VARBINARY(32)  NOT NULL,
    name       VARCHAR(1024)  NOT NULL,
    purpose    SMALLINT       NOT NULL,
    conv_id    BIGINT         NULL,
    seq        BIGINT         NULL,
    created_at BIGINT         NOT NULL,
    KEY files_owner (owner, purpose, id),
    KEY files_conv (conv_id, seq),
    KEY files_blob (sha256),
    CONSTRAINT files_owner_fk FOREIGN KEY (owner) REFERENCES users(id),
    CONSTRAINT files_blob_fk FOREIGN KEY (sha256) REFERENCES blobs(sha256),
    CONSTRAINT files_conv_fk FOREIGN KEY (conv_id) REFERENCES conversations(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE uploads (
    id         VARBINARY(40)  NOT NULL PRIMARY KEY,
    owner      BIGINT         NOT NULL,
    total_size BIGINT         NOT NULL,
    received   BIGINT         NOT NULL,
    name       VARCHAR(1024)  NOT NULL,
    created_at BIGINT         NOT NULL,
    expires_at BIGINT         NOT NULL,
    file_id    VARBINARY(40)  NULL,
    KEY uploads_owner (owner),
    KEY uploads_expiry (expires_at),
    CONSTRAINT uploads_owner_fk FOREIGN KEY (owner) REFERENCES users(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE server_secrets (
    name   VARBINARY(64) NOT NULL PRIMARY KEY,
    secret VARBINARY(64) NOT NULL
) ENGINE = InnoDB;
