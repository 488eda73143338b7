-- Same meaning as migrations/sqlite/0012_amend.sql. Emoji are utf8mb4_bin
-- (no whitespace is accepted in one, so PAD SPACE cannot merge two).
ALTER TABLE messages ADD COLUMN target BIGINT NULL;
ALTER TABLE messages ADD COLUMN edited_ts BIGINT NULL;
ALTER TABLE messages ADD COLUMN recalled TEXT NULL;
ALTER TABLE messages ADD COLUMN reactions TEXT NULL;
ALTER TABLE messages ADD COLUMN reply TEXT NULL;
ALTER TABLE messages ADD COLUMN forward MEDIUMTEXT NULL;

CREATE TABLE reactions (
    conv_id BIGINT      NOT NULL,
    seq     BIGINT      NOT NULL,
    emoji   VARCHAR(64) NOT NULL,
    user_id BIGINT      NOT NULL,
    ts      BIGINT      NOT NULL,
    PRIMARY KEY (conv_id, seq, emoji, user_id),
    KEY reactions_by_user (conv_id, user_id, seq),
    CONSTRAINT reactions_user_fk FOREIGN KEY (user_id) REFERENCES users(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

ALTER TABLE conversations ADD COLUMN quiet_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE quiet_entries (
    conv_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (conv_id, seq)
) ENGINE = InnoDB;

CREATE TABLE replies (
    conv_id    BIGINT NOT NULL,
    target_seq BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (conv_id, target_seq, seq)
) ENGINE = InnoDB;
