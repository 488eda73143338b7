-- @mentions. A message's mentions are stored with it, as JSON
-- {"users": [usernames], "all": bool}, NULL when there are none.
-- members.mention_seq is the newest entry that mentions the member by
-- name; conversations.mention_all_seq the newest @all. A member's
-- conversation-list row is flagged while either is past their read mark
-- (and, for @all, after their join): positions, not a row per mention.
ALTER TABLE messages ADD COLUMN mentions TEXT NULL;
ALTER TABLE members ADD COLUMN mention_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN mention_all_seq INTEGER NOT NULL DEFAULT 0;
