-- Groups: conversations of kind 2. A group is the same conversation,
-- members and messages rows as a 1:1 chat, plus this profile row.

-- The seq of the conversation's newest membership or settings event
-- (0 for 1:1 conversations, whose members never change). Member-set
-- caches compare it with their copy's version; a message batch reads it
-- under the conversation's lock so that a message is never routed by a
-- member list older than itself.
ALTER TABLE conversations ADD COLUMN members_seq INTEGER NOT NULL DEFAULT 0;

-- join_policy: 0 invite only, 1 open. history_visible: how many entries
-- before their join a new member may read. Flags are 0/1.
CREATE TABLE chat_groups (
    conv_id         INTEGER PRIMARY KEY REFERENCES conversations(id),
    name            TEXT    NOT NULL,
    avatar          TEXT    NOT NULL DEFAULT '',
    description     TEXT    NOT NULL DEFAULT '',
    announcement    TEXT    NOT NULL DEFAULT '',
    owner_id        INTEGER NOT NULL REFERENCES users(id),
    join_policy     INTEGER NOT NULL DEFAULT 0,
    history_visible INTEGER NOT NULL DEFAULT 0,
    member_limit    INTEGER NOT NULL,
    temporary       INTEGER NOT NULL DEFAULT 0,
    muted_all       INTEGER NOT NULL DEFAULT 0,
    dissolved       INTEGER NOT NULL DEFAULT 0,
    member_count    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);

-- role: 0 member, 1 admin, 2 owner (1:1 members are 0). muted_until: ms
-- since the epoch, 0 if not muted. joined_at: ms since the epoch.
ALTER TABLE members ADD COLUMN role INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN nickname TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN muted_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN joined_at INTEGER NOT NULL DEFAULT 0;
