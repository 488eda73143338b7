-- Same meaning as migrations/sqlite/0005_directory.sql.
CREATE TABLE departments (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name       VARCHAR(64) NOT NULL,
    parent_id  BIGINT      NULL,
    position   BIGINT      NOT NULL DEFAULT 0,
    created_at BIGINT      NOT NULL,
    KEY departments_by_parent (parent_id),
    CONSTRAINT departments_parent FOREIGN KEY (parent_id) REFERENCES departments(id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

ALTER TABLE users ADD COLUMN role BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN state BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN dept_id BIGINT NULL;
ALTER TABLE users ADD COLUMN title VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE users ADD CONSTRAINT users_dept FOREIGN KEY (dept_id) REFERENCES departments(id);
CREATE INDEX users_by_dept ON users(dept_id, id);

CREATE TABLE meta (
    name  VARCHAR(64) NOT NULL PRIMARY KEY,
    value BIGINT      NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
INSERT INTO meta (name, value) VALUES ('directory_version', 0);
