//! The differences between the SQL engines, kept in one place.
//!
//! Queries are written once, in the SQLite/MySQL form with `?` placeholders
//! and a few markers, and rendered for each engine when a store opens:
//! PostgreSQL numbers its placeholders (`$1`), MySQL has no `RETURNING`, and
//! each engine spells "insert unless it exists" and scalar max/min its own
//! way. Everything else is standard SQL that all three accept.

use std::sync::Arc;

/// Which engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    /// The engine named by a database URL's scheme.
    pub fn from_url(url: &str) -> Option<Backend> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            "mysql" | "mariadb" => Some(Backend::MySql),
            _ => None,
        }
    }

    /// Whether `INSERT/UPDATE ... RETURNING` is available. MariaDB has it
    /// for INSERT only and MySQL not at all, so MySQL uses
    /// `LAST_INSERT_ID()` and a follow-up SELECT inside the transaction.
    pub fn has_returning(self) -> bool {
        !matches!(self, Backend::MySql)
    }

    /// Render a query template for this engine. Markers:
    /// `{insert_ignore}` + `{on_conflict}` for insert-unless-exists,
    /// `{greatest}` / `{least}` for scalar max / min, `{int}` for the
    /// 64-bit integer type of a `CAST` (a `SUM` is NUMERIC on PostgreSQL
    /// and DECIMAL on MySQL, which the `Any` driver cannot read), `{for_update}` for a
    /// row lock on a SELECT (SQLite has none: a write transaction holds the
    /// whole database); a trailing
    /// ` RETURNING ...` is dropped where unsupported.
    pub fn render(self, template: &str) -> Arc<str> {
        let (insert_ignore, on_conflict, greatest, least, for_update) = match self {
            Backend::Sqlite => ("INSERT OR IGNORE INTO", "", "MAX", "MIN", ""),
            Backend::Postgres => (
                "INSERT INTO",
                " ON CONFLICT DO NOTHING",
                "GREATEST",
                "LEAST",
                " FOR UPDATE",
            ),
            Backend::MySql => ("INSERT IGNORE INTO", "", "GREATEST", "LEAST", " FOR UPDATE"),
        };
        let mut sql = template
            .replace("{insert_ignore}", insert_ignore)
            .replace("{on_conflict}", on_conflict)
            .replace("{greatest}", greatest)
            .replace("{least}", least)
            .replace("{for_update}", for_update)
            .replace(
                "{int}",
                match self {
                    Backend::Sqlite => "INTEGER",
                    Backend::Postgres => "BIGINT",
                    Backend::MySql => "SIGNED",
                },
            );
        if !self.has_returning()
            && let Some(at) = sql.find(" RETURNING ")
        {
            sql.truncate(at);
        }
        if self == Backend::Postgres {
            sql = number_placeholders(&sql);
        }
        sql.into()
    }
}

/// `?` → `$1`, `$2`, ... (no query here has a `?` inside a string literal).
fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_engine() {
        let cases = [
            ("sqlite:///var/lib/magpie.db", Some(Backend::Sqlite)),
            ("postgres://u@localhost/db", Some(Backend::Postgres)),
            ("postgresql://u@localhost/db", Some(Backend::Postgres)),
            ("mysql://root@127.0.0.1/db", Some(Backend::MySql)),
            ("MariaDB://root@127.0.0.1/db", Some(Backend::MySql)),
            ("redis://localhost", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(Backend::from_url(url), want, "{url}");
        }
    }

    #[test]
    fn templates_render_per_engine() {
        let t = "{insert_ignore} t (a, b) VALUES (?, {greatest}(?, 1)){on_conflict} RETURNING id";
        assert_eq!(
            &*Backend::Sqlite.render(t),
            "INSERT OR IGNORE INTO t (a, b) VALUES (?, MAX(?, 1)) RETURNING id"
        );
        assert_eq!(
            &*Backend::Postgres.render(t),
            "INSERT INTO t (a, b) VALUES ($1, GREATEST($2, 1)) ON CONFLICT DO NOTHING RETURNING id"
        );
        assert_eq!(
            &*Backend::MySql.render(t),
            "INSERT IGNORE INTO t (a, b) VALUES (?, GREATEST(?, 1))"
        );
    }
}
