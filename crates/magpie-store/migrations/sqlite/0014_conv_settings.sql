-- Each member's own settings of a conversation, synced to all their
-- devices through the change stream (`conv_settings` changes, appended in
-- the same transaction as the settings are written). They live on the
-- member's row, so leaving a group takes them along.
--
-- pinned: 1 lists the conversation above the unpinned ones.
-- notify_muted_until: notifications muted (0 no, -1 until unmuted, else
--   until this time, ms); not `muted_until`, a group's speaking mute.
-- marked_unread: 1 shows it unread; a `read` of the conversation clears it.
-- hidden_seq: left out of the list while the newest entry that is not
--   quiet has a seq at most this (0: not hidden); a new message brings the
--   conversation back without a write.
-- draft: the text being written, NULL for none.
ALTER TABLE members ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN notify_muted_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN marked_unread INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN hidden_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN draft TEXT NULL;
