-- Same meaning as migrations/sqlite/0007_group_requests.sql.
CREATE TABLE group_requests (
    conv_id BIGINT       NOT NULL,
    user_id BIGINT       NOT NULL,
    note    VARCHAR(256) NOT NULL DEFAULT '',
    ts      BIGINT       NOT NULL,
    PRIMARY KEY (conv_id, user_id),
    CONSTRAINT group_requests_conv FOREIGN KEY (conv_id) REFERENCES conversations(id),
    CONSTRAINT group_requests_user FOREIGN KEY (user_id) REFERENCES users(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
