-- Same meaning as migrations/sqlite/0005_directory.sql.
CREATE TABLE departments (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT   NOT NULL,
    parent_id  BIGINT REFERENCES departments(id),
    position   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX departments_by_parent ON departments(parent_id);

ALTER TABLE users ADD COLUMN role BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN state BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN dept_id BIGINT REFERENCES departments(id);
ALTER TABLE users ADD COLUMN title TEXT NOT NULL DEFAULT '';
CREATE INDEX users_by_dept ON users(dept_id, id);

CREATE TABLE meta (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (name, value) VALUES ('directory_version', 0);
