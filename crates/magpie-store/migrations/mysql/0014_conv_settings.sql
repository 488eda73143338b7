-- Same meaning as migrations/sqlite/0014_conv_settings.sql.
ALTER TABLE members
    ADD COLUMN pinned BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN notify_muted_until BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN marked_unread BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN hidden_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN draft TEXT NULL;
