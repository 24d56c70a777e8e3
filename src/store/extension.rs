//! The store as your own endpoints see it (`examples/notes.rs`): SQL with `$1, $2…` placeholders
//! (PostgreSQL's; rewritten for SQLite), the store's own [`Value`] for parameters and columns, and
//! migrations declared once per backend. No driver type appears, so the same endpoint runs on
//! either database.

use rusqlite::types::ValueRef;

use super::sql::{Param, sqlite_placeholders};
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
        match self {
            Tx::Sqlite(conn, _) => {
                let changed =
                    conn.prepare_cached(&sqlite_placeholders(sql))?.execute(rusqlite::params_from_iter(params))?;
                Ok(changed as u64)
            }
            Tx::Postgres(session, _) => session.run(sql, &as_params(params)),
        }
    }

    /// Runs one query; returns every row.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self {
            Tx::Sqlite(conn, _) => {
                let mut statement = conn.prepare_cached(&sqlite_placeholders(sql))?;
                let columns = statement.column_count();
                let rows = statement.query_map(rusqlite::params_from_iter(params), |row| {
                    (0..columns).map(|i| row.get_ref(i).map(value_of)).collect::<rusqlite::Result<Vec<_>>>().map(Row)
                })?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }
            Tx::Postgres(session, _) => {
                let rows = session.query(sql, &as_params(params))?;
                rows.iter()
                    .map(|row| (0..row.len()).map(|i| pg_value(row, i)).collect::<Result<_, _>>().map(Row))
                    .collect()
            }
        }
    }

    /// Runs one query; returns its first row, if any.
    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Applies the steps of `migrations` this database has not recorded yet, in version order,
    /// each in the text for this backend.
    pub fn apply_migrations(&self, migrations: &[Migration]) -> Result<(), StoreError> {
        let mut steps = migrations.to_vec();
        steps.sort_by_key(|step| (step.name, step.version));
        for step in steps {
            let done = self.query_one(
                "SELECT 1 FROM extension_migrations WHERE name = $1 AND version = $2",
                &[step.name.into(), step.version.into()],
            )?;
            if done.is_none() {
                match self {
                    Tx::Sqlite(conn, _) => conn.execute_batch(step.sqlite)?,
                    Tx::Postgres(session, _) => session.batch(step.postgres)?,
                }
                self.execute(
                    "INSERT INTO extension_migrations (name, version) VALUES ($1, $2)",
                    &[step.name.into(), step.version.into()],
                )?;
            }
        }
        Ok(())
    }
}

fn as_params(params: &[Value]) -> Vec<&dyn Param> {
    params.iter().map(|value| value as &dyn Param).collect()
}

/// A PostgreSQL column as a [`Value`], by its type: integers of any width, floats, text, bytes;
/// a boolean as 0 or 1 (as SQLite stores one); anything else as its text, if it has one.
fn pg_value(row: &postgres::Row, index: usize) -> Result<Value, StoreError> {
    use postgres::types::Type;
    let ty = row.columns()[index].type_().clone();
    let value = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Value::Integer),
        Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(|n| Value::Integer(n.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map(|n| Value::Integer(n.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(|b| Value::Integer(b.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map(Value::Real),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(index)?.map(|x| Value::Real(x.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index)?.map(Value::Blob),
        _ => row.try_get::<_, Option<String>>(index)?.map(Value::Text),
    };
    Ok(value.unwrap_or(Value::Null))
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            // PostgreSQL infers a parameter's type from where it stands: an integer bound where
            // an INTEGER, SMALLINT or float is expected is sent as that.
            Value::Integer(n) => match *ty {
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Real(x) => x.to_sql(ty, out),
            Value::Text(text) => text.to_sql(ty, out),
            Value::Blob(bytes) => bytes.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
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

#[cfg(test)]
mod tests {
    use super::*;

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
