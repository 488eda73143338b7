-- Requests to join groups whose join_policy is 2 (by request): one per
-- (group, applicant), until an admin approves or rejects it.
CREATE TABLE group_requests (
    conv_id INTEGER NOT NULL REFERENCES conversations(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    note    TEXT    NOT NULL DEFAULT '',
    ts      INTEGER NOT NULL,
    PRIMARY KEY (conv_id, user_id)
);
