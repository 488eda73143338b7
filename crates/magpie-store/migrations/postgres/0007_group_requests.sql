-- Same meaning as migrations/sqlite/0007_group_requests.sql.
CREATE TABLE group_requests (
    conv_id BIGINT NOT NULL REFERENCES conversations(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    note    TEXT   NOT NULL DEFAULT '',
    ts      BIGINT NOT NULL,
    PRIMARY KEY (conv_id, user_id)
);
