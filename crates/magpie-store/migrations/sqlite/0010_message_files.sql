-- Entries of the file kinds (file, image, voice, video) describe their
-- file here, as sent: a FileInfo as JSON, kept even if the file is later
-- deleted (the entry then still says what was sent). The file itself is a
-- `files` row of purpose 2 at the entry's conversation and seq.
ALTER TABLE messages ADD COLUMN attachment TEXT;
