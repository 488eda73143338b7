-- Same meaning as migrations/sqlite/0014_conv_settings.sql.
ALTER TABLE members ADD COLUMN pinned BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN notify_muted_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN marked_unread BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN hidden_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN draft TEXT NULL;
