-- Conversation features: recall, edit, reactions, replies, forwards.
--
-- Recall, edit and reaction are entries of the conversation's sequence
-- (kinds 7, 8, 9) that act on an earlier entry, named by `target` (its
-- seq): every device converges by the ordinary sync. Writing one also
-- changes the target row in the same transaction, so history and a fresh
-- sync show the entry as it is now: `recalled` (JSON {"by", "ts"}; the
-- body, file, mentions, quote and reactions are cleared), `edited_ts`
-- (the body is the latest text), `reactions` (JSON [[emoji, count], ...]
-- in order of first use).
ALTER TABLE messages ADD COLUMN target INTEGER NULL;
ALTER TABLE messages ADD COLUMN edited_ts INTEGER NULL;
ALTER TABLE messages ADD COLUMN recalled TEXT NULL;
ALTER TABLE messages ADD COLUMN reactions TEXT NULL;
-- A reply's quote of the entry it answers (JSON Quote), and the mark of a
-- forwarded message or the items of a merged chat record (kind 10), as
-- sent.
ALTER TABLE messages ADD COLUMN reply TEXT NULL;
ALTER TABLE messages ADD COLUMN forward TEXT NULL;

-- Who reacted with what: one row per (entry, emoji, user). The counts in
-- messages.reactions are kept from it in the same transaction.
CREATE TABLE reactions (
    conv_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    emoji   TEXT    NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    ts      INTEGER NOT NULL,
    PRIMARY KEY (conv_id, seq, emoji, user_id)
);
-- "Did I react?" for a page of entries.
CREATE INDEX reactions_by_user ON reactions (conv_id, user_id, seq);

-- The quiet entries (recall, edit, reaction): they take a seq but are not
-- unread and never the conversation list's last message. Unread is the
-- entries after the read mark less the quiet ones among them; only quiet
-- entries have a row, so the send path writes nothing here.
-- conversations.quiet_seq is the newest quiet entry's seq (0: none), so
-- the list looks at quiet entries only in a conversation that has them
-- after the read mark or at its head.
ALTER TABLE conversations ADD COLUMN quiet_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE quiet_entries (
    conv_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (conv_id, seq)
);

-- Which entries quote which: a recall rewrites the quotes of the entry it
-- removes. Only replies have a row.
CREATE TABLE replies (
    conv_id    INTEGER NOT NULL,
    target_seq INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (conv_id, target_seq, seq)
);
