//! The PostgreSQL schema, migrated at start-up. Instances starting together take turns on the
//! `gpt_todo_schema` row, held `FOR UPDATE` (a row lock: SPEC rules out advisory-lock-only
//! correctness, since not every PostgreSQL-wire engine honours those locks). On an empty database
//! there is no row to lock yet: both create the schema in one transaction each, and the loser's
//! duplicate (SQLSTATE 23505 on the catalog, or 42P07) means "already migrated".

use super::Session;
use crate::store::StoreError;

/// The PostgreSQL migrations: (the schema version it brings the database to, its text). The
/// numbering mirrors SQLite's `PRAGMA user_version`; the first step creates the schema as SQLite's
/// stands at version 11.
const MIGRATIONS: &[(i32, &str)] = &[(11, include_str!("../../../migrations/postgres/0001_schema.sql"))];

/// The newest version this gpt-todo knows.
fn known() -> i32 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// Brings the database up to [`known`], or refuses it untouched.
pub fn run(session: &Session) -> Result<(), StoreError> {
    if !has_schema_table(session)? {
        let foreign = session
            .query("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()", &[])?;
        let count: i64 = foreign.first().map_or(Ok(0), |row| row.try_get(0))?;
        if count > 0 {
            return Err(StoreError::Other(
                "the PostgreSQL database holds tables that are not gpt-todo's (no gpt_todo_schema): \
                 give gpt-todo an empty database of its own"
                    .into(),
            ));
        }
        match create(session) {
            // Another instance created it meanwhile: go on as on a migrated database.
            Ok(()) | Err(StoreError::UniqueViolation(_)) => {}
            Err(StoreError::Other(message)) if message.contains("42P07") => {}
            Err(e) => return Err(e),
        }
    }
    session.batch("BEGIN")?;
    let migrated = upgrade(session);
    let end = if migrated.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = session.batch(end);
    migrated.and(ended)
}

fn has_schema_table(session: &Session) -> Result<bool, StoreError> {
    let rows = session.query("SELECT to_regclass('gpt_todo_schema') IS NOT NULL", &[])?;
    Ok(rows.first().map_or(Ok(false), |row| row.try_get(0))?)
}

/// The whole first schema in one transaction: PostgreSQL's DDL is transactional, so a half-made
/// schema never exists.
fn create(session: &Session) -> Result<(), StoreError> {
    let (_, first) = MIGRATIONS[0];
    session.batch("BEGIN")?;
    let created = session.batch(first);
    let end = if created.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = session.batch(end);
    created.and(ended)
}

/// Inside a transaction: locks the version row, refuses a newer schema, applies what is missing.
fn upgrade(session: &Session) -> Result<(), StoreError> {
    let rows = session.query("SELECT version FROM gpt_todo_schema FOR UPDATE", &[])?;
    let Some(row) = rows.first() else {
        return Err(StoreError::Other("gpt_todo_schema has no row: this database was not made by gpt-todo".into()));
    };
    let current: i32 = row.try_get(0)?;
    if current > known() {
        return Err(StoreError::Other(format!(
            "the database has schema version {current}, newer than this gpt-todo {} knows ({}): a newer release \
             upgraded it. Downgrades are not supported: run that release",
            env!("CARGO_PKG_VERSION"),
            known()
        )));
    }
    for (version, text) in MIGRATIONS.iter().skip(1).filter(|(version, _)| *version > current) {
        session.batch(text)?;
        session.run("UPDATE gpt_todo_schema SET version = $1", &[version])?;
    }
    Ok(())
}
