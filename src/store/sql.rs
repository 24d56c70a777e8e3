//! One SQL text for both backends. A store module writes its statement once, with PostgreSQL's
//! `$1, $2…` placeholders, as a `static` [`Sql`], and runs it with [`Tx::run`], [`Tx::row`] or
//! [`Tx::rows`]; parameters are `&[&dyn Param]` (any value both drivers can bind) and columns are
//! read with [`SqlRow::get`]. On SQLite the text is rewritten to `?1, ?2…` once per statement and
//! kept (SQLite reads `$1` as a *named* parameter, not the first), and both backends keep each
//! connection's prepared statements, so the hot path parses nothing and allocates nothing per
//! parameter.
//!
//! Both backends' SQL must be what both accept: integers are `i64` (BIGINT on PostgreSQL), flags
//! are 0/1 integers (not booleans), emails compare as `lower(email) = lower($1)`, and no column
//! default reads the clock (the job's [`Tx::now`] is bound instead).

use std::sync::OnceLock;

pub use super::param::{Column, Param};
use super::postgres::Session;
use super::{StoreError, Tx};

/// One statement's text, with its SQLite form made on first use.
pub struct Sql {
    text: &'static str,
    /// The SQLite dialect's own text, where the two must differ ([`Sql::each`]).
    sqlite_text: Option<&'static str>,
    sqlite: OnceLock<String>,
}

impl Sql {
    /// A statement with `$n` placeholders.
    pub const fn new(text: &'static str) -> Sql {
        Sql { text, sqlite_text: None, sqlite: OnceLock::new() }
    }

    /// A statement that needs its own text per backend (both with `$n`): a function only one
    /// has (`strftime`, `instr`), or an index only one text can use (SQLite's `COLLATE NOCASE`
    /// email against PostgreSQL's `lower(email)` index). Kept rare: one text is the rule.
    pub const fn each(sqlite: &'static str, postgres: &'static str) -> Sql {
        Sql { text: postgres, sqlite_text: Some(sqlite), sqlite: OnceLock::new() }
    }

    /// The text as PostgreSQL runs it.
    pub fn postgres(&self) -> &'static str {
        self.text
    }

    /// The text as SQLite runs it (`?n` for `$n`).
    pub fn sqlite(&self) -> &str {
        self.sqlite.get_or_init(|| sqlite_placeholders(self.sqlite_text.unwrap_or(self.text)))
    }
}

/// One row of a result, read by position.
pub enum SqlRow<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl SqlRow<'_> {
    /// The column at `index` as `T`.
    pub fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        match self {
            SqlRow::Sqlite(row) => Ok(row.get(index)?),
            SqlRow::Postgres(row) => Ok(row.try_get(index)?),
        }
    }
}

impl Tx<'_> {
    /// Runs `sql`; returns how many rows it changed.
    pub fn run(&self, sql: &Sql, params: &[&dyn Param]) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(conn, _) => Ok(conn.prepare_cached(sql.sqlite())?.execute(sqlite_params(params))? as u64),
            Tx::Postgres(session, _) => session.run(sql.postgres(), params),
        }
    }

    /// Runs `sql` and reads its first row with `read`, if it gave one.
    pub fn row<T>(
        &self,
        sql: &Sql,
        params: &[&dyn Param],
        read: impl Fn(&SqlRow<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match self {
            Tx::Sqlite(conn, _) => {
                let mut statement = conn.prepare_cached(sql.sqlite())?;
                let mut rows = statement.query(sqlite_params(params))?;
                rows.next()?.map(|row| read(&SqlRow::Sqlite(row))).transpose()
            }
            Tx::Postgres(session, _) => {
                let rows = session.query(sql.postgres(), params)?;
                rows.first().map(|row| read(&SqlRow::Postgres(row))).transpose()
            }
        }
    }

    /// Runs `sql` and reads every row with `read`.
    pub fn rows<T>(
        &self,
        sql: &Sql,
        params: &[&dyn Param],
        read: impl Fn(&SqlRow<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Tx::Sqlite(conn, _) => {
                let mut statement = conn.prepare_cached(sql.sqlite())?;
                let mut rows = statement.query(sqlite_params(params))?;
                let mut read_rows = Vec::new();
                while let Some(row) = rows.next()? {
                    read_rows.push(read(&SqlRow::Sqlite(row))?);
                }
                Ok(read_rows)
            }
            Tx::Postgres(session, _) => {
                let rows = session.query(sql.postgres(), params)?;
                rows.iter().map(|row| read(&SqlRow::Postgres(row))).collect()
            }
        }
    }
}

/// The parameters as rusqlite binds them, by position.
fn sqlite_params<'p>(
    params: &'p [&'p dyn Param],
) -> rusqlite::ParamsFromIter<impl Iterator<Item = &'p dyn rusqlite::ToSql>> {
    rusqlite::params_from_iter(params.iter().map(|param| *param as &dyn rusqlite::ToSql))
}

impl Session {
    /// The parameters as rust-postgres binds them.
    pub(super) fn pg_params<'p>(
        params: &'p [&'p dyn Param],
    ) -> impl ExactSizeIterator<Item = &'p dyn postgres::types::ToSql> {
        params.iter().map(|param| *param as &dyn postgres::types::ToSql)
    }
}

/// `$1` → `?1`, outside string literals and quoted names: SQLite reads `?NNN` as the same numbered
/// parameter PostgreSQL's `$NNN` is.
pub fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_placeholders_become_numbered_ones_outside_quotes() {
        assert_eq!(sqlite_placeholders("SELECT $1, '$2', \"$3\", $10"), "SELECT ?1, '$2', \"$3\", ?10");
        assert_eq!(sqlite_placeholders("SELECT 'it''s $1' || $2"), "SELECT 'it''s $1' || ?2");
    }

    #[test]
    fn the_sqlite_text_is_made_once() {
        static STATEMENT: Sql = Sql::new("SELECT $1");
        assert_eq!(STATEMENT.sqlite(), "SELECT ?1");
        assert!(std::ptr::eq(STATEMENT.sqlite(), STATEMENT.sqlite()));
        assert_eq!(STATEMENT.postgres(), "SELECT $1");
    }
}
