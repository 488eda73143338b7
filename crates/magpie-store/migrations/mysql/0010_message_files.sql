-- Same meaning as migrations/sqlite/0010_message_files.sql.
ALTER TABLE messages ADD COLUMN attachment TEXT NULL;
