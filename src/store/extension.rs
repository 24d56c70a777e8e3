//! The store as your own endpoints see it (`examples/notes.rs`): SQL with `$1, $2…` placeholders
//! (PostgreSQL's; rewritten for SQLite), the store's own [`Value`] for parameters and columns, and
//! migrations declared once per backend. No driver type appears, so the same endpoint runs on
//! either database.

use rusqlite::types::ValueRef;

use super::{StoreError, Tx};

/// A parameter or a column's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Integer(n)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// One row of a result, its columns in the order the statement names them.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(Vec<Value>);

impl Row {
    /// A row of these values (for tests, and for a backend building its rows).
    pub fn of(values: Vec<Value>) -> Row {
        Row(values)
    }

    /// The column at `index` (`Null` past the end).
    pub fn get(&self, index: usize) -> &Value {
        self.0.get(index).unwrap_or(&Value::Null)
    }

    /// The column as an integer, if it is one.
    pub fn integer(&self, index: usize) -> Option<i64> {
        match self.get(index) {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The column as text, if it is text.
    pub fn text(&self, index: usize) -> Option<&str> {
        match self.get(index) {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// One step of an extension's schema, with its text for each backend. Steps are applied in
/// `version` order, once each, and recorded in `extension_migrations` by `name` and `version`, so
/// start-up can tell an extension's tables from foreign ones.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The extension's name, the same for all its steps (e.g. `"notes"`).
    pub name: &'static str,
    /// 1, 2, 3… in the order they apply.
    pub version: i64,
    /// The step for SQLite.
    pub sqlite: &'static str,
    /// The step for PostgreSQL.
    pub postgres: &'static str,
}

impl<'a> Tx<'a> {
    /// Runs one statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let conn = self.sqlite();
        let changed = conn.prepare_cached(&sqlite_placeholders(sql))?.execute(rusqlite::params_from_iter(params))?;
        Ok(changed as u64)
    }

    /// Runs one query; returns every row.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let conn = self.sqlite();
        let mut statement = conn.prepare_cached(&sqlite_placeholders(sql))?;
        let columns = statement.column_count();
        let rows = statement.query_map(rusqlite::params_from_iter(params), |row| {
            (0..columns).map(|i| row.get_ref(i).map(value_of)).collect::<rusqlite::Result<Vec<_>>>().map(Row)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Runs one query; returns its first row, if any.
    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Applies the steps of `migrations` this database has not recorded yet, in version order.
    pub fn apply_migrations(&self, migrations: &[Migration]) -> Result<(), StoreError> {
        let mut steps = migrations.to_vec();
        steps.sort_by_key(|step| (step.name, step.version));
        for step in steps {
            let done = self.query_one(
                "SELECT 1 FROM extension_migrations WHERE name = $1 AND version = $2",
                &[step.name.into(), step.version.into()],
            )?;
            if done.is_none() {
                self.sqlite().execute_batch(step.sqlite)?;
                self.execute(
                    "INSERT INTO extension_migrations (name, version) VALUES ($1, $2)",
                    &[step.name.into(), step.version.into()],
                )?;
            }
        }
        Ok(())
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput::Borrowed;
        Ok(Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(n) => ValueRef::Integer(*n),
            Value::Real(x) => ValueRef::Real(*x),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
            Value::Blob(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

fn value_of(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        ValueRef::Real(x) => Value::Real(x),
        ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}

/// `$1` → `?1`, outside string literals and quoted names: SQLite reads `?NNN` as the same numbered
/// parameter PostgreSQL's `$NNN` is.
fn sqlite_placeholders(sql: &str) -> String {
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
    fn an_extension_runs_its_own_sql_and_its_steps_once() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrate(&conn).unwrap();
        let tx = Tx::sqlite_at(&conn, &crate::support::clock::Clock::system());
        let steps = [Migration {
            name: "notes",
            version: 1,
            sqlite: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
            postgres: "CREATE TABLE notes (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, text TEXT NOT NULL)",
        }];
        tx.apply_migrations(&steps).unwrap();
        tx.apply_migrations(&steps).unwrap();
        assert_eq!(tx.execute("INSERT INTO notes (text) VALUES ($1)", &["hi".into()]).unwrap(), 1);
        let row = tx.query_one("SELECT id, text FROM notes WHERE text = $1", &["hi".into()]).unwrap().unwrap();
        assert_eq!((row.integer(0), row.text(1)), (Some(1), Some("hi")));
        let recorded = tx.query("SELECT name, version FROM extension_migrations", &[]).unwrap();
        assert_eq!(recorded, vec![Row(vec!["notes".into(), Value::Integer(1)])]);
    }
}
