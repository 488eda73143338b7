-- Accounts. Usernames are stored lower-case; the protocol accepts them in any case.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Login sessions. Only the SHA-256 of a token is kept, so a copy of the
-- database does not let anyone log in; revoking is deleting the row.
CREATE TABLE tokens (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX tokens_by_user ON tokens(user_id);

-- One row per conversation. last_seq is the sequence allocator: it is bumped
-- in the same transaction that inserts the message, so seqs are gapless.
-- A 1:1 conversation has user_a < user_b; kind 1 = direct.
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    kind       INTEGER NOT NULL,
    user_a     INTEGER REFERENCES users(id),
    user_b     INTEGER REFERENCES users(id),
    last_seq   INTEGER NOT NULL DEFAULT 0,
    last_ts    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (user_a, user_b)
);

-- Who is in which conversation, and how far each member has read.
CREATE TABLE members (
    user_id  INTEGER NOT NULL REFERENCES users(id),
    conv_id  INTEGER NOT NULL REFERENCES conversations(id),
    read_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, conv_id)
);

-- Messages, addressed by (conv_id, seq). (sender_id, cmid) makes a retried
-- send idempotent.
CREATE TABLE messages (
    id        INTEGER PRIMARY KEY,
    conv_id   INTEGER NOT NULL REFERENCES conversations(id),
    seq       INTEGER NOT NULL,
    sender_id INTEGER NOT NULL REFERENCES users(id),
    cmid      TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    UNIQUE (conv_id, seq),
    UNIQUE (sender_id, cmid)
);
