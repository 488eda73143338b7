-- Same tables and meaning as migrations/sqlite/0003_people.sql. Text
-- columns are sized by the protocol's limits (limits.rs), in characters.
ALTER TABLE users ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE profiles (
    user_id       BIGINT        NOT NULL PRIMARY KEY,
    nickname      VARCHAR(64)   NOT NULL DEFAULT '',
    nickname_fold VARCHAR(64)   NOT NULL DEFAULT '',
    avatar        VARCHAR(512)  NOT NULL DEFAULT '',
    signature     VARCHAR(256)  NOT NULL DEFAULT '',
    gender        BIGINT        NOT NULL DEFAULT 0,
    birthday      VARCHAR(10)   NULL,
    phone         VARCHAR(21)   NULL,
    email         VARCHAR(254)  NULL,
    updated_at    BIGINT        NOT NULL,
    KEY profiles_by_phone (phone),
    KEY profiles_by_email (email),
    CONSTRAINT profiles_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE changes (
    user_id BIGINT      NOT NULL,
    seq     BIGINT      NOT NULL,
    kind    VARCHAR(32) NOT NULL,
    data    MEDIUMTEXT  NOT NULL,
    ts      BIGINT      NOT NULL,
    PRIMARY KEY (user_id, seq),
    CONSTRAINT changes_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE friend_requests (
    from_id BIGINT       NOT NULL,
    to_id   BIGINT       NOT NULL,
    note    VARCHAR(256) NOT NULL,
    hidden  BIGINT       NOT NULL DEFAULT 0,
    ts      BIGINT       NOT NULL,
    PRIMARY KEY (from_id, to_id),
    KEY friend_requests_to (to_id, ts),
    CONSTRAINT friend_requests_from_user FOREIGN KEY (from_id) REFERENCES users(id) ON DELETE CASCADE,
    CONSTRAINT friend_requests_to_user FOREIGN KEY (to_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE categories (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    BIGINT      NOT NULL,
    name       VARCHAR(32) NOT NULL,
    created_at BIGINT      NOT NULL,
    KEY categories_by_user (user_id),
    CONSTRAINT categories_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE friends (
    user_id     BIGINT      NOT NULL,
    friend_id   BIGINT      NOT NULL,
    remark      VARCHAR(64) NOT NULL DEFAULT '',
    category_id BIGINT      NULL,
    since       BIGINT      NOT NULL,
    PRIMARY KEY (user_id, friend_id),
    CONSTRAINT friends_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
    CONSTRAINT friends_friend FOREIGN KEY (friend_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE blocks (
    user_id    BIGINT NOT NULL,
    blocked_id BIGINT NOT NULL,
    ts         BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked_id),
    CONSTRAINT blocks_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
    CONSTRAINT blocks_blocked FOREIGN KEY (blocked_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
