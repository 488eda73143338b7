-- MySQL / MariaDB schema; same tables and meaning as migrations/sqlite.
-- utf8mb4_bin: full Unicode and case-sensitive comparison. Client message
-- ids are VARBINARY because utf8mb4_bin still ignores trailing spaces
-- ("a" = "a "), and cmids must compare byte for byte. MEDIUMTEXT: a 64 KiB
-- body of 4-byte characters does not fit TEXT.
CREATE TABLE users (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(32)  NOT NULL UNIQUE,
    password_hash VARCHAR(255) NOT NULL,
    created_at    BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE tokens (
    token_hash VARBINARY(32) NOT NULL PRIMARY KEY,
    user_id    BIGINT        NOT NULL,
    device     VARCHAR(64)   NOT NULL,
    created_at BIGINT        NOT NULL,
    expires_at BIGINT        NOT NULL,
    KEY tokens_by_user (user_id),
    KEY tokens_by_expiry (expires_at),
    CONSTRAINT tokens_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE conversations (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind       BIGINT NOT NULL,
    user_a     BIGINT NULL,
    user_b     BIGINT NULL,
    last_seq   BIGINT NOT NULL DEFAULT 0,
    last_ts    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE KEY conversations_pair (user_a, user_b),
    CONSTRAINT conversations_a FOREIGN KEY (user_a) REFERENCES users(id),
    CONSTRAINT conversations_b FOREIGN KEY (user_b) REFERENCES users(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE members (
    user_id  BIGINT NOT NULL,
    conv_id  BIGINT NOT NULL,
    read_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, conv_id),
    CONSTRAINT members_user FOREIGN KEY (user_id) REFERENCES users(id),
    CONSTRAINT members_conv FOREIGN KEY (conv_id) REFERENCES conversations(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE messages (
    id        BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    conv_id   BIGINT      NOT NULL,
    seq       BIGINT      NOT NULL,
    sender_id BIGINT      NOT NULL,
    cmid      VARBINARY(64) NOT NULL,
    body      MEDIUMTEXT  NOT NULL,
    ts        BIGINT      NOT NULL,
    UNIQUE KEY messages_position (conv_id, seq),
    UNIQUE KEY messages_cmid (sender_id, cmid),
    CONSTRAINT messages_conv FOREIGN KEY (conv_id) REFERENCES conversations(id),
    CONSTRAINT messages_sender FOREIGN KEY (sender_id) REFERENCES users(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
