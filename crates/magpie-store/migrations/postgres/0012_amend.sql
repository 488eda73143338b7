-- Same meaning as migrations/sqlite/0012_amend.sql.
ALTER TABLE messages ADD COLUMN target BIGINT NULL;
ALTER TABLE messages ADD COLUMN edited_ts BIGINT NULL;
ALTER TABLE messages ADD COLUMN recalled TEXT NULL;
ALTER TABLE messages ADD COLUMN reactions TEXT NULL;
ALTER TABLE messages ADD COLUMN reply TEXT NULL;
ALTER TABLE messages ADD COLUMN forward TEXT NULL;

CREATE TABLE reactions (
    conv_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    emoji   TEXT   NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    ts      BIGINT NOT NULL,
    PRIMARY KEY (conv_id, seq, emoji, user_id)
);
CREATE INDEX reactions_by_user ON reactions (conv_id, user_id, seq);

ALTER TABLE conversations ADD COLUMN quiet_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE quiet_entries (
    conv_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (conv_id, seq)
);

CREATE TABLE replies (
    conv_id    BIGINT NOT NULL,
    target_seq BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (conv_id, target_seq, seq)
);
