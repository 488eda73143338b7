-- PostgreSQL schema; same tables and meaning as migrations/sqlite.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE tokens (
    token_hash BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_by_user ON tokens(user_id);
CREATE INDEX tokens_by_expiry ON tokens(expires_at);

CREATE TABLE conversations (
    id         BIGSERIAL PRIMARY KEY,
    kind       BIGINT NOT NULL,
    user_a     BIGINT REFERENCES users(id),
    user_b     BIGINT REFERENCES users(id),
    last_seq   BIGINT NOT NULL DEFAULT 0,
    last_ts    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_a, user_b)
);

CREATE TABLE members (
    user_id  BIGINT NOT NULL REFERENCES users(id),
    conv_id  BIGINT NOT NULL REFERENCES conversations(id),
    read_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, conv_id)
);

CREATE TABLE messages (
    id        BIGSERIAL PRIMARY KEY,
    conv_id   BIGINT NOT NULL REFERENCES conversations(id),
    seq       BIGINT NOT NULL,
    sender_id BIGINT NOT NULL REFERENCES users(id),
    cmid      TEXT   NOT NULL,
    body      TEXT   NOT NULL,
    ts        BIGINT NOT NULL,
    UNIQUE (conv_id, seq),
    UNIQUE (sender_id, cmid)
);
