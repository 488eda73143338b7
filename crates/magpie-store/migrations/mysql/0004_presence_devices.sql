-- Same meaning as migrations/sqlite/0004_presence_devices.sql.
ALTER TABLE users ADD COLUMN presence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN presence_text VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN platform BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tokens ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
