-- The company directory and administration.

-- Departments form a tree (parent_id NULL: top level); position orders
-- siblings.
CREATE TABLE departments (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    parent_id  INTEGER REFERENCES departments(id),
    position   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX departments_by_parent ON departments(parent_id);

-- role: 0 user, 1 admin. state: 0 active, 1 disabled, 2 deleted.
-- dept_id/title: the user's place in the directory (NULL: not in it).
ALTER TABLE users ADD COLUMN role INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN state INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN dept_id INTEGER REFERENCES departments(id);
ALTER TABLE users ADD COLUMN title TEXT NOT NULL DEFAULT '';
CREATE INDEX users_by_dept ON users(dept_id, id);

-- Server-wide counters. directory_version is bumped by every directory
-- change, in its transaction.
CREATE TABLE meta (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (name, value) VALUES ('directory_version', 0);
