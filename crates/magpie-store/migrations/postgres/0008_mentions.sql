-- Same meaning as migrations/sqlite/0008_mentions.sql.
ALTER TABLE messages ADD COLUMN mentions TEXT NULL;
ALTER TABLE members ADD COLUMN mention_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN mention_all_seq BIGINT NOT NULL DEFAULT 0;
