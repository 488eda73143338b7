-- Same meaning as migrations/sqlite/0006_groups.sql. Text columns are
-- sized by the protocol's limits (limits.rs), in characters. (`groups` is
-- a reserved word in MySQL 8, hence `chat_groups` on every engine.)
ALTER TABLE conversations ADD COLUMN members_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE chat_groups (
    conv_id         BIGINT        NOT NULL PRIMARY KEY,
    name            VARCHAR(64)   NOT NULL,
    avatar          VARCHAR(512)  NOT NULL DEFAULT '',
    description     VARCHAR(512)  NOT NULL DEFAULT '',
    announcement    VARCHAR(2048) NOT NULL DEFAULT '',
    owner_id        BIGINT        NOT NULL,
    join_policy     BIGINT        NOT NULL DEFAULT 0,
    history_visible BIGINT        NOT NULL DEFAULT 0,
    member_limit    BIGINT        NOT NULL,
    temporary       BIGINT        NOT NULL DEFAULT 0,
    muted_all       BIGINT        NOT NULL DEFAULT 0,
    dissolved       BIGINT        NOT NULL DEFAULT 0,
    member_count    BIGINT        NOT NULL DEFAULT 0,
    created_at      BIGINT        NOT NULL,
    CONSTRAINT chat_groups_conv FOREIGN KEY (conv_id) REFERENCES conversations(id),
    CONSTRAINT chat_groups_owner FOREIGN KEY (owner_id) REFERENCES users(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

ALTER TABLE members ADD COLUMN role BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN nickname VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN muted_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN joined_at BIGINT NOT NULL DEFAULT 0;
