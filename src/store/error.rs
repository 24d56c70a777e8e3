//! The one error a store job can fail with. Domain outcomes (a refusal, a 404, a 429) are never
//! errors here: they travel inside the job's value, so a `StoreError` always reaches the code that
//! turns it into a response (and, on PostgreSQL, a serialization failure reaches the retry loop).

use crate::store::sqlite::DbError;

/// Why a store job could not be done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot take work right now (a full disk, an I/O error, the writer or the
    /// connection gone): a `503` with `Retry-After`; trying again later may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// A row with this key already exists (a unique or primary-key constraint).
    #[error("unique violation: {0}")]
    UniqueViolation(String),
    /// The transaction lost a race with another one and can be run again as a whole.
    #[error("serialization failure: {0}")]
    Serialization(String),
    /// Anything else: a server fault, logged once where it becomes a response.
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// True when the job itself was refused for a duplicate key, so a caller may say which.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::UniqueViolation(_))
    }

    /// True when the same job may succeed later: the database was away, or the transaction lost
    /// a race. Such an error undoes the whole job; any other is the statement's final answer.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Serialization(_))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode;
        let code = e.sqlite_error().map(|failure| (failure.code, failure.extended_code));
        match code {
            // SQLITE_CONSTRAINT_PRIMARYKEY (1555) and SQLITE_CONSTRAINT_UNIQUE (2067).
            Some((ErrorCode::ConstraintViolation, 1555 | 2067)) => StoreError::UniqueViolation(e.to_string()),
            Some((
                ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::ReadOnly
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::NotADatabase
                | ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::OutOfMemory,
                _,
            )) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Other(e.to_string()),
        }
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> StoreError {
        match e {
            DbError::Sqlite(e) => StoreError::from(e),
            DbError::Unavailable(reason) => StoreError::Unavailable(reason),
            DbError::WriterGone => StoreError::Unavailable(e.to_string()),
            DbError::Pool(e) => StoreError::Unavailable(format!("no database connection: {e}")),
            other => StoreError::Other(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_key_is_a_unique_violation_and_a_syntax_error_is_other() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('a')").unwrap();
        let duplicate = conn.execute("INSERT INTO t VALUES ('a')", []).unwrap_err();
        assert!(StoreError::from(duplicate).is_unique_violation());
        let bad = conn.execute("INSERT INTO nowhere VALUES (1)", []).unwrap_err();
        assert!(matches!(StoreError::from(bad), StoreError::Other(_)));
    }
}
