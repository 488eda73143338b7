-- Same meaning as migrations/sqlite/0006_groups.sql.
ALTER TABLE conversations ADD COLUMN members_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE chat_groups (
    conv_id         BIGINT PRIMARY KEY REFERENCES conversations(id),
    name            TEXT   NOT NULL,
    avatar          TEXT   NOT NULL DEFAULT '',
    description     TEXT   NOT NULL DEFAULT '',
    announcement    TEXT   NOT NULL DEFAULT '',
    owner_id        BIGINT NOT NULL REFERENCES users(id),
    join_policy     BIGINT NOT NULL DEFAULT 0,
    history_visible BIGINT NOT NULL DEFAULT 0,
    member_limit    BIGINT NOT NULL,
    temporary       BIGINT NOT NULL DEFAULT 0,
    muted_all       BIGINT NOT NULL DEFAULT 0,
    dissolved       BIGINT NOT NULL DEFAULT 0,
    member_count    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);

ALTER TABLE members ADD COLUMN role BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN nickname TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN muted_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN joined_at BIGINT NOT NULL DEFAULT 0;
