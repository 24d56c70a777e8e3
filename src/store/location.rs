//! Where the database is: `--db` (or `GPT_TODO_DB`) names an SQLite file, or a PostgreSQL URL.
//! Its `Display` never shows a password, so it can go in the banner, an error or a log line.

use std::fmt;
use std::path::PathBuf;

use super::postgres::PgConfig;

/// The database `--db` names.
#[derive(Clone, Debug)]
pub enum Location {
    /// An SQLite file (a path, or a `sqlite:` URL).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`).
    Postgres(Box<PgConfig>),
}

impl Location {
    /// Reads `--db`: a `postgres://` or `postgresql://` URL, a `sqlite:` URL
    /// (`sqlite:///var/lib/gpt-todo.db`, `sqlite:todos.db`), or else a file path. The error
    /// never repeats the URL (it may hold a password).
    pub fn parse(text: &str) -> Result<Location, String> {
        if is_postgres_url(text) {
            return PgConfig::parse(text).map(|config| Location::Postgres(Box::new(config)));
        }
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err("--db sqlite: needs a file path (sqlite:///var/lib/gpt-todo.db)".into());
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        if text.is_empty() {
            return Err("--db must name a file or a postgres:// URL".into());
        }
        Ok(Location::Sqlite(PathBuf::from(text)))
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            Location::Sqlite(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }

    /// The refusal of a file operation (`backup`, `restore`) on PostgreSQL, in one line naming
    /// PostgreSQL's own tool for it.
    pub fn file_only(&self, operation: &str, tool: &str) -> Result<&std::path::Path, String> {
        match self {
            Location::Sqlite(path) => Ok(path),
            Location::Postgres(config) => {
                Err(format!("`{operation}` works on an SQLite file; --db {config} is PostgreSQL: use {tool} instead"))
            }
        }
    }
}

/// `postgres://` and `postgresql://`, as libpq accepts them (URI scheme, case-insensitively).
pub fn is_postgres_url(text: &str) -> bool {
    let lower = |prefix: &str| text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix);
    lower("postgres://") || lower("postgresql://")
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(config) => write!(f, "{config}"),
        }
    }
}

impl std::str::FromStr for Location {
    type Err = String;
    fn from_str(text: &str) -> Result<Location, String> {
        Location::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_a_sqlite_url_and_both_postgres_schemes() {
        assert_eq!(Location::parse("./todos.db").unwrap().sqlite_path(), Some(std::path::Path::new("./todos.db")));
        assert_eq!(
            Location::parse("sqlite:///var/lib/t.db").unwrap().sqlite_path(),
            Some(std::path::Path::new("/var/lib/t.db"))
        );
        for url in ["postgres://u:hunter2@db.example/app", "POSTGRESQL://u:hunter2@db.example/app"] {
            let location = Location::parse(url).unwrap();
            assert!(location.sqlite_path().is_none());
            assert!(!location.to_string().contains("hunter2"), "{location}");
        }
    }

    #[test]
    fn a_file_operation_on_postgres_is_refused_naming_the_tool_without_the_password() {
        let location = Location::parse("postgres://u:hunter2@db.example/app").unwrap();
        let refused = location.file_only("backup", "pg_dump").unwrap_err();
        assert!(refused.contains("pg_dump") && !refused.contains("hunter2"), "{refused}");
        assert!(!refused.contains('\n'));
    }
}
