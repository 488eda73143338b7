-- Typed entries: every row of a conversation's sequence has a kind
-- (1 = text). Later kinds (system events, recall, edit, files) are new
-- values here, not new tables, so a conversation stays one gapless sequence.
ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 1;

-- Where each member joined the sequence: a member sees entries with
-- seq > joined_seq only (0 for 1:1 conversations, whose members are there
-- from the start).
ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;

-- Routing and membership checks look members up by conversation.
CREATE INDEX members_by_conv ON members(conv_id, user_id);
