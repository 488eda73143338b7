-- The people area (profiles, friends, requests, categories, blocks) and the
-- per-user change stream that carries its state to every device.

-- Each user's change-stream allocator: bumped in the transaction that
-- appends to the stream, under the user row's lock, so seqs are gapless.
ALTER TABLE users ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

-- One row per user who ever set a profile field (others have defaults).
-- nickname_fold is the lower-cased nickname that search matches against.
-- gender: 0 unspecified, 1 male, 2 female, 3 other.
CREATE TABLE profiles (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    nickname      TEXT    NOT NULL DEFAULT '',
    nickname_fold TEXT    NOT NULL DEFAULT '',
    avatar        TEXT    NOT NULL DEFAULT '',
    signature     TEXT    NOT NULL DEFAULT '',
    gender        INTEGER NOT NULL DEFAULT 0,
    birthday      TEXT,
    phone         TEXT,
    email         TEXT,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX profiles_by_phone ON profiles(phone);
CREATE INDEX profiles_by_email ON profiles(email);

-- Each user's change stream: (user, seq) gapless from 1. kind and data are
-- the wire form of a change (magpie-proto changes.rs), kept as written.
CREATE TABLE changes (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    ts      INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
);

-- Pending friend requests only; an answered request is deleted. hidden:
-- the addressee has blocked the requester, so only the requester sees it.
CREATE TABLE friend_requests (
    from_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    to_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    note    TEXT    NOT NULL,
    hidden  INTEGER NOT NULL DEFAULT 0,
    ts      INTEGER NOT NULL,
    PRIMARY KEY (from_id, to_id)
);
CREATE INDEX friend_requests_to ON friend_requests(to_id, ts);

-- Friend categories (QQ's 分组), private to their owner.
CREATE TABLE categories (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX categories_by_user ON categories(user_id);

-- A friendship is two rows, one per side, each with what that side keeps
-- about the other (remark, category). Both rows change in one transaction.
CREATE TABLE friends (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    friend_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    remark      TEXT    NOT NULL DEFAULT '',
    category_id INTEGER,
    since       INTEGER NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);

-- user_id has blocked blocked_id.
CREATE TABLE blocks (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ts         INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
