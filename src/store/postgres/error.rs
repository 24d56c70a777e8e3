//! PostgreSQL's errors as the store's one [`StoreError`], by SQLSTATE (PostgreSQL docs, Appendix
//! A "PostgreSQL Error Codes").

use postgres::error::SqlState;

use crate::store::StoreError;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        let Some(code) = e.code() else {
            // No SQLSTATE: the connection failed or was closed (an I/O error, a timeout) unless
            // the driver refused a value itself (a type mismatch: a fault of ours).
            return if e.is_closed() || is_io(&e) {
                StoreError::Unavailable(format!("the database is unreachable: {e}"))
            } else {
                StoreError::Other(format!("database driver: {e}"))
            };
        };
        let message = e.as_db_error().map_or_else(|| e.to_string(), |db| db.message().to_owned());
        match code {
            c if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
                StoreError::Serialization(message)
            }
            c if *c == SqlState::UNIQUE_VIOLATION => StoreError::UniqueViolation(message),
            c if is_unavailable(c.code()) => StoreError::Unavailable(format!("the database cannot serve: {message}")),
            c => StoreError::Other(format!("database error {}: {message}", c.code())),
        }
    }
}

/// Class 08 (connection exception), 53 (insufficient resources: disk full, too many
/// connections), 57 (operator intervention: shutdown, `statement_timeout`'s 57014 query
/// canceled), and 58 (system error: I/O): the database cannot take work now, a `503`.
fn is_unavailable(code: &str) -> bool {
    ["08", "53", "57", "58"].iter().any(|class| code.starts_with(class))
}

fn is_io(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_resource_and_shutdown_classes_are_unavailable() {
        for code in ["08006", "53100", "53300", "57P01", "57014", "58030"] {
            assert!(is_unavailable(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "22P02"] {
            assert!(!is_unavailable(code), "{code}");
        }
    }
}
