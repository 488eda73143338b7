-- Same tables and meaning as migrations/sqlite/0003_people.sql.
ALTER TABLE users ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE profiles (
    user_id       BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    nickname      TEXT   NOT NULL DEFAULT '',
    nickname_fold TEXT   NOT NULL DEFAULT '',
    avatar        TEXT   NOT NULL DEFAULT '',
    signature     TEXT   NOT NULL DEFAULT '',
    gender        BIGINT NOT NULL DEFAULT 0,
    birthday      TEXT,
    phone         TEXT,
    email         TEXT,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX profiles_by_phone ON profiles(phone);
CREATE INDEX profiles_by_email ON profiles(email);

CREATE TABLE changes (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    data    TEXT   NOT NULL,
    ts      BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);

CREATE TABLE friend_requests (
    from_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    to_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    note    TEXT   NOT NULL,
    hidden  BIGINT NOT NULL DEFAULT 0,
    ts      BIGINT NOT NULL,
    PRIMARY KEY (from_id, to_id)
);
CREATE INDEX friend_requests_to ON friend_requests(to_id, ts);

CREATE TABLE categories (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX categories_by_user ON categories(user_id);

CREATE TABLE friends (
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    friend_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    remark      TEXT   NOT NULL DEFAULT '',
    category_id BIGINT,
    since       BIGINT NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);

CREATE TABLE blocks (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ts         BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
